import { DataSource, QueryRunner } from 'typeorm';
import { DatabaseAvailability } from './errors';

/**
 * The gateway talks to PostgreSQL in plain SQL through TypeORM's pool and transactions: the payment state
 * machine depends on row locks, conditional updates and unique constraints, which read best as SQL.
 * TypeORM also owns the migrations (the only way the schema changes).
 */
export interface Sql {
  many<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  one<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T | undefined>;
}

async function records<T>(runner: QueryRunner, text: string, params: unknown[] = []): Promise<T[]> {
  const result = await runner.query(text, params, true);
  return (result.records ?? []) as T[];
}

class RunnerSql implements Sql {
  constructor(private readonly runner: QueryRunner) {}
  many<T>(text: string, params?: unknown[]): Promise<T[]> {
    return records<T>(this.runner, text, params);
  }
  async one<T>(text: string, params?: unknown[]): Promise<T | undefined> {
    return (await this.many<T>(text, params))[0];
  }
}

export class Database implements Sql {
  constructor(
    readonly dataSource: DataSource,
    /** Told the outcome of every call, so an outage is noticed (and logged) once. */
    readonly availability: DatabaseAvailability = new DatabaseAvailability(),
  ) {}

  /** Runs one call, telling `availability` whether the database answered. */
  private async observed<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.availability.succeeded();
      return result;
    } catch (error) {
      this.availability.failed(error);
      throw error;
    }
  }

  many<T>(text: string, params?: unknown[]): Promise<T[]> {
    return this.observed(async () => {
      const runner = this.dataSource.createQueryRunner();
      try {
        return await records<T>(runner, text, params);
      } finally {
        await runner.release();
      }
    });
  }

  async one<T>(text: string, params?: unknown[]): Promise<T | undefined> {
    return (await this.many<T>(text, params))[0];
  }

  /**
   * Runs `work` in one READ COMMITTED transaction. Everything inside must use `tx`, never `this`: the
   * embedded database has a single connection, and a query outside the transaction would wait on it forever.
   */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    return this.observed(() =>
      this.dataSource.transaction('READ COMMITTED', (manager) => {
        if (!manager.queryRunner) throw new Error('TypeORM transaction without a query runner');
        return work(new RunnerSql(manager.queryRunner));
      }),
    );
  }

  async ping(): Promise<boolean> {
    try {
      await this.one('SELECT 1 AS ok');
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Runs an optional step of a transaction so that its failure does not doom the rest: PostgreSQL aborts the
 * whole transaction on any error, unless the step ran under a savepoint that is rolled back.
 */
export async function withSavepoint<T>(tx: Sql, name: string, step: () => Promise<T>): Promise<T> {
  await tx.many(`SAVEPOINT ${name}`);
  try {
    const result = await step();
    await tx.many(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (error) {
    await tx.many(`ROLLBACK TO SAVEPOINT ${name}`);
    throw error;
  }
}
