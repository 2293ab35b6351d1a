import { startTestGateway, TestGateway } from '../support/gateway';
import { FakeIdentityService, IDENTITY_AUDIENCE, IDENTITY_ISSUER, startIdentityService } from '../support/identity-service';

/** Production: staff tokens come from the staff identity provider's JWKS, checked for issuer and audience. */
describe('staff tokens from a staff identity provider', () => {
  let idp: FakeIdentityService;
  let test: TestGateway;
  beforeAll(async () => {
    idp = await startIdentityService();
    test = await startTestGateway({
      env: { STAFF_AUTH_JWKS_URL: idp.jwksUrl, STAFF_AUTH_ISSUER: IDENTITY_ISSUER, STAFF_AUTH_AUDIENCE: IDENTITY_AUDIENCE },
    });
  });
  afterAll(async () => {
    await test.stop();
    await idp.stop();
  });

  const me = (token: string) => test.http.get('/v1/ops/me').set('Authorization', `Bearer ${token}`);

  it('a token it signs with a roles claim opens the ops API, and there is no embedded staff issuer', async () => {
    const response = await me(await idp.sign('sso-user-7', { claims: { roles: ['auditor', 'something_else'] } }));
    expect([response.status, response.body]).toEqual([200, { id: 'sso-user-7', roles: ['auditor'] }]);
    expect(test.gateway.staff.embeddedIssuer).toBeUndefined();
  });

  it('a token without a roles claim is refused', async () => {
    const response = await me(await idp.sign('sso-user-8'));
    expect([response.status, response.body.error.code]).toEqual([401, 'token_invalid']);
  });
});
