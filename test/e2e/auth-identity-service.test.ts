import { startTestGateway, TestGateway } from '../support/gateway';
import { FakeIdentityService, IDENTITY_AUDIENCE, IDENTITY_ISSUER, startIdentityService } from '../support/identity-service';

/** A production gateway trusting an app's identity service, the way a real deployment runs. */
describe('a production gateway trusting an app identity service', () => {
  let identity: FakeIdentityService;
  let test: TestGateway;

  beforeAll(async () => {
    identity = await startIdentityService();
    test = await startTestGateway({
      captureLogs: true,
      env: {
        NODE_ENV: 'production',
        PUBLIC_BASE_URL: 'https://pay.example.com',
        ALLOW_GENERATED_KEYS: 'true',
        ALLOW_EMBEDDED_DATABASE: 'true', // when tests run without TEST_DATABASE_URL
        APP_JWKS_URL: identity.jwksUrl,
        APP_JWKS_TIMEOUT_MS: '200',
        APP_JWT_ISSUER: IDENTITY_ISSUER,
        APP_JWT_AUDIENCE: IDENTITY_AUDIENCE,
      },
    });
  });

  afterAll(async () => {
    await test?.stop();
    await identity?.stop();
  });

  it('answers 503 identity_unavailable with Retry-After while the JWKS hangs, then accepts the same token once it answers', async () => {
    const token = await identity.sign('alice');
    identity.behaviour = 'hang';

    const during = await test.http.get('/v1/catalog').set('Authorization', `Bearer ${token}`);

    expect(during.status).toBe(503);
    expect(during.headers['retry-after']).toBe('5');
    expect(during.headers['www-authenticate']).toBeUndefined();
    expect(during.body.error).toMatchObject({ type: 'api_error', code: 'identity_unavailable', request_id: expect.any(String) });
    expect(test.logs.some((line) => line.includes('identity service JWKS unreachable'))).toBe(true);

    identity.behaviour = 'serve';
    const after = await test.http.get('/v1/catalog').set('Authorization', `Bearer ${token}`);

    expect(after.status).toBe(200);
  });

  it('warned once at start-up that TRUST_PROXY=0 makes every client share one IP', () => {
    const warnings = test.logs.filter((line) => line.includes('TRUST_PROXY=0 in production'));

    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]).level).toBe(40);
  });
});
