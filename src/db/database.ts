import { createHash } from 'node:crypto';
import { DatabaseError as PgDatabaseError } from 'pg';
import type { Pool, PoolClient, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { DatabaseAvailability } from './errors';

/**
 * The gateway talks to PostgreSQL in plain SQL: the payment state machine depends on row locks, conditional
 * updates and unique constraints, which read best as SQL. TypeORM owns the migrations (the only way the
 * schema changes) and the pool; queries go to the pg driver's clients of that same pool, because TypeORM's
 * `query()` cannot name a statement, and a named statement is parsed and planned once per connection
 * instead of on every call (about half of a hot query's server time).
 */
export interface Sql {
  many<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  one<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T | undefined>;
}

/**
 * A statement's parameters, numbered as its text is written: fragments shared between statements (the
 * payment-state SET list) can then be composed without agreeing on `$n` positions. The text stays the
 * same for the same composition, so it keeps its prepared-statement name.
 */
export class Params {
  readonly values: unknown[] = [];

  /** The placeholder of `value`: `$n`, with `cast` appended (e.g. `::text`). */
  add(value: unknown, cast = ''): string {
    this.values.push(value);
    return `$${this.values.length}${cast}`;
  }
}

type Queryable = Pick<PoolClient, 'query'>;

const statementNames = new Map<string, string>();

/**
 * Statements with parameters are the application's own fixed texts, so each gets a stable name from its
 * text: the same text always maps to the same prepared statement. Parameterless ones (BEGIN, COMMIT, DDL
 * in tests) stay unnamed, so nothing ad hoc accumulates in a connection's statement cache.
 */
function statement(text: string, params: unknown[]): QueryConfig {
  if (params.length === 0) return { text };
  let name = statementNames.get(text);
  if (!name) {
    name = `k${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: params };
}

/** Counts every statement sent, i.e. every round trip to the server: the round-trip test and `npm run bench` read it. */
export class RoundTrips {
  count = 0;
}

async function send<T>(target: Queryable, trips: RoundTrips, text: string, params: unknown[] = []): Promise<T[]> {
  trips.count += 1;
  const result = await target.query(statement(text, params));
  return result.rows as T[];
}

class ClientSql implements Sql {
  constructor(
    private readonly client: PoolClient,
    private readonly trips: RoundTrips,
  ) {}
  many<T>(text: string, params?: unknown[]): Promise<T[]> {
    return send<T>(this.client, this.trips, text, params);
  }
  async one<T>(text: string, params?: unknown[]): Promise<T | undefined> {
    return (await this.many<T>(text, params))[0];
  }
}

export class Database implements Sql {
  readonly roundTrips = new RoundTrips();
  private readonly pool: Pool;

  constructor(
    readonly dataSource: DataSource,
    /** Told the outcome of every call, so an outage is noticed (and logged) once. */
    readonly availability: DatabaseAvailability = new DatabaseAvailability(),
  ) {
    // TypeORM's postgres driver keeps its pg Pool as `master`; sharing it keeps one pool size and one set of connections.
    this.pool = (dataSource.driver as unknown as { master: Pool }).master;
  }

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

  /**
   * One statement on any pooled connection, in its own implicit transaction. Not `pool.query`: that
   * destroys the connection on every error, even a statement PostgreSQL merely refused, and on the
   * embedded database (one backend behind its socket) a reconnect drops requests in flight.
   */
  many<T>(text: string, params?: unknown[]): Promise<T[]> {
    return this.observed(async () => {
      const client = await this.pool.connect();
      try {
        const rows = await send<T>(client, this.roundTrips, text, params);
        client.release();
        return rows;
      } catch (error) {
        // The server answered with an error (SQLSTATE): the connection is fine. Anything else may have broken it.
        client.release(error instanceof PgDatabaseError ? undefined : (error as Error));
        throw error;
      }
    });
  }

  async one<T>(text: string, params?: unknown[]): Promise<T | undefined> {
    return (await this.many<T>(text, params))[0];
  }

  /**
   * Runs `work` in one READ COMMITTED transaction (BEGIN names the level: one round trip, no session SET).
   * Everything inside must use `tx`, never `this`: the embedded database has a single connection, and a
   * query outside the transaction would wait on it forever.
   */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    return this.observed(async () => {
      const client = await this.pool.connect();
      const tx = new ClientSql(client, this.roundTrips);
      try {
        await tx.many('BEGIN ISOLATION LEVEL READ COMMITTED');
        const result = await work(tx);
        await tx.many('COMMIT');
        client.release();
        return result;
      } catch (error) {
        // A connection that cannot even roll back is broken: destroy it rather than hand it to the next caller.
        const broken = await tx.many('ROLLBACK').then(() => undefined, (rollbackError: Error) => rollbackError);
        client.release(broken);
        throw error;
      }
    });
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
