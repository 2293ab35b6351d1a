import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envString, envUrl } from '../../config/env';
import { Secret } from '../../privacy/secret';

/**
 * Alipay settings. Alipay is switched on by setting its variables; setting some but not all of the required
 * ones is an error naming each missing variable, so a half-configured provider never starts. Keys come as PEM
 * in the environment or from a file; their values never appear in an error message.
 */
export const ALIPAY_PRODUCTION_GATEWAY = 'https://openapi.alipay.com/gateway.do';
const DEFAULT_TIMEOUT_EXPRESS = '30m';

/** Alipay's own range for `timeout_express`: one minute to fifteen days. */
const TIMEOUT_UNIT_MINUTES: Record<string, number> = { m: 1, h: 60, d: 24 * 60 };
const MAX_TIMEOUT_MINUTES = 15 * 24 * 60;

const rawSchema = z.object({
  ALIPAY_APP_ID: envString().refine((v) => v === undefined || /^\d{16}$/.test(v), {
    message: 'must be the 16-digit app id from the Alipay open platform',
  }),
  ALIPAY_PRIVATE_KEY: envString(),
  ALIPAY_PRIVATE_KEY_FILE: envString(),
  ALIPAY_PUBLIC_KEY: envString(),
  ALIPAY_PUBLIC_KEY_FILE: envString(),
  ALIPAY_GATEWAY_URL: envUrl(['https', 'http']),
  ALIPAY_NOTIFY_URL: envUrl(['https', 'http']).refine((v) => v === undefined || new URL(v).search === '', {
    message: 'must not carry a query string (Alipay drops it)',
  }),
  ALIPAY_SELLER_ID: envString().refine((v) => v === undefined || /^2088\d{12}$/.test(v), {
    message: 'must be the 16-digit Alipay partner id starting with 2088',
  }),
  ALIPAY_TIMEOUT_EXPRESS: envString().refine((v) => v === undefined || timeoutMinutes(v) !== undefined, {
    message: 'must look like 30m, 2h or 1d (from 1m to 15d)',
  }),
});

type RawAlipaySettings = z.infer<typeof rawSchema>;
type KeyVariable = 'ALIPAY_PRIVATE_KEY' | 'ALIPAY_PUBLIC_KEY';

export type AlipayKeyFormat = 'PKCS1' | 'PKCS8';

export interface EnabledAlipaySettings {
  enabled: true;
  appId: string;
  /** The app private key as PEM; `keyFormat` tells the SDK which kind it is. */
  privateKey: Secret<string>;
  keyFormat: AlipayKeyFormat;
  /** Alipay's public key as PEM: verifies notifications and responses. */
  alipayPublicKey: string;
  gatewayUrl: string;
  notifyUrl: string;
  sellerId?: string;
  timeoutExpress: string;
}

export const alipaySettingsSchema = rawSchema.transform((raw, ctx): EnabledAlipaySettings | { enabled: false } => {
  const report = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
  const privatePem = readKeySource(raw, 'ALIPAY_PRIVATE_KEY', report);
  const publicPem = readKeySource(raw, 'ALIPAY_PUBLIC_KEY', report);
  const setVariables = (Object.keys(raw) as (keyof RawAlipaySettings)[]).filter((name) => raw[name] !== undefined);
  if (setVariables.length === 0) return { enabled: false };

  const requirements: [string, boolean][] = [
    ['ALIPAY_APP_ID', raw.ALIPAY_APP_ID !== undefined],
    ['ALIPAY_PRIVATE_KEY', raw.ALIPAY_PRIVATE_KEY !== undefined || raw.ALIPAY_PRIVATE_KEY_FILE !== undefined],
    ['ALIPAY_PUBLIC_KEY', raw.ALIPAY_PUBLIC_KEY !== undefined || raw.ALIPAY_PUBLIC_KEY_FILE !== undefined],
    ['ALIPAY_NOTIFY_URL', raw.ALIPAY_NOTIFY_URL !== undefined],
  ];
  const because = `is required because ${setVariables.join(', ')} is set`;
  for (const [name, present] of requirements) {
    if (!present) report(name, name.endsWith('_KEY') ? `(or ${name}_FILE) ${because}` : because);
  }

  const privateKey = privatePem === undefined ? undefined : parsePrivateKey(privatePem, report);
  const publicKey = publicPem === undefined ? undefined : parsePublicKey(publicPem, report);
  if (privateKey && publicKey && sameKey(privateKey.key, publicKey)) {
    report('ALIPAY_PUBLIC_KEY', "is the app's own public key: use the Alipay public key (支付宝公钥) shown next to it on the open platform");
  }
  if (!raw.ALIPAY_APP_ID || !privateKey || !publicKey || !raw.ALIPAY_NOTIFY_URL) return z.NEVER;
  return {
    enabled: true,
    appId: raw.ALIPAY_APP_ID,
    privateKey: new Secret(privateKey.pem),
    keyFormat: privateKey.format,
    alipayPublicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString().trim(),
    gatewayUrl: raw.ALIPAY_GATEWAY_URL ?? ALIPAY_PRODUCTION_GATEWAY,
    notifyUrl: raw.ALIPAY_NOTIFY_URL,
    sellerId: raw.ALIPAY_SELLER_ID,
    timeoutExpress: raw.ALIPAY_TIMEOUT_EXPRESS ?? DEFAULT_TIMEOUT_EXPRESS,
  };
});

export type AlipaySettings = z.infer<typeof alipaySettingsSchema>;

function timeoutMinutes(value: string): number | undefined {
  const match = /^([1-9]\d{0,5})([mhd])$/.exec(value);
  if (!match) return undefined;
  const minutes = Number(match[1]) * TIMEOUT_UNIT_MINUTES[match[2]];
  return minutes <= MAX_TIMEOUT_MINUTES ? minutes : undefined;
}

/** The PEM text from `<NAME>` or from the file named by `<NAME>_FILE`; both set is an error, as it hides which one wins. */
function readKeySource(raw: RawAlipaySettings, name: KeyVariable, report: (variable: string, message: string) => void): string | undefined {
  const inline = raw[name];
  const file = raw[`${name}_FILE`];
  if (inline !== undefined && file !== undefined) {
    report(`${name}_FILE`, `cannot be set together with ${name}: choose one`);
    return undefined;
  }
  if (inline !== undefined) return normalisePem(inline);
  if (file === undefined) return undefined;
  try {
    return normalisePem(readFileSync(file, 'utf8'));
  } catch (error) {
    report(`${name}_FILE`, `could not be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
    return undefined;
  }
}

/** Environment files often carry a PEM on one line with literal `\n`; CRLF files add `\r`. */
function normalisePem(text: string): string {
  return text.replace(/\\n/g, '\n').replace(/\r/g, '').trim();
}

const PRIVATE_KEY_HEADERS: Record<string, AlipayKeyFormat> = {
  '-----BEGIN RSA PRIVATE KEY-----': 'PKCS1',
  '-----BEGIN PRIVATE KEY-----': 'PKCS8',
};
const PEM_HINT = "Alipay's key tool prints bare base64: put it between the BEGIN and END lines";

function parsePrivateKey(pem: string, report: (variable: string, message: string) => void) {
  const format = PRIVATE_KEY_HEADERS[pem.split('\n')[0].trim()];
  if (!format) {
    report('ALIPAY_PRIVATE_KEY', `must be a PEM block starting with -----BEGIN RSA PRIVATE KEY----- (PKCS1) or -----BEGIN PRIVATE KEY----- (PKCS8). ${PEM_HINT}`);
    return undefined;
  }
  const key = readKey(() => createPrivateKey(pem), 'ALIPAY_PRIVATE_KEY', report);
  if (!key) return undefined;
  const canonical = key.export({ type: format === 'PKCS1' ? 'pkcs1' : 'pkcs8', format: 'pem' }).toString().trim();
  return { key, format, pem: canonical };
}

function parsePublicKey(pem: string, report: (variable: string, message: string) => void): KeyObject | undefined {
  if (pem.split('\n')[0].trim() !== '-----BEGIN PUBLIC KEY-----') {
    report('ALIPAY_PUBLIC_KEY', `must be a PEM block starting with -----BEGIN PUBLIC KEY-----. ${PEM_HINT}`);
    return undefined;
  }
  return readKey(() => createPublicKey(pem), 'ALIPAY_PUBLIC_KEY', report);
}

/** RSA2 means RSA with SHA-256 and, for Alipay, a modulus of at least 2048 bits. */
function readKey(load: () => KeyObject, name: KeyVariable, report: (variable: string, message: string) => void): KeyObject | undefined {
  let key: KeyObject;
  try {
    key = load();
  } catch {
    report(name, 'is not a readable PEM key (check that the BEGIN/END lines match the content)');
    return undefined;
  }
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    report(name, 'must be an RSA key of at least 2048 bits (Alipay RSA2)');
    return undefined;
  }
  return key;
}

function sameKey(privateKey: KeyObject, publicKey: KeyObject): boolean {
  return createPublicKey(privateKey).equals(publicKey);
}
