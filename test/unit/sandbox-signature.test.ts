import { WebhookVerificationError } from '../../src/providers/types';
import { signSandboxPayload, SIGNATURE_TOLERANCE_SECONDS, verifySandboxSignature } from '../../src/providers/sandbox/signature';

const SECRET = 'sbx_unit_test_secret_0123456789';
const BODY = Buffer.from('{"id":"evt_1","type":"payment.succeeded","data":{"payment_id":"pay_1","amount":600,"currency":"CNY"}}');
const NOW = 1_800_000_000;

function verificationError(header: string | undefined, body = BODY, secret = SECRET, now = NOW): WebhookVerificationError {
  try {
    verifySandboxSignature(header, body, secret, now);
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected the signature to be refused');
}

describe('the sandbox webhook signature', () => {
  test('verifies what signSandboxPayload signed', () => {
    expect(() => verifySandboxSignature(signSandboxPayload(SECRET, BODY, NOW), BODY, SECRET, NOW)).not.toThrow();
  });

  test('has the documented form t=<seconds>,v1=<hex HMAC-SHA256>', () => {
    expect(signSandboxPayload(SECRET, BODY, NOW)).toMatch(new RegExp(`^t=${NOW},v1=[0-9a-f]{64}$`));
  });

  test('verifies when one of several v1 values matches', () => {
    const good = signSandboxPayload(SECRET, BODY, NOW).split(',')[1];
    const other = signSandboxPayload('an_old_rotated_secret_value', BODY, NOW).split(',')[1];

    expect(() => verifySandboxSignature(`t=${NOW},${other},${good}`, BODY, SECRET, NOW)).not.toThrow();
    expect(() => verifySandboxSignature(`t=${NOW}, ${good}, v1=deadbeef`, BODY, SECRET, NOW)).not.toThrow();
  });

  test('accepts timestamps up to the 300 s tolerance either way', () => {
    expect(SIGNATURE_TOLERANCE_SECONDS).toBe(300);
    const header = signSandboxPayload(SECRET, BODY, NOW);

    expect(() => verifySandboxSignature(header, BODY, SECRET, NOW + 300)).not.toThrow();
    expect(() => verifySandboxSignature(header, BODY, SECRET, NOW - 300)).not.toThrow();
  });

  test('refuses a signature made with another secret', () => {
    expect(verificationError(signSandboxPayload('another_secret_entirely', BODY, NOW)).message).toMatch(/does not match/);
  });

  test('refuses a changed body', () => {
    const tampered = Buffer.from(BODY.toString().replace('"amount":600', '"amount":6'));

    expect(verificationError(signSandboxPayload(SECRET, BODY, NOW), tampered).message).toMatch(/does not match/);
  });

  test('refuses a replayed signature with its timestamp changed', () => {
    const v1 = signSandboxPayload(SECRET, BODY, NOW - 1000).split(',')[1];

    expect(verificationError(`t=${NOW},${v1}`).message).toMatch(/does not match/);
  });

  test('refuses a stale or future timestamp', () => {
    expect(verificationError(signSandboxPayload(SECRET, BODY, NOW - 301)).message).toMatch(/outside the tolerance/);
    expect(verificationError(signSandboxPayload(SECRET, BODY, NOW + 301)).message).toMatch(/outside the tolerance/);
  });

  test.each([
    ['garbage', 'not a signature'],
    ['no v1', `t=${NOW}`],
    ['no timestamp', `v1=${'a'.repeat(64)}`],
    ['a non-numeric timestamp', `t=soon,v1=${'a'.repeat(64)}`],
    ['a fractional timestamp', `t=${NOW}.5,v1=${'a'.repeat(64)}`],
    ['an empty v1', `t=${NOW},v1=`],
    ['only a v0 scheme', `t=${NOW},v0=${'a'.repeat(64)}`],
  ])('refuses a malformed header: %s', (_case, header) => {
    expect(verificationError(header).message).toBe('Malformed Sandbox-Signature header');
  });

  test('refuses a missing or empty header', () => {
    expect(verificationError(undefined).message).toBe('Missing Sandbox-Signature header');
    expect(verificationError('').message).toBe('Missing Sandbox-Signature header');
  });

  test('refuses a v1 value that is not hex', () => {
    const header = signSandboxPayload(SECRET, BODY, NOW).replace(/v1=.*/, `v1=${'z'.repeat(64)}`);

    expect(verificationError(header).message).toMatch(/does not match/);
  });
});
