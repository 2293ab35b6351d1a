import { parseArgs } from 'node:util';
import { createGateway, Gateway } from '../app/context';
import { loadConfig } from '../config';
import { MasterKeyring } from '../privacy/keyring';
import { dataKeysByMasterKey, rewrapSubjectKeys } from '../privacy/rewrap';

export const KEYS_USAGE = [
  'usage: npm run keys -- status                      how many data keys each master key wraps',
  '       npm run keys -- rewrap [--batch-size N]     re-wrap every data key under the active (first) key of ENCRYPTION_KEYS',
].join('\n');

const DEFAULT_BATCH_SIZE = 500;

/**
 * Master key rotation (docs/data-lifecycle.md): put the new key first in ENCRYPTION_KEYS, keeping the old
 * ones after it, restart, run `rewrap`; once it reports 0 remaining, remove the old keys. Safe to run
 * while the gateway serves, and again after an interruption.
 */
export async function runKeysCommand(args: string[], gateway: Pick<Gateway, 'db' | 'keys'>): Promise<string> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { 'batch-size': { type: 'string' } } });
  const keyring = new MasterKeyring(gateway.keys.masterKeys);
  switch (positionals.length === 1 ? positionals[0] : undefined) {
    case 'status': {
      const rows = await dataKeysByMasterKey(gateway.db);
      const lines = rows.map((row) => `${row.master_key_id}: ${row.data_keys} data keys${row.master_key_id === keyring.activeId ? ' (active)' : ''}`);
      return lines.length > 0 ? lines.join('\n') : 'no data keys stored yet';
    }
    case 'rewrap': {
      const batchSize = values['batch-size'] === undefined ? DEFAULT_BATCH_SIZE : Number(values['batch-size']);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw new Error('--batch-size takes a whole number from 1 to 100000');
      const { rewrapped, remaining } = await rewrapSubjectKeys(gateway.db, keyring, { batchSize });
      const next = remaining === 0 ? `master keys other than ${keyring.activeId} now wrap nothing and can be removed` : 'run it again to finish';
      return `rewrapped ${rewrapped} data keys under ${keyring.activeId}; ${remaining} remaining: ${next}`;
    }
    default:
      throw new Error(KEYS_USAGE);
  }
}

async function main() {
  const gateway = await createGateway(loadConfig());
  try {
    console.log(await runKeysCommand(process.argv.slice(2), gateway));
  } finally {
    await gateway.close();
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
