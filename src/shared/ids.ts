import { createHash } from 'node:crypto';
import { pooledRandomBytes } from './random';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 20;
/** Bytes at or above this would make some characters likelier than others (256 is not a multiple of 62). */
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

/** Opaque, unguessable ids with a type prefix (`pay_…`, `evt_…`, `re_…`): 20 uniform base62 characters ≈ 119 bits. */
export function newId(prefix: string): string {
  let out = '';
  while (out.length < ID_LENGTH) {
    for (const byte of pooledRandomBytes(ID_LENGTH)) {
      if (byte < UNBIASED_LIMIT && out.length < ID_LENGTH) out += ALPHABET[byte % ALPHABET.length];
    }
  }
  return `${prefix}_${out}`;
}

/**
 * A stable id of the same shape for something the provider named but we never created (a refund made in its
 * dashboard): the same seed always gives the same id, so recording it again finds the same row.
 */
export function derivedId(prefix: string, seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (const byte of digest) {
    if (byte < UNBIASED_LIMIT && out.length < ID_LENGTH) out += ALPHABET[byte % ALPHABET.length];
  }
  return `${prefix}_${out}`;
}

/**
 * What an id of ours can look like: its prefix, `_`, then up to 64 characters of the id alphabet. Ids taken
 * from a request are checked against it before they reach SQL, so a NUL byte, a quote or a space in one is
 * a 400 that names the parameter, not a database error.
 */
export function idPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}_[${ALPHABET}]{1,64}$`);
}
