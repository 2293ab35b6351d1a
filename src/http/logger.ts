import pino, { DestinationStream, Logger } from 'pino';

/**
 * Structured logs without personal data: credentials, signatures and client addresses are removed before
 * a line is written. Request bodies are never logged.
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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, remove: true }, base: { service: 'kalos-pay' } }, destination);
}
