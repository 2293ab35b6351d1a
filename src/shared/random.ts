import { randomBytes } from 'node:crypto';

/**
 * Random bytes for ids and nonces, drawn from a pool refilled 4 kB at a time: a request takes a dozen
 * small draws (ids, AES-GCM nonces), and each call into the CSPRNG costs more than the bytes it returns
 * (Node's randomUUID pools its entropy the same way). A refill is a new buffer, so no byte is handed out
 * twice and a slice handed out earlier never changes. Not for key material, which should not sit in a
 * shared buffer.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

export function pooledRandomBytes(size: number): Buffer {
  if (size > POOL_BYTES) return randomBytes(size);
  if (offset + size > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + size);
  offset += size;
  return bytes;
}
