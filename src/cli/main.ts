#!/usr/bin/env node
import 'reflect-metadata';
import { createGateway, Gateway } from '../app/context';
import { AUDIT_CHAIN_KEY_LABEL } from '../audit/trail';
import { Config, Env, loadConfig } from '../config';
import { resolveKeyMaterial } from '../config/key-material';
import { connectDatabase } from '../db/connect';
import type { Database } from '../db/database';
import { createLogger } from '../http/logger';
import { BlindIndex } from '../privacy/keyring';
import { auditChainKey } from '../staff/settings';
import { AUDIT_USAGE, runAuditCommand } from './audit';
import { BLOCKLIST_USAGE, runBlocklistCommand } from './blocklist';
import { ERASURES_USAGE, runErasuresCommand } from './erasures';
import { KEYS_USAGE, runKeysCommand } from './keys';
import { MIGRATE_USAGE, runMigrateCommand } from './migrate';
import { OPS_USAGE, runOpsCommand } from './ops';
import { RECONCILE_USAGE, runReconcileCommand } from './reconcile';
import { runTokenCommand, TOKEN_USAGE } from './token';

/** What every command is given: the environment its settings are read from (tests pass their own). */
export interface CliDeps {
  env: Env;
}

export interface Command {
  name: string;
  /** One line for `kalos --help`. */
  summary: string;
  /** What `kalos <name> --help` prints. */
  usage: string;
  /** Returns what is printed on stdout; a thrown error's message goes to stderr with exit status 1. */
  run(args: string[], deps: CliDeps): Promise<string>;
}

/**
 * Runs `work` on a whole gateway (migrated database, keys, providers, Redis) and closes it, whatever happens.
 * Its log lines go to stderr, so stdout carries only the command's answer (for scripts and cron mail).
 */
async function withGateway(deps: CliDeps, work: (gateway: Gateway) => Promise<string>): Promise<string> {
  const config = loadConfig(deps.env);
  const gateway = await createGateway(config, { logger: createLogger(config.logLevel, process.stderr) });
  try {
    return await work(gateway);
  } finally {
    await gateway.close();
  }
}

/**
 * Runs `work` on the database alone (migrated) and the blind index, for commands that need no more: they
 * start fast and hold one connection.
 */
async function withDatabase(deps: CliDeps, work: (db: Database, blindIndex: BlindIndex, config: Config) => Promise<string>): Promise<string> {
  const config = loadConfig(deps.env);
  const blindIndex = new BlindIndex(resolveKeyMaterial(config).blindIndexKey);
  const database = await connectDatabase({ url: config.database.url, dataDir: config.dataDir, poolSize: 1, migrate: true });
  try {
    return await work(database.db, blindIndex, config);
  } finally {
    await database.close();
  }
}

/**
 * The commands of `kalos`. To add one, write `src/cli/<name>.ts` exporting `run<Name>Command(args, …)` and its
 * usage text, then add one row here: `kalos --help`, `kalos <name> --help`, the image (`docker run … kalos
 * <name>`) and `npm run kalos -- <name>` all pick it up. Use `withGateway` when the command needs the domain
 * services, `withDatabase` when the database is enough (blocklist, audit).
 */
export const COMMANDS: Command[] = [
  {
    name: 'migrate',
    summary: 'apply pending database migrations, then exit (a release step)',
    usage: MIGRATE_USAGE,
    run: (args, deps) => runMigrateCommand(args, loadConfig(deps.env)),
  },
  {
    name: 'reconcile',
    summary: 'settle payments whose webhook never came, expire unpaid checkouts, purge old keys (cron)',
    usage: RECONCILE_USAGE,
    run: (args, deps) => withGateway(deps, (gateway) => runReconcileCommand(args, gateway)),
  },
  {
    name: 'ops',
    summary: 'staff actions: approve or reject a held payment, refund one',
    usage: OPS_USAGE,
    run: (args, deps) => withGateway(deps, (gateway) => runOpsCommand(args, gateway)),
  },
  {
    name: 'blocklist',
    summary: 'add, remove or list blocked devices, users and IP addresses',
    usage: BLOCKLIST_USAGE,
    run: (args, deps) => withDatabase(deps, (db, hasher) => runBlocklistCommand(args, { db, hasher })),
  },
  {
    name: 'audit',
    summary: 'verify the staff audit trail’s hash chain, or prune old months',
    usage: AUDIT_USAGE,
    run: (args, deps) =>
      withDatabase(deps, (db, blindIndex, config) =>
        runAuditCommand(args, { db, chainKey: auditChainKey(config.staff, blindIndex, AUDIT_CHAIN_KEY_LABEL), retentionMonths: config.staff.auditRetentionMonths }),
      ),
  },
  {
    name: 'keys',
    summary: 'master-key rotation (status, rewrap) and blind-index re-keying',
    usage: KEYS_USAGE,
    run: (args, deps) => withGateway(deps, (gateway) => runKeysCommand(args, { ...gateway, env: deps.env })),
  },
  {
    name: 'erasures',
    summary: 'finish erasures that waited for a dispute or refund to close',
    usage: ERASURES_USAGE,
    run: (args, deps) => withGateway(deps, (gateway) => runErasuresCommand(args, gateway)),
  },
  {
    name: 'token',
    summary: 'an app token from the embedded identity (laptop and test instances only)',
    usage: TOKEN_USAGE,
    run: (args, deps) => runTokenCommand(args, loadConfig(deps.env)),
  },
];

const HELP_FLAGS = new Set(['--help', '-h', 'help']);

export function topLevelUsage(commands: Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'usage: kalos <command> [arguments]      (settings come from the environment, as for the gateway)',
    '',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'kalos <command> --help shows what a command takes.',
  ].join('\n');
}

/** Dispatches one command line; `kalos`, `kalos --help` and `kalos <command> --help` print usage and do nothing else. */
export async function runKalos(argv: string[], deps: CliDeps, commands: Command[] = COMMANDS): Promise<string> {
  const [name, ...args] = argv;
  if (name === undefined || HELP_FLAGS.has(name)) return topLevelUsage(commands);
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) throw new Error(`kalos: unknown command "${name}"\n\n${topLevelUsage(commands)}`);
  if (args.some((arg) => arg === '--help' || arg === '-h')) return command.usage;
  return command.run(args, deps);
}

if (require.main === module) {
  runKalos(process.argv.slice(2), { env: process.env }).then(
    (output) => {
      if (output) process.stdout.write(`${output}\n`);
    },
    (error) => {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
