import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface StaffSigningKey {
  privateKeyPem: string;
  publicKeyPem: string;
}

/**
 * The embedded staff issuer's key pair, in its own file beside secrets.json: a separate key from the
 * embedded app issuer's, so a token of one can never verify as the other even if the claims were copied.
 * Created once (`wx`: two processes starting together agree on one file), mode 0600.
 */
export function loadOrCreateStaffKey(dataDir: string): StaffSigningKey {
  const file = path.join(dataDir, 'staff-issuer.json');
  if (!fs.existsSync(file)) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pair: StaffSigningKey = {
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      fs.writeFileSync(file, JSON.stringify(pair, null, 2), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as StaffSigningKey;
}
