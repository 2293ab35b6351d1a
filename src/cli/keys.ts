import { parseArgs } from 'node:util';
import type { Gateway } from '../app/context';
import { BlindIndex, MasterKeyring } from '../privacy/keyring';
import { rehashBlindIndex } from '../privacy/rehash';
import { dataKeysByMasterKey, rewrapSubjectKeys } from '../privacy/rewrap';

export const KEYS_USAGE = [
  'usage: kalos keys status                      how many data keys each master key wraps',
  '       kalos keys rewrap [--batch-size N]     re-wrap every data key under the active (first) key of ENCRYPTION_KEYS',
  '       kalos keys rehash-blind-index          gateways stopped: move every hash from BLIND_INDEX_KEY to BLIND_INDEX_KEY_NEXT',
].join('\n');

export type KeysDeps = Pick<Gateway, 'db' | 'keys' | 'vault' | 'blindIndex'> & {
  /** Where BLIND_INDEX_KEY_NEXT is read from: the environment, never an argument (which shell history keeps). */
  env: Record<string, string | undefined>;
};

/** The new blind-index key, validated like BLIND_INDEX_KEY. */
function nextBlindIndex(env: KeysDeps['env']): BlindIndex {
  const text = env.BLIND_INDEX_KEY_NEXT?.trim();
  if (!text) throw new Error('BLIND_INDEX_KEY_NEXT must hold the new blind-index key (base64, at least 32 bytes)');
  return new BlindIndex(Buffer.from(text, 'base64'));
}

const DEFAULT_BATCH_SIZE = 500;

/**
 * Key rotation (docs/data-lifecycle.md). Master keys: put the new key first in ENCRYPTION_KEYS, keeping
 * the old ones after it, restart, run `rewrap`; once it reports 0 remaining, remove the old keys. Safe to
 * run while the gateway serves, and again after an interruption. The blind-index key: with the gateways
 * stopped, `rehash-blind-index`, then start them with the new key.
 */
export async function runKeysCommand(args: string[], gateway: KeysDeps): Promise<string> {
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
    case 'rehash-blind-index': {
      const outcome = await rehashBlindIndex({ db: gateway.db, vault: gateway.vault, keyring, from: gateway.blindIndex, to: nextBlindIndex(gateway.env) });
      return [
        `rehashed ${outcome.rehashed} subjects (${outcome.alreadyDone} were done already, ${outcome.unreadable} have no readable payment left)`,
        `deleted ${outcome.idempotencyKeysDeleted} idempotency keys and ${outcome.blocklistEntriesDeleted} blocklist entries: re-enter the blocklist from its source`,
        'now set BLIND_INDEX_KEY to the new key and start the gateways',
      ].join('\n');
    }
    default:
      throw new Error(KEYS_USAGE);
  }
}
