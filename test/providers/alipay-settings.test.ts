import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { Env, parseSettings } from '../../src/config/settings';
import { ALIPAY_PRODUCTION_GATEWAY, alipaySettingsSchema } from '../../src/providers/alipay/settings';
import { generateRsaKeyPair, pem } from '../fakes/alipay-gateway';

const appKeys = generateRsaKeyPair();
const alipayKeys = generateRsaKeyPair();
const keyBody = (text: string) => text.split('\n')[1];

const complete: Env = {
  ALIPAY_APP_ID: '2021000122671080',
  ALIPAY_PRIVATE_KEY: pem.pkcs1(appKeys),
  ALIPAY_PUBLIC_KEY: pem.spki(alipayKeys),
  ALIPAY_NOTIFY_URL: 'https://pay.example.com/v1/webhooks/alipay',
};

const parse = (env: Env) => parseSettings(alipaySettingsSchema, env);
const issueText = (env: Env) => parse(env).issues.map((issue) => `${issue.setting}: ${issue.message}`);

describe('Alipay settings', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'alipay-settings-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves Alipay disabled when none of its variables is set', () => {
    expect(parse({})).toEqual({ value: { enabled: false }, issues: [] });
  });

  it('enables Alipay with the production gateway and a 30m timeout by default', () => {
    const { value } = parse(complete);
    expect(value).toMatchObject({
      enabled: true,
      appId: '2021000122671080',
      keyFormat: 'PKCS1',
      gatewayUrl: ALIPAY_PRODUCTION_GATEWAY,
      notifyUrl: 'https://pay.example.com/v1/webhooks/alipay',
      timeoutExpress: '30m',
      sellerId: undefined,
    });
  });

  it('names every missing variable when the configuration is partial', () => {
    expect(issueText({ ALIPAY_APP_ID: complete.ALIPAY_APP_ID })).toEqual([
      'ALIPAY_PRIVATE_KEY: (or ALIPAY_PRIVATE_KEY_FILE) is required because ALIPAY_APP_ID is set',
      'ALIPAY_PUBLIC_KEY: (or ALIPAY_PUBLIC_KEY_FILE) is required because ALIPAY_APP_ID is set',
      'ALIPAY_NOTIFY_URL: is required because ALIPAY_APP_ID is set',
    ]);
    expect(issueText({ ALIPAY_GATEWAY_URL: 'https://openapi-sandbox.dl.alipaydev.com/gateway.do' }).map((line) => line.split(':')[0])).toEqual([
      'ALIPAY_APP_ID',
      'ALIPAY_PRIVATE_KEY',
      'ALIPAY_PUBLIC_KEY',
      'ALIPAY_NOTIFY_URL',
    ]);
  });

  it('detects a PKCS8 private key from its PEM header', () => {
    expect(parse({ ...complete, ALIPAY_PRIVATE_KEY: pem.pkcs8(appKeys) }).value).toMatchObject({ enabled: true, keyFormat: 'PKCS8' });
  });

  it('reads both keys from files, including one-line PEMs with literal \\n and CRLF line ends', () => {
    const privateFile = path.join(dir, 'app-private.pem');
    const publicFile = path.join(dir, 'alipay-public.pem');
    writeFileSync(privateFile, pem.pkcs8(appKeys).replace(/\n/g, '\r\n'));
    writeFileSync(publicFile, pem.spki(alipayKeys).trim().replace(/\n/g, '\\n'));
    const env = { ...complete, ALIPAY_PRIVATE_KEY: undefined, ALIPAY_PUBLIC_KEY: undefined, ALIPAY_PRIVATE_KEY_FILE: privateFile, ALIPAY_PUBLIC_KEY_FILE: publicFile };
    expect(parse(env)).toMatchObject({ value: { enabled: true, keyFormat: 'PKCS8', alipayPublicKey: pem.spki(alipayKeys).trim() }, issues: [] });
  });

  it('refuses a key given both inline and as a file, and a file that cannot be read', () => {
    expect(issueText({ ...complete, ALIPAY_PRIVATE_KEY_FILE: path.join(dir, 'app-private.pem') })).toContain(
      'ALIPAY_PRIVATE_KEY_FILE: cannot be set together with ALIPAY_PRIVATE_KEY: choose one',
    );
    expect(issueText({ ...complete, ALIPAY_PUBLIC_KEY: undefined, ALIPAY_PUBLIC_KEY_FILE: path.join(dir, 'missing.pem') })).toEqual([
      'ALIPAY_PUBLIC_KEY_FILE: could not be read (ENOENT)',
    ]);
  });

  it('refuses malformed PEM without ever quoting the key', () => {
    const privatePem = pem.pkcs1(appKeys);
    const corrupted = privatePem.replace(keyBody(privatePem), keyBody(privatePem).slice(0, 40));
    const bare = privatePem.split('\n').slice(1, -2).join('');
    const cases: Env[] = [
      { ...complete, ALIPAY_PRIVATE_KEY: corrupted },
      { ...complete, ALIPAY_PRIVATE_KEY: bare },
      { ...complete, ALIPAY_PRIVATE_KEY: pem.pkcs1(appKeys).replace(/RSA PRIVATE KEY/g, 'PRIVATE KEY') },
      { ...complete, ALIPAY_PUBLIC_KEY: keyBody(pem.spki(alipayKeys)) },
    ];
    for (const env of cases) {
      const { value, issues } = parse(env);
      expect(value).toBeUndefined();
      expect(issues).toHaveLength(1);
      const printed = JSON.stringify(issues);
      expect(printed).not.toContain(keyBody(privatePem).slice(0, 20));
      expect(printed).not.toContain(keyBody(pem.spki(alipayKeys)).slice(0, 20));
    }
    expect(issueText(cases[1])[0]).toMatch(/^ALIPAY_PRIVATE_KEY: must be a PEM block/);
    expect(issueText(cases[3])[0]).toMatch(/^ALIPAY_PUBLIC_KEY: must be a PEM block/);
  });

  it('refuses a key shorter than 2048 bits and the app public key given as the Alipay public key', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(issueText({ ...complete, ALIPAY_PRIVATE_KEY: pem.pkcs1(weak) })).toEqual([
      'ALIPAY_PRIVATE_KEY: must be an RSA key of at least 2048 bits (Alipay RSA2)',
    ]);
    expect(issueText({ ...complete, ALIPAY_PUBLIC_KEY: pem.spki(appKeys) })[0]).toMatch(/^ALIPAY_PUBLIC_KEY: is the app's own public key/);
  });

  it('checks the app id, seller id, notify URL and timeout formats', () => {
    expect(
      issueText({
        ...complete,
        ALIPAY_APP_ID: '12345',
        ALIPAY_SELLER_ID: '1234567890123456',
        ALIPAY_NOTIFY_URL: 'https://pay.example.com/notify?x=1',
        ALIPAY_TIMEOUT_EXPRESS: '16d',
      }).map((line) => line.split(':')[0]),
    ).toEqual(['ALIPAY_APP_ID', 'ALIPAY_NOTIFY_URL', 'ALIPAY_SELLER_ID', 'ALIPAY_TIMEOUT_EXPRESS']);
    expect(parse({ ...complete, ALIPAY_SELLER_ID: '2088000000000001', ALIPAY_TIMEOUT_EXPRESS: '2h' }).value).toMatchObject({
      sellerId: '2088000000000001',
      timeoutExpress: '2h',
    });
    expect(issueText({ ...complete, ALIPAY_TIMEOUT_EXPRESS: '0m' })).toHaveLength(1);
  });

  it('masks the private key when the settings are logged or serialised', () => {
    const { value } = parse(complete);
    const secretLine = keyBody(pem.pkcs1(appKeys));
    expect(JSON.stringify(value)).not.toContain(secretLine);
    expect(inspect(value, { depth: 5 })).not.toContain(secretLine);
  });
});
