import path from 'node:path';
import type { NextFunction, Request, Response, Router } from 'express';
import { exactRouter } from '../http/router';

/** Built by `npm run build` (console/ compiled by tsc, its page and styles copied), relative to the working directory like config/. */
export const CONSOLE_DIR = path.resolve('dist/console');

/**
 * The console's own policy, stricter than the API's: its scripts and styles only from here, no inline code,
 * no frames, no forms posting elsewhere, and calls only to this origin (where the ops API is).
 */
const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const FILE = /^[a-z][a-z0-9-]*\.(js|css)$/;

/** GET /ops/: the review console, static files only; it talks to /v1/ops/ with the staff token it keeps in sessionStorage. */
export function consoleRouter(dir = CONSOLE_DIR): Router {
  const router = exactRouter();
  const policy = (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('Cache-Control', 'no-cache');
    next();
  };
  router.get('/ops', (_req, res) => res.redirect(301, '/ops/'));
  router.get('/ops/', policy, (_req, res) => res.sendFile(path.join(dir, 'index.html')));
  router.get('/ops/:file', policy, (req, res, next) => {
    const file = String(req.params.file);
    if (!FILE.test(file)) return next();
    res.sendFile(path.join(dir, file), (error) => error && next());
  });
  return router;
}
