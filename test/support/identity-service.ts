import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, JWTPayload, SignJWT } from 'jose';

export const IDENTITY_ISSUER = 'https://id.test/';
export const IDENTITY_AUDIENCE = 'kalos-pay';

/** How the fake answers GET /jwks.json: the key set (at once, or after `delayMs`), never, a 500, or a body that is not JSON. */
export type JwksBehaviour = 'serve' | 'slow' | 'hang' | 'error' | 'garbage';

export interface FakeIdentityService {
  jwksUrl: string;
  behaviour: JwksBehaviour;
  /** How long 'slow' waits before serving the key set. */
  delayMs: number;
  /** A token for `sub` signed with the served key (or an unserved one with `kid: 'unknown'`). */
  sign(sub: string, options?: { kid?: string; claims?: JWTPayload; expiresIn?: string }): Promise<string>;
  stop(): Promise<void>;
}

/** An app's identity service on 127.0.0.1: one ES256 key, published as a JWKS. */
export async function startIdentityService(): Promise<FakeIdentityService> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] });
  const server = http.createServer((_req, res) => {
    switch (fake.behaviour) {
      case 'serve':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
      case 'slow':
        return void setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks), fake.delayMs);
      case 'error':
        return void res.writeHead(500).end('upstream down');
      case 'garbage':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('<html>maintenance</html>');
      case 'hang':
        return; // keep the request open: the caller's timeout decides
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeIdentityService = {
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    behaviour: 'serve',
    delayMs: 0,
    sign: (sub, options = {}) =>
      new SignJWT(options.claims ?? {})
        .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'k1' })
        .setIssuer(IDENTITY_ISSUER)
        .setAudience(IDENTITY_AUDIENCE)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '1h')
        .sign(privateKey),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
