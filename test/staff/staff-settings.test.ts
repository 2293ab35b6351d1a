import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config';
import { embeddedStaffIssuer } from '../../src/staff/service';
import { auditChainKey } from '../../src/staff/settings';

describe('staff settings', () => {
  it('keeps the audit trail at least 12 months', () => {
    expect(() => loadConfig({ STAFF_AUDIT_RETENTION_MONTHS: '6' })).toThrow(/STAFF_AUDIT_RETENTION_MONTHS: must be a whole number from 12 to 120/);
    expect(loadConfig({}).staff.auditRetentionMonths).toBe(12);
  });

  it('the audit chain key is its own setting when given (so a blind-index rotation leaves the chain verifiable)', () => {
    const derived = { deriveKey: () => Buffer.alloc(32, 1) };
    const own = Buffer.alloc(32, 7);
    expect(auditChainKey(loadConfig({ STAFF_AUDIT_CHAIN_KEY: own.toString('base64') }).staff, derived, 'audit-chain-v1')).toEqual(own);
    expect(auditChainKey(loadConfig({}).staff, derived, 'audit-chain-v1')).toEqual(Buffer.alloc(32, 1));
    expect(() => loadConfig({ STAFF_AUDIT_CHAIN_KEY: 'c2hvcnQ=' })).toThrow(/STAFF_AUDIT_CHAIN_KEY: must be base64 of at least 32 bytes/);
  });

  it('refuses a staff public key that is not one, or is private', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => loadConfig({ STAFF_AUTH_PUBLIC_KEY: pem })).toThrow(/STAFF_AUTH_PUBLIC_KEY: must be an SPKI PEM public key or a JWK/);
  });

  it('refuses staff tokens that would look exactly like app tokens (same issuer and audience)', () => {
    const same = { APP_JWT_ISSUER: 'https://id.example/', APP_JWT_AUDIENCE: 'apps', STAFF_AUTH_ISSUER: 'https://id.example/', STAFF_AUTH_AUDIENCE: 'apps' };
    expect(() => loadConfig(same)).toThrow(/STAFF_AUTH_AUDIENCE: must differ from APP_JWT_AUDIENCE/);
    expect(loadConfig({ ...same, STAFF_AUTH_AUDIENCE: 'ops' }).staff.audience).toBe('ops');
  });

  it('the embedded staff issuer is refused where generated keys are', () => {
    const settings = loadConfig({}).staff;
    expect(() => embeddedStaffIssuer(settings, { dataDir: '/nonexistent', generatedKeysAllowed: false })).toThrow(ConfigError);
    expect(() => embeddedStaffIssuer(settings, { dataDir: '/nonexistent', generatedKeysAllowed: false })).toThrow(/STAFF_AUTH_JWKS_URL: or STAFF_AUTH_PUBLIC_KEY is required in production/);
  });

  it('the embedded staff key is its own, kept across restarts, readable only by its owner', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-staff-'));
    try {
      const settings = loadConfig({}).staff;
      const first = embeddedStaffIssuer(settings, { dataDir, generatedKeysAllowed: true })!;
      expect(embeddedStaffIssuer(settings, { dataDir, generatedKeysAllowed: true })).toEqual(first);
      expect(fs.statSync(path.join(dataDir, 'staff-issuer.json')).mode & 0o777).toBe(0o600);
      const withKey = loadConfig({ STAFF_AUTH_PUBLIC_KEY: first.publicKeyPem, STAFF_AUTH_ISSUER: 'https://sso.example' }).staff;
      expect(embeddedStaffIssuer(withKey, { dataDir, generatedKeysAllowed: false })).toBeUndefined();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
