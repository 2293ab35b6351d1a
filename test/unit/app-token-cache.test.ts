import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { TokenVerifier } from '../../src/auth/app-tokens';
import { ApiError } from '../../src/shared/errors';

/** Verified tokens are remembered until their `exp`: never longer, and never for a token that differs. */
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const verifier = () =>
  new TokenVerifier({ issuer: 'https://id.example', audience: 'kalos-pay', publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() });

const sign = (sub: string, expiresAt: number) =>
  new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer('https://id.example').setAudience('kalos-pay').setSubject(sub).setIssuedAt().setExpirationTime(expiresAt).sign(privateKey);

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (reason: unknown) => reason);
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error.code;
}

afterEach(() => jest.useRealTimers());

it('answers a token it verified before, and refuses it once it has expired', async () => {
  jest.useFakeTimers({ now: Date.UTC(2026, 5, 1, 12, 0, 0), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  const tokens = verifier();
  const token = await sign('alice', Math.floor(Date.now() / 1000) + 60);
  await expect(tokens.verifyAppUser(token)).resolves.toMatchObject({ id: 'alice' });
  await expect(tokens.verifyAppUser(token)).resolves.toMatchObject({ id: 'alice' });
  jest.setSystemTime(Date.now() + 120_000);
  expect(await codeOf(tokens.verifyAppUser(token))).toBe('token_expired');
});

it('verifies in full a token that differs from a verified one by a single character', async () => {
  const tokens = verifier();
  const token = await sign('bob', Math.floor(Date.now() / 1000) + 600);
  await tokens.verifyAppUser(token);
  const [header, payload, signature] = token.split('.');
  const claimsOfMallory = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'mallory' })).toString('base64url');
  expect(await codeOf(tokens.verifyAppUser(`${header}.${claimsOfMallory}.${signature}`))).toBe('token_invalid');
  const flipped = `${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.at(-1)}`;
  expect(await codeOf(tokens.verifyAppUser(`${header}.${payload}.${flipped}`))).toBe('token_invalid');
});
