import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import util from 'node:util';
import Redis from 'ioredis';
import { MemoryCounters, RiskCounters } from '../../src/risk/counters';
import { DefaultRiskEngine } from '../../src/risk/engine';
import { explain, JournalEntry } from '../../src/risk/journal';
import { RedisCounters } from '../../src/risk/redis-counters';
import { DEFAULT_RULES_FILE } from '../../src/risk/settings';
import type { RiskInput } from '../../src/risk/types';
import { deleteTestRedisKeys } from '../support/redis';
import { anInput, listsSql, redisExpected, settingsWith, testHasher, testRedisUrl, uniquePrefix } from './support';

function engineOn(counters: RiskCounters, env: Record<string, string> = {}) {
  return new DefaultRiskEngine({ settings: settingsWith(env), hasher: testHasher, counters });
}

const journalOf = (assessment: { journal: unknown }) => assessment.journal as JournalEntry;
const reasonCodes = (assessment: { journal: unknown }) => journalOf(assessment).explanation.reasons.map((reason) => reason.code);

/** The same user and device again, a little later. */
const again = (input: RiskInput, ms: number, overrides: Partial<RiskInput> = {}): RiskInput => ({
  ...input,
  paymentId: `${input.paymentId}_${ms}`,
  attemptId: `${input.attemptId}_${ms}`,
  now: new Date(input.now.getTime() + ms),
  ...overrides,
});

describe('risk engine on in-process counters', () => {
  const engine = engineOn(new MemoryCounters());

  it('allows an unremarkable checkout and journals hashes, never raw identifiers', async () => {
    const input = anInput({ location: { lat: 31.2304, lon: 121.4737 } });
    const assessment = await engine.assess(input, listsSql());
    expect(assessment).toMatchObject({ decision: 'allow', score: 0, failMode: false, blockCode: undefined });
    const journal = JSON.stringify(assessment.journal);
    for (const raw of [input.userId, input.device.id, input.ipAddress, '31.2304', '121.4737']) expect(journal).not.toContain(raw);
    expect(journalOf(assessment).features).toMatchObject({ keys: { user: input.userHash, device: input.device.hash, ip: testHasher.hash('ip', input.ipAddress) } });
    expect(reasonCodes(assessment)).toEqual(['no_risk_signals']);
  });

  it('blocks a minor without guardian consent with the guardian refusal, and allows one with consent', async () => {
    const refused = await engine.assess(anInput({ claims: { minor: true, guardianConsent: false } }), listsSql());
    expect(refused).toMatchObject({ decision: 'block', blockCode: 'guardian_consent_required' });
    expect(reasonCodes(refused)).toEqual(['guardian_consent_required']);
    const consented = await engine.assess(anInput({ claims: { minor: true, guardianConsent: true } }), listsSql());
    expect(consented).toMatchObject({ decision: 'allow', blockCode: undefined });
  });

  it('blocks with payment_blocked when the device is on the blocklist', async () => {
    const assessment = await engine.assess(anInput(), listsSql({ device: true }));
    expect(assessment).toMatchObject({ decision: 'block', blockCode: 'payment_blocked', score: 100 });
  });

  it('counts attempts per user: the sixth in a minute is challenged', async () => {
    const first = anInput();
    const decisions = [];
    for (let i = 0; i < 7; i += 1) decisions.push((await engine.assess(again(first, i * 1000), listsSql())).decision);
    expect(decisions).toEqual(['allow', 'allow', 'allow', 'allow', 'allow', 'challenge', 'challenge']);
  });

  it('sees impossible travel between two checkouts of one user', async () => {
    const shanghai = anInput({ location: { lat: 31.23, lon: 121.47 } });
    await engine.assess(shanghai, listsSql());
    const london = await engine.assess(again(shanghai, 30 * 60_000, { location: { lat: 51.5, lon: -0.12 } }), listsSql());
    expect(london.decision).toBe('review');
    expect(journalOf(london).hits.map((hit) => hit.rule)).toContain('impossible_travel');
    const nextDoor = await engine.assess(again(shanghai, 31 * 60_000, { location: { lat: 51.51, lon: -0.12 } }), listsSql());
    expect(journalOf(nextDoor).hits.map((hit) => hit.rule)).not.toContain('impossible_travel');
  });

  it('keeps the previous location in process memory only sealed', async () => {
    const counters = new MemoryCounters();
    const engine = engineOn(counters);
    const shanghai = anInput({ location: { lat: 31.23, lon: 121.47 } });
    await engine.assess(shanghai, listsSql());
    const held = util.inspect(counters, { depth: Infinity, maxArrayLength: Infinity, maxStringLength: Infinity });
    for (const coordinate of ['31.23', '121.47']) expect(held).not.toContain(coordinate);
    const london = await engine.assess(again(shanghai, 30 * 60_000, { location: { lat: 51.5, lon: -0.12 } }), listsSql());
    expect(journalOf(london).hits.map((hit) => hit.rule)).toContain('impossible_travel');
  });

  it('counts failed payments reported by the webhook path', async () => {
    const input = anInput();
    for (const n of [1, 2, 3]) {
      await engine.paymentStatusChanged({ paymentId: `pay_failed${n}`, userHash: input.userHash, deviceHash: input.device.hash, status: 'failed', at: new Date() });
    }
    const assessment = await engine.assess(input, listsSql());
    expect(journalOf(assessment).features).toMatchObject({ velocity: { user_failed_1h: 3 } });
    expect(assessment.decision).toBe('challenge');
  });

  it('applies the fail mode when the blocklist lookup fails, and says so', async () => {
    const broken = { many: async () => Promise.reject(new Error('db down')), one: async () => Promise.reject(new Error('db down')) };
    const assessment = await engine.assess(anInput(), broken);
    expect(assessment).toMatchObject({ decision: 'review', failMode: true });
    expect(reasonCodes(assessment)).toEqual(['risk_checks_unavailable']);
  });

  it('explains decisions in categories, never with thresholds, rule ids or feature names', async () => {
    const first = anInput();
    for (let i = 0; i < 6; i += 1) await engine.assess(again(first, i), listsSql());
    const assessment = await engine.assess(again(first, 10, { money: { amount: 100_000, currency: 'CNY' } }), listsSql());
    const explanation = explain(journalOf(assessment));
    expect(explanation).toMatchObject({ decision: 'review', automated: true, how_to_contest: expect.any(String) });
    expect(explanation.reasons.map((reason) => reason.code)).toEqual(['payment_frequency', 'payment_amount']);
    const text = JSON.stringify(explanation);
    expect(text).not.toMatch(/\d/);
    for (const leak of ['velocity', 'user_burst', 'large_amount', 'score', 'amount >', 'CNY']) expect(text).not.toContain(leak);
  });
});

describe('rules reload', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'risk-reload-'));
    file = path.join(dir, 'rules.json');
    fs.copyFileSync(DEFAULT_RULES_FILE, file);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('applies the fail mode when an enabled rule cannot be evaluated on the inputs it gets, instead of failing open', async () => {
    const rules = JSON.parse(fs.readFileSync(DEFAULT_RULES_FILE, 'utf8'));
    rules.rules.push({
      id: 'old_android', reason: 'device_integrity', action: 'block', score: 0,
      condition: "device.os == 'Android' && int(device.os_version.split('.')[0]) < 8",
    });
    fs.writeFileSync(file, JSON.stringify(rules));
    const engine = engineOn(new MemoryCounters(), { RISK_RULES_FILE: file });
    const android = (osVersion: string) => anInput({ device: { ...anInput().device, os: 'Android', osVersion } });
    expect((await engine.assess(android('7.1'), listsSql())).decision).toBe('block');
    const shaped = await engine.assess(android('x7.1'), listsSql());
    expect(shaped).toMatchObject({ decision: 'review', failMode: true });
    expect(reasonCodes(shaped)).toContain('risk_checks_unavailable');
    expect((await engine.assess(android('14'), listsSql())).decision).toBe('allow');
  });

  it('keeps the rules in force when the new file is invalid, and takes a valid one', async () => {
    const engine = engineOn(new MemoryCounters(), { RISK_RULES_FILE: file });
    const before = engine.rulesetVersion;
    const rooted = () => anInput({ device: { ...anInput().device, rooted: true } });

    fs.writeFileSync(file, fs.readFileSync(DEFAULT_RULES_FILE, 'utf8').replace('"condition": "device.rooted"', '"condition": "device.rooted &&"'));
    const refused = engine.reload();
    expect(refused).toEqual({ reloaded: false, version: before, issues: [expect.stringMatching(/^rule #5 "rooted_device": condition has a syntax error/)] });
    expect((await engine.assess(rooted(), listsSql())).decision).toBe('challenge');

    fs.writeFileSync(file, fs.readFileSync(DEFAULT_RULES_FILE, 'utf8').replace('"action": "challenge", "score": 20 },\n    { "id": "device_shared', '"action": "block", "score": 20 },\n    { "id": "device_shared'));
    const taken = engine.reload();
    expect(taken.reloaded).toBe(true);
    expect(taken.version).not.toBe(before);
    expect((await engine.assess(rooted(), listsSql())).decision).toBe('block');
  });

  it('a shadow copy of a rule is journaled but changes neither decision nor score', async () => {
    const rules = JSON.parse(fs.readFileSync(DEFAULT_RULES_FILE, 'utf8'));
    rules.rules.push({ id: 'everything_blocked', reason: 'device_integrity', condition: 'amount > 0', action: 'block', score: 100, mode: 'shadow' });
    fs.writeFileSync(file, JSON.stringify(rules));
    const plain = engineOn(new MemoryCounters());
    const shadowed = engineOn(new MemoryCounters(), { RISK_RULES_FILE: file });
    const inputs = [anInput(), anInput({ device: { ...anInput().device, emulator: true } }), anInput({ claims: { minor: false, guardianConsent: false, country: 'US' } })];
    for (const input of inputs) {
      const a = await plain.assess(input, listsSql());
      const b = await shadowed.assess(input, listsSql());
      expect({ decision: b.decision, score: b.score, reasons: reasonCodes(b) }).toEqual({ decision: a.decision, score: a.score, reasons: reasonCodes(a) });
      expect(journalOf(b).hits).toContainEqual(expect.objectContaining({ rule: 'everything_blocked', mode: 'shadow' }));
    }
  });
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Like the gateway's client: fail fast while disconnected. */
const client = (url: string) => new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 500, retryStrategy: () => 200 });

describe('risk engine when Redis is unreachable', () => {
  it('applies the configured fail mode quickly and never throws', async () => {
    const redis = client(`redis://127.0.0.1:${await closedPort()}`);
    redis.on('error', () => undefined);
    try {
      const review = engineOn(new RedisCounters({ redis, keyPrefix: uniquePrefix(), timeoutMs: 150 }));
      const started = Date.now();
      const assessment = await review.assess(anInput(), listsSql());
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(assessment).toMatchObject({ decision: 'review', failMode: true });
      expect(reasonCodes(assessment)).toEqual(['risk_checks_unavailable']);
      expect(journalOf(assessment).features).toMatchObject({ unavailable: ['counters'] });

      const block = engineOn(new RedisCounters({ redis, keyPrefix: uniquePrefix(), timeoutMs: 150 }), { RISK_FAIL_MODE: 'block' });
      expect(await block.assess(anInput(), listsSql())).toMatchObject({ decision: 'block', blockCode: 'payment_blocked', failMode: true });
      await expect(block.paymentStatusChanged({ paymentId: 'pay_x', userHash: 'u', deviceHash: 'd', status: 'failed', at: new Date() })).resolves.toBeUndefined();
    } finally {
      redis.disconnect();
    }
  });
});

/** Every key under `prefix` with its contents, whatever the Redis type, as one string to search. */
async function everyValueUnder(redis: Redis, prefix: string): Promise<string> {
  const dump: string[] = [];
  for (const key of await redis.keys(`${prefix}*`)) {
    const type = await redis.type(key);
    const hash = async () => Object.entries(await redis.hgetall(key)).flat().join(' ');
    dump.push(key, type === 'hash' ? await hash() : String(await redis.get(key)));
  }
  expect(dump.length).toBeGreaterThan(0);
  return dump.join('\n');
}

(redisExpected() ? describe : describe.skip)('risk engines sharing one Redis', () => {
  const clients: Redis[] = [];
  afterAll(async () => {
    clients.forEach((redis) => redis.disconnect());
    await deleteTestRedisKeys();
  });

  async function sharedEngines(prefix: string) {
    const make = async () => {
      const redis = client(testRedisUrl());
      clients.push(redis);
      await new Promise((resolve) => redis.once('ready', resolve));
      return engineOn(new RedisCounters({ redis, keyPrefix: prefix, timeoutMs: 500 }));
    };
    return [await make(), await make()];
  }

  it('trips the per-user limit at the configured count with attempts split across two instances', async () => {
    const [a, b] = await sharedEngines(uniquePrefix());
    const first = anInput();
    const decisions = [];
    for (let i = 0; i < 10; i += 1) decisions.push((await (i % 2 === 0 ? a : b).assess(again(first, i * 100), listsSql())).decision);
    expect(decisions).toEqual(['allow', 'allow', 'allow', 'allow', 'allow', 'challenge', 'challenge', 'challenge', 'challenge', 'challenge']);
  });

  it('shares device, amount, failure and location history between instances', async () => {
    const [a, b] = await sharedEngines(uniquePrefix());
    const shanghai = anInput({ location: { lat: 31.23, lon: 121.47 }, money: { amount: 150_000, currency: 'CNY' } });
    await a.assess(shanghai, listsSql());
    await a.paymentStatusChanged({ paymentId: 'pay_f1', userHash: shanghai.userHash, deviceHash: shanghai.device.hash, status: 'failed', at: shanghai.now });
    const otherUser = anInput({ device: shanghai.device });
    const later = await b.assess(
      again(shanghai, 50 * 60_000, { location: { lat: 40.64, lon: -73.78 }, device: anInput().device, money: { amount: 60_000, currency: 'CNY' } }),
      listsSql(),
    );
    expect(journalOf(later).features).toMatchObject({
      user: { devices_24h: 2 },
      velocity: { user_1m: 1, user_1h: 2, user_24h: 2, user_amount_24h: 210_000, user_failed_1h: 1 },
      location: { previous_known: true },
    });
    expect(journalOf(later).hits.map((hit) => hit.rule)).toEqual(['daily_amount', 'impossible_travel']);
    const shared = await a.assess(again(otherUser, 1), listsSql());
    expect(journalOf(shared).features).toMatchObject({ device: { users_24h: 2 }, velocity: { device_24h: 2 } });
  });

  it('stores the previous location only sealed: no Redis value holds the coordinates, and impossible travel still fires', async () => {
    const prefix = uniquePrefix();
    const [a, b] = await sharedEngines(prefix);
    const shanghai = anInput({ location: { lat: 31.2304, lon: 121.4737 } });
    await a.assess(shanghai, listsSql());
    const stored = await everyValueUnder(clients[0], prefix);
    expect(stored).toContain(shanghai.userHash); // the dump does reach the counters
    for (const coordinate of ['31.23', '121.47', '3123', '12147']) expect(stored).not.toContain(coordinate);
    const london = await b.assess(again(shanghai, 30 * 60_000, { location: { lat: 51.5, lon: -0.12 } }), listsSql());
    expect(journalOf(london).features).toMatchObject({ location: { previous_known: true } });
    expect(journalOf(london).hits.map((hit) => hit.rule)).toContain('impossible_travel');
  });

  it('treats a stored location that does not open as no previous location', async () => {
    const prefix = uniquePrefix();
    const [engine] = await sharedEngines(prefix);
    const redis = clients[clients.length - 1];
    const first = anInput({ location: { lat: 31.23, lon: 121.47 } });
    const second = anInput({ location: { lat: 31.23, lon: 121.47 } });
    await engine.assess(first, listsSql());
    const locationKey = (input: RiskInput) => `${prefix}{u:${input.userHash}}:loc`;
    const previousOf = async (input: RiskInput) =>
      journalOf(await engine.assess(again(input, 30 * 60_000, { location: { lat: 51.5, lon: -0.12 } }), listsSql())).features;

    // Another user's sealed location: bound to that user, so it does not open for this one.
    await redis.set(locationKey(second), (await redis.get(locationKey(first)))!, 'PX', 60_000);
    expect(await previousOf(second)).toMatchObject({ location: { previous_known: false, distance_km: 0 } });
    // A value in the former plaintext layout.
    await redis.set(locationKey(first), `31.23,121.47,${first.now.getTime()}`, 'PX', 60_000);
    expect(await previousOf(first)).toMatchObject({ location: { previous_known: false, distance_km: 0 } });
  });
});
