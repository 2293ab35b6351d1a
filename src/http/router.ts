import { Router } from 'express';

/**
 * Routes match exactly: `/METRICS` is not `/metrics` and `/v1/catalog/` is not `/v1/catalog`, so a proxy
 * rule written for one spelling cannot be walked around with another. Express applies its app settings to
 * the app's own router only; every router is made here so that none falls back to the lenient default.
 */
export const ROUTING = { caseSensitive: true, strict: true } as const;

export function exactRouter(): Router {
  return Router(ROUTING);
}
