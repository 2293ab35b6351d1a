import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from '../types';

/** Stripe-style signatures: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>`. */
export const SANDBOX_SIGNATURE_HEADER = 'sandbox-signature';
export const SIGNATURE_TOLERANCE_SECONDS = 300;

function hmac(secret: string, timestamp: number, rawBody: Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

export function signSandboxPayload(secret: string, rawBody: Buffer, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, rawBody)}`;
}

/** Constant-time check against every v1 in the header; refuses stale or future timestamps beyond the tolerance. */
export function verifySandboxSignature(header: string | undefined, rawBody: Buffer, secret: string, nowSeconds = Date.now() / 1000): void {
  if (!header) throw new WebhookVerificationError('Missing Sandbox-Signature header');
  const parts = header.split(',').map((part) => part.trim().split('='));
  const timestamp = Number(parts.find(([key]) => key === 't')?.[1]);
  const candidates = parts.filter(([key, value]) => key === 'v1' && value).map(([, value]) => value);
  if (!Number.isInteger(timestamp) || candidates.length === 0) throw new WebhookVerificationError('Malformed Sandbox-Signature header');
  if (Math.abs(nowSeconds - timestamp) > SIGNATURE_TOLERANCE_SECONDS) {
    throw new WebhookVerificationError('Sandbox-Signature timestamp is outside the tolerance');
  }
  const expected = Buffer.from(hmac(secret, timestamp, rawBody), 'hex');
  const matches = candidates.some((candidate) => {
    const given = Buffer.from(candidate, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new WebhookVerificationError('Sandbox-Signature does not match the body');
}
