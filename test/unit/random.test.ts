import { pooledRandomBytes } from '../../src/shared/random';

describe('pooled random bytes', () => {
  test('hands out every byte once: slices across refills never repeat, and earlier ones never change', () => {
    const first = pooledRandomBytes(12);
    const copyOfFirst = Buffer.from(first);
    const seen = new Set<string>();
    // 2 000 draws of 12 bytes: several refills of the 4 kB pool.
    for (let i = 0; i < 2000; i++) seen.add(pooledRandomBytes(12).toString('hex'));

    expect(seen.size).toBe(2000);
    expect(seen.has(copyOfFirst.toString('hex'))).toBe(false);
    expect(first.equals(copyOfFirst)).toBe(true);
  });

  test('gives exactly the size asked for, also above the pool size', () => {
    expect(pooledRandomBytes(20)).toHaveLength(20);
    expect(pooledRandomBytes(10_000)).toHaveLength(10_000);
  });
});
