import { createHmac, createSecretKey, KeyObject } from 'node:crypto';
import type { Sql } from '../db/database';
import type { PersonalDataVault } from '../privacy/vault';
import { ApiError, notFound } from '../shared/errors';

/** Derived key label for the pseudonyms staff see; a new label gives everyone new pseudonyms. */
export const PSEUDONYM_KEY_LABEL = 'ops-pseudonym-v1';

/**
 * Personal data as staff see it by default: stable keyed pseudonyms (the same user is the same `usr_…` on
 * every payment, so patterns show) that cannot be turned back into the value, nor matched against the
 * database's blind indexes, without the key.
 */
export class Pseudonyms {
  /** A KeyObject: a list of payments derives three pseudonyms per row (see src/privacy/keyring.ts on Buffer keys). */
  private readonly key: KeyObject;

  constructor(key: Buffer) {
    this.key = createSecretKey(key);
  }

  of(kind: 'usr' | 'dev' | 'ip', value: string): string {
    return `${kind}_${createHmac('sha256', this.key).update(`${kind}\u0000${value}`).digest('base64url').slice(0, 12)}`;
  }
}

export interface MaskedPersonalData {
  user: string;
  device: string;
  /** `erased` once the user's data key is gone (erasure): the pseudonym cannot be derived any more. */
  ip: string | null;
  location: 'masked' | null;
}

export interface RevealedPersonalData {
  user_id: string;
  device: unknown;
  ip: string | null;
  location: unknown;
}

interface EncryptedColumns {
  user_hash: string;
  device_hash: string;
  user_id_enc: string;
  device_enc: string;
  ip_enc: string | null;
  location_enc: string | null;
}

async function encryptedColumns(sql: Sql, paymentId: string): Promise<EncryptedColumns> {
  const row = await sql.one<EncryptedColumns>(
    'SELECT user_hash, device_hash, user_id_enc, device_enc, ip_enc, location_enc FROM payments WHERE id = $1',
    [paymentId],
  );
  if (!row) throw notFound('payment');
  return row;
}

/** User and device from their blind indexes; nothing is decrypted. */
export const maskedIdentity = (pseudonyms: Pseudonyms, row: { userHash: string; deviceHash: string }) => ({
  user: pseudonyms.of('usr', row.userHash),
  device: pseudonyms.of('dev', row.deviceHash),
});

/** Undefined when the subject's data key is gone: their data was erased (crypto-shredded), not lost. */
async function openIfKept(sql: Sql, vault: PersonalDataVault, row: EncryptedColumns, column: string, value: string): Promise<string | undefined> {
  try {
    return await vault.decrypt(sql, row.user_hash, `payments.${column}`, value);
  } catch (error) {
    if (await sql.one('SELECT 1 FROM subject_keys WHERE subject_hash = $1', [row.user_hash])) throw error;
    return undefined;
  }
}

const erased = () => new ApiError(410, 'not_found', 'personal_data_erased', "This payment's personal data was erased; only the transaction record is left.");

/** The IP is decrypted only to derive its pseudonym (so two payments from one address show the same one). */
export async function maskedPersonalData(sql: Sql, vault: PersonalDataVault, pseudonyms: Pseudonyms, paymentId: string): Promise<MaskedPersonalData> {
  const row = await encryptedColumns(sql, paymentId);
  const ip = row.ip_enc ? await openIfKept(sql, vault, row, 'ip', row.ip_enc) : null;
  return {
    ...maskedIdentity(pseudonyms, { userHash: row.user_hash, deviceHash: row.device_hash }),
    ip: ip === undefined ? 'erased' : ip && pseudonyms.of('ip', ip),
    location: row.location_enc ? 'masked' : null,
  };
}

/** The plaintext of one payment's personal data; the caller audits the reveal before answering. */
export async function revealPersonalData(sql: Sql, vault: PersonalDataVault, paymentId: string): Promise<RevealedPersonalData> {
  const row = await encryptedColumns(sql, paymentId);
  const open = async (column: string, value: string) => {
    const plaintext = await openIfKept(sql, vault, row, column, value);
    if (plaintext === undefined) throw erased();
    return plaintext;
  };
  return {
    user_id: await open('user_id', row.user_id_enc),
    device: JSON.parse(await open('device', row.device_enc)),
    ip: row.ip_enc ? await open('ip', row.ip_enc) : null,
    location: row.location_enc ? JSON.parse(await open('location', row.location_enc)) : null,
  };
}
