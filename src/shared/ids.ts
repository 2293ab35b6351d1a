import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 20;
/** Bytes at or above this would make some characters likelier than others (256 is not a multiple of 62). */
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

/** Opaque, unguessable ids with a type prefix (`pay_…`, `evt_…`, `re_…`): 20 uniform base62 characters ≈ 119 bits. */
export function newId(prefix: string): string {
  let out = '';
  while (out.length < ID_LENGTH) {
    for (const byte of randomBytes(ID_LENGTH)) {
      if (byte < UNBIASED_LIMIT && out.length < ID_LENGTH) out += ALPHABET[byte % ALPHABET.length];
    }
  }
  return `${prefix}_${out}`;
}
