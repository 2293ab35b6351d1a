import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { TokenVerifier } from '../../src/auth/app-tokens';
import { ApiError } from '../../src/shared/errors';
import { FakeIdentityService, IDENTITY_AUDIENCE, IDENTITY_ISSUER, JwksBehaviour, startIdentityService } from '../support/identity-service';

let identity: FakeIdentityService;

beforeEach(async () => {
  identity = await startIdentityService();
});

afterEach(async () => {
  await identity.stop();
});

/** A fresh verifier each time: jose caches a fetched key set, and each test needs its own first fetch. */
const verifierFor = (jwksUrl: string) =>
  new TokenVerifier({ issuer: IDENTITY_ISSUER, audience: IDENTITY_AUDIENCE, jwksUrl, jwksTimeoutMs: 200 });

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

function expectIdentityUnavailable(error: ApiError) {
  expect({ status: error.status, type: error.type, code: error.code }).toEqual({ status: 503, type: 'api_error', code: 'identity_unavailable' });
  expect(error.headers).toEqual({ 'Retry-After': '5' });
}

describe('app tokens verified against the identity service JWKS', () => {
  test('a token signed by a served key verifies into the app user', async () => {
    const token = await identity.sign('alice', { claims: { country: 'CN', minor: true } });

    await expect(verifierFor(identity.jwksUrl).verifyAppUser(token)).resolves.toEqual({
      id: 'alice',
      minor: true,
      guardianConsent: false,
      country: 'CN',
    });
  });

  test.each([
    ['a key the set does not hold', { kid: 'unknown' }],
    ['an expiry in the past', { expiresIn: '-1h' }],
  ])('a token with %s stays a 401 while the identity service is up', async (_case, options) => {
    const error = await refusal(verifierFor(identity.jwksUrl).verify(await identity.sign('alice', options)));

    expect(error.status).toBe(401);
    expect(error.type).toBe('authentication_error');
  });

  test('a token claiming a served key id but signed by another key is token_invalid', async () => {
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(IDENTITY_ISSUER)
      .setAudience(IDENTITY_AUDIENCE)
      .setSubject('alice')
      .setExpirationTime('1h')
      .sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

    expect((await refusal(verifierFor(identity.jwksUrl).verify(forged))).code).toBe('token_invalid');
  });
});

describe('an identity service that cannot be reached answers 503, not 401', () => {
  test('when nothing listens on the JWKS address', async () => {
    const token = await identity.sign('alice');
    await identity.stop();

    expectIdentityUnavailable(await refusal(verifierFor(identity.jwksUrl).verify(token)));
  });

  test.each<[string, JwksBehaviour]>([
    ['never answers within the timeout', 'hang'],
    ['answers 500', 'error'],
    ['answers something that is not a key set', 'garbage'],
  ])('when the JWKS endpoint %s', async (_case, behaviour) => {
    identity.behaviour = behaviour;

    expectIdentityUnavailable(await refusal(verifierFor(identity.jwksUrl).verify(await identity.sign('alice'))));
  });

  test('and a verifier recovers once the JWKS answers again', async () => {
    const verifier = verifierFor(identity.jwksUrl);
    const token = await identity.sign('alice');
    identity.behaviour = 'error';
    expectIdentityUnavailable(await refusal(verifier.verify(token)));

    identity.behaviour = 'serve';

    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'alice' });
  });

  test('a malformed token is still a 401: it never needed the key set', async () => {
    identity.behaviour = 'hang';

    expect((await refusal(verifierFor(identity.jwksUrl).verify('not-a-jwt'))).code).toBe('token_invalid');
  });
});
