import net from 'node:net';
import geoip from 'geoip-country';

/**
 * IP → country from geoip-country, which ships MaxMind's GeoLite2 country data (IPv4 and IPv6, ~8 MB)
 * inside the npm package and is republished as the data changes: nothing is downloaded at install or run
 * time, and a lookup is an in-memory binary search. Upgrading the package upgrades the data.
 */
export function ipCountry(ip: string): string | undefined {
  if (net.isIP(ip) === 0) return undefined;
  return geoip.lookup(ip)?.country || undefined;
}

/**
 * One address, one spelling, so one hash: `::ffff:1.2.3.4` (how a dual-stack socket reports IPv4) becomes
 * `1.2.3.4`, and IPv6 takes its canonical RFC 5952 form (`2001:db8:0:0::1` → `2001:db8::1`), which the
 * WHATWG URL parser produces.
 */
export function normaliseIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1];
  if (net.isIPv6(ip)) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return ip.toLowerCase();
}

export interface Point {
  lat: number;
  lon: number;
}

const EARTH_RADIUS_KM = 6371.0088;
const radians = (degrees: number) => (degrees * Math.PI) / 180;

/** Great-circle (haversine) distance. */
export function distanceKm(a: Point, b: Point): number {
  const dLat = radians(b.lat - a.lat);
  const dLon = radians(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(radians(a.lat)) * Math.cos(radians(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}
