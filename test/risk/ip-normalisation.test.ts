import { normaliseIp } from '../../src/risk/geo';
import { toBlocklistEntry } from '../../src/risk/blocklist';
import { testHasher } from './support';

describe('IP addresses are spelled one way before they are hashed', () => {
  it.each([
    ['2001:db8:0:0::1', '2001:db8::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['203.0.113.7', '203.0.113.7'],
  ])('%s → %s', (given, canonical) => {
    expect(normaliseIp(given)).toBe(canonical);
  });

  it('a blocklist entry typed in a long form matches the address as a request reports it', () => {
    expect(toBlocklistEntry('ip', '2001:db8:0:0::1', testHasher)).toEqual(toBlocklistEntry('ip', '2001:db8::1', testHasher));
  });
});
