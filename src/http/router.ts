import { NextFunction, Request, RequestHandler, Response, Router } from 'express';

/**
 * Routes match exactly: `/METRICS` is not `/metrics` and `/v1/catalog/` is not `/v1/catalog`, so a proxy
 * rule written for one spelling cannot be walked around with another. Express applies its app settings to
 * the app's own router only; every router is made here so that none falls back to the lenient default.
 */
export const ROUTING = { caseSensitive: true, strict: true } as const;

export function exactRouter(): Router {
  return Router(ROUTING);
}

/**
 * `router`, asked only about requests whose path starts as one of its routes does: the literal head of each
 * route (`/v1/orders/` of `/v1/orders/:id`). Express asks every mounted router about every request, and a
 * router tries its routes one pattern at a time, so a checkout was tried against some thirty routes before
 * its own. Heads are read from the router as it is mounted, so a route needs nothing here, but one added
 * after mounting is never asked about. A router holding anything but routes, a case-insensitive one (see
 * exactRouter) and one with an escaped character in a route are asked about every request.
 */
export function mountRoutes(router: Router): RequestHandler {
  const paths = router.stack.map((layer) => layer.route?.path);
  // The heads are compared as they are spelled: so only for a case-sensitive router of plain route paths.
  const caseSensitive = (router as { caseSensitive?: boolean }).caseSensitive === true;
  if (!caseSensitive || paths.some((path) => typeof path !== 'string' || path.includes('\\'))) return router;
  const heads = [...new Set(paths.map((path) => path!.split(/[:*{(]/)[0]))];
  return (req: Request, res: Response, next: NextFunction) => (heads.some((head) => req.path.startsWith(head)) ? router(req, res, next) : next());
}
