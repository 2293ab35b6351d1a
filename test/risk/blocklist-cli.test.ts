import { runBlocklistCommand } from '../../src/cli/blocklist';
import { matchLists } from '../../src/risk/blocklist';
import { startTestGateway, TestGateway } from '../support/gateway';

/** `kalos blocklist` on a real database: what it stores, what it matches, what `list` can show. */
let kalos: TestGateway;
beforeAll(async () => {
  kalos = await startTestGateway();
});
afterAll(() => kalos?.stop());

const run = (...args: string[]) => runBlocklistCommand(args, { db: kalos.gateway.db, hasher: kalos.gateway.blindIndex });
const matches = (ip: string, user = 'nobody', device = 'no-device') =>
  matchLists(kalos.gateway.db, {
    userHash: kalos.gateway.blindIndex.hash('user', user),
    deviceHash: kalos.gateway.blindIndex.hash('device', device),
    ipHash: kalos.gateway.blindIndex.hash('ip', ip),
    ip,
  });

test('adds, lists (hashes only for personal values), matches and removes entries', async () => {
  expect(await run('list')).toBe('the blocklist is empty');
  expect(await run('add', 'user', 'alice', 'chargeback', 'ring')).toBe('added user (stored as its keyed hash)');
  expect(await run('add', 'user', 'alice')).toBe('already listed: user (stored as its keyed hash)');
  expect(await run('add', 'device', 'phone-9')).toBe('added device (stored as its keyed hash)');
  expect(await run('add', 'ip', '203.0.113.7')).toBe('added ip (stored as its keyed hash)');
  expect(await run('add', 'ip', '198.51.100.0/24')).toBe('added 198.51.100.0/24');
  expect(await run('add', 'ip', '2001:db8::/32')).toBe('added 2001:db8::/32');

  const listed = await run('list');
  for (const raw of ['alice', 'phone-9', '203.0.113.7']) expect(listed).not.toContain(raw);
  expect(listed).toContain('198.51.100.0/24');
  expect(listed).toContain('chargeback ring');
  expect((await run('list', 'user')).split('\n')).toHaveLength(1);

  expect(await matches('203.0.113.7', 'alice', 'phone-9')).toMatchObject({ user: true, device: true, ip: true });
  expect(await matches('198.51.100.200')).toMatchObject({ ip: true, user: false, device: false });
  expect(await matches('2001:db8:1::5')).toMatchObject({ ip: true });
  expect(await matches('198.51.101.1')).toMatchObject({ ip: false });

  expect(await run('remove', 'ip', '198.51.100.0/24')).toBe('removed 198.51.100.0/24');
  expect(await run('remove', 'user', 'alice')).toBe('removed user (stored as its keyed hash)');
  expect(await run('remove', 'user', 'alice')).toBe('not listed: user (stored as its keyed hash)');
  expect(await matches('198.51.100.200', 'alice')).toMatchObject({ ip: false, user: false });
});

test('a /32 is a single address and is stored hashed', async () => {
  expect(await run('add', 'ip', '192.0.2.1/32')).toBe('added ip (stored as its keyed hash)');
  expect(await matches('192.0.2.1')).toMatchObject({ ip: true });
});

test('refuses malformed commands and values with the usage or a clear message', async () => {
  await expect(run('add', 'card', 'x')).rejects.toThrow(/^usage: kalos blocklist/);
  await expect(run('add', 'ip', '10.0.0.0/99')).rejects.toThrow('An IP blocklist value is an IPv4/IPv6 address or a CIDR range.');
  await expect(run('add', 'ip', 'not-an-ip')).rejects.toThrow('An IP blocklist value is an IPv4/IPv6 address or a CIDR range.');
  await expect(run()).rejects.toThrow(/^usage/);
});
