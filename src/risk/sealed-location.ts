import { createSecretKey, KeyObject } from 'node:crypto';
import { openAesGcm, sealAesGcm } from '../privacy/keyring';
import type { Point } from './geo';

/** What the location key is derived under from the blind index key; a new label starts a new key. */
export const LOCATION_KEY_LABEL = 'risk-location-v1';

export type TimedPoint = Point & { at: number };

/** Coordinates are kept only as precisely as impossible travel needs: two decimals ≈ 1 km. */
const coarsen = (degrees: number) => Math.round(degrees * 100) / 100;

/**
 * The user's last checkout location is personal data, so the counters (Redis or in-process) only ever hold
 * it sealed: AES-256-GCM under a key of its own, with the user's keyed hash as associated data, so a value
 * copied under another user's key does not open. The counters store and hand back opaque text; sealing and
 * opening happen in the engine, around the counters' single round trip.
 */
export class LocationSeal {
  private readonly key: KeyObject;

  constructor(key: Buffer) {
    this.key = createSecretKey(key);
  }

  seal(userKey: string, location: Point, at: number): string {
    return sealAesGcm(this.key, Buffer.from(`${coarsen(location.lat)},${coarsen(location.lon)},${at}`, 'utf8'), userKey);
  }

  /** A value that does not open (another user's, another key's, an old plaintext one) is no previous location. */
  open(userKey: string, sealed: string | undefined): TimedPoint | undefined {
    if (!sealed) return undefined;
    let plaintext: string;
    try {
      plaintext = openAesGcm(this.key, sealed, userKey).toString('utf8');
    } catch {
      return undefined;
    }
    const [lat, lon, at] = plaintext.split(',').map(Number);
    return [lat, lon, at].every(Number.isFinite) ? { lat, lon, at } : undefined;
  }
}
