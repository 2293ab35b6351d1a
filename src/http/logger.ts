import pino, { DestinationStream, Logger } from 'pino';
import { maskCardNumbers } from '../privacy/card-data';

/**
 * Structured logs without personal data. Request lines keep only method, path and status (see
 * requestLogSerializers); these paths are removed as a second line of defence wherever else they appear.
 * Request bodies are never logged.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sandbox-signature"]',
  'req.headers["stripe-signature"]',
  'req.headers["x-forwarded-for"]',
  'req.headers["x-real-ip"]',
  'req.remoteAddress',
  'req.remotePort',
  'res.headers["set-cookie"]',
  '*.userId',
  '*.user_id',
  '*.ipAddress',
  '*.deviceId',
];

/** The path as logged: decoded first, so a card number spelled with %20 or %34%32 is masked too. */
function loggablePath(rawPath: string): string {
  try {
    return maskCardNumbers(decodeURIComponent(rawPath));
  } catch {
    return '[undecodable path]';
  }
}

/**
 * What a request log line keeps: method and path only. No query string, no headers (User-Agent names the
 * device model, forwarding headers the client's address), and card numbers masked even in the path.
 */
export const requestLogSerializers = {
  req: (req: { id?: unknown; method?: string; url?: string }) => ({
    id: req.id,
    method: req.method,
    path: loggablePath(String(req.url ?? '').split('?')[0]),
  }),
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
};

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, remove: true }, base: { service: 'kalos-pay' } }, destination);
}
