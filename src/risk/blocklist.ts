import net from 'node:net';
import type { Sql } from '../db/database';
import { invalidRequest } from '../shared/errors';
import { normaliseIp } from './geo';

/** The keyed hash the gateway uses for personal identifiers (the privacy vault's blind index). */
export interface IdentifierHasher {
  hash(purpose: 'user' | 'device' | 'ip', value: string): string;
}

export const BLOCKLIST_KINDS = ['device', 'user', 'ip'] as const;
export type BlocklistKind = (typeof BLOCKLIST_KINDS)[number];

/**
 * How a blocklist value is stored. Devices, users and single IP addresses are personal data: only their
 * keyed hash is stored, so the list can be matched but not read back. An IP range (CIDR) names a network,
 * not a person, and must be stored in plain text to be matched by containment; a "range" of one address
 * (/32, /128) is a single IP and is hashed like one.
 */
export type BlocklistEntry = { kind: BlocklistKind; valueHash: string } | { kind: 'ip'; range: string };

function parseCidr(value: string): { address: string; prefix: number; family: 4 | 6 } | undefined {
  const [address, prefixText, ...rest] = value.split('/');
  const family = net.isIP(address);
  if (rest.length > 0 || family === 0 || !/^\d{1,3}$/.test(prefixText ?? '')) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address: normaliseIp(address), prefix, family: family as 4 | 6 };
}

export function toBlocklistEntry(kind: BlocklistKind, raw: string, hasher: IdentifierHasher): BlocklistEntry {
  const value = raw.trim();
  if (value === '' || value.length > 255) throw invalidRequest('parameter_invalid', 'A blocklist value is 1–255 characters.', 'value');
  if (kind !== 'ip') return { kind, valueHash: hasher.hash(kind, value) };
  if (net.isIP(value) !== 0) return { kind, valueHash: hasher.hash('ip', normaliseIp(value)) };
  const cidr = parseCidr(value);
  if (!cidr) throw invalidRequest('parameter_invalid', 'An IP blocklist value is an IPv4/IPv6 address or a CIDR range.', 'value');
  if (cidr.prefix === (cidr.family === 4 ? 32 : 128)) return { kind, valueHash: hasher.hash('ip', cidr.address) };
  return { kind, range: `${cidr.address}/${cidr.prefix}` };
}

/**
 * Adds an entry; adding it twice is harmless. Returns false when it was already there. An entry past its
 * expiry no longer matches (remove it to add it anew).
 */
export async function addToBlocklist(sql: Sql, entry: BlocklistEntry, note?: string, expiresAt?: Date): Promise<boolean> {
  const rows = await sql.many(
    `INSERT INTO risk_blocklist (kind, value_hash, ip_range, note, expires_at) VALUES ($1, $2, $3::cidr, $4, $5)
     ON CONFLICT DO NOTHING RETURNING id`,
    [entry.kind, 'valueHash' in entry ? entry.valueHash : null, 'range' in entry ? entry.range : null, note ?? null, expiresAt ?? null],
  );
  return rows.length > 0;
}

/** Removes one entry by the id the list shows (hashed entries cannot be named by their value in a list). */
export async function removeBlocklistEntry(sql: Sql, id: number): Promise<boolean> {
  return (await sql.many('DELETE FROM risk_blocklist WHERE id = $1 RETURNING id', [id])).length > 0;
}

export async function removeFromBlocklist(sql: Sql, entry: BlocklistEntry): Promise<boolean> {
  const rows =
    'valueHash' in entry
      ? await sql.many('DELETE FROM risk_blocklist WHERE kind = $1 AND value_hash = $2 RETURNING id', [entry.kind, entry.valueHash])
      : await sql.many('DELETE FROM risk_blocklist WHERE ip_range = $1::cidr RETURNING id', [entry.range]);
  return rows.length > 0;
}

export interface BlocklistRow {
  id: string;
  kind: BlocklistKind;
  /** The stored hash for hashed entries, the range for IP ranges. */
  value: string;
  hashed: boolean;
  note: string | null;
  created_at: Date;
  expires_at: Date | null;
}

export async function listBlocklist(sql: Sql, kind?: BlocklistKind): Promise<BlocklistRow[]> {
  return sql.many<BlocklistRow>(
    `SELECT id, kind, COALESCE(value_hash, ip_range::text) AS value, value_hash IS NOT NULL AS hashed, note, created_at, expires_at
       FROM risk_blocklist WHERE $1::text IS NULL OR kind = $1 ORDER BY created_at DESC, id DESC`,
    [kind ?? null],
  );
}

export interface ListMatches {
  user: boolean;
  device: boolean;
  ip: boolean;
  /** An earlier payment of this user from this device was paid, or passed step-up: the device is proven. */
  deviceKnownForUser: boolean;
  /** This user's payments of the last 24 h still waiting for step-up verification (a retry must not skip it). */
  unverifiedChallenges24h: number;
  /** This user's payments of the last 24 h that the rules sent to review (not our own outages' fail mode). */
  reviews24h: number;
}

const LIVE = '(expires_at IS NULL OR expires_at > now())';

/** Every database-backed check of a checkout in one round trip. */
export async function matchLists(
  sql: Sql,
  keys: { userHash: string; deviceHash: string; ipHash: string; ip: string },
): Promise<ListMatches> {
  const row = await sql.one<ListMatches>(
    `SELECT EXISTS (SELECT 1 FROM risk_blocklist WHERE kind = 'user' AND value_hash = $1 AND ${LIVE}) AS "user",
            EXISTS (SELECT 1 FROM risk_blocklist WHERE kind = 'device' AND value_hash = $2 AND ${LIVE}) AS "device",
            EXISTS (SELECT 1 FROM risk_blocklist WHERE kind = 'ip' AND ${LIVE}
                      AND (value_hash = $3 OR ($4::inet IS NOT NULL AND ip_range >>= $4::inet))) AS "ip",
            EXISTS (SELECT 1 FROM payments p WHERE p.user_hash = $1 AND p.device_hash = $2
                      AND (p.status IN ('succeeded', 'partially_refunded', 'refunded', 'disputed')
                           OR EXISTS (SELECT 1 FROM risk_step_up_attempts a WHERE a.payment_id = p.id AND a.passed))) AS "deviceKnownForUser",
            (SELECT count(*)::int FROM payments WHERE user_hash = $1 AND status = 'requires_verification'
               AND created_at > now() - interval '24 hours') AS "unverifiedChallenges24h",
            (SELECT count(*)::int FROM payments p JOIN risk_decisions d ON d.payment_id = p.id AND d.stage = 'checkout'
              WHERE p.user_hash = $1 AND p.risk_decision = 'review' AND NOT d.fail_mode
                AND p.created_at > now() - interval '24 hours') AS "reviews24h"`,
    [keys.userHash, keys.deviceHash, keys.ipHash, net.isIP(keys.ip) === 0 ? null : keys.ip],
  );
  return row!;
}
