import express, { Express, NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { Gateway } from '../app/context';
import { catalogRouter } from '../catalog/routes';
import { opsRouter } from '../ops/routes';
import { paymentsRouter } from '../payments/routes';
import { sandboxRouter } from '../providers/sandbox/routes';
import { riskRouter } from '../risk/routes';
import { erasureDepsOf } from '../rights/erasure';
import { rightsRouter } from '../rights/routes';
import { consoleRouter } from '../staff/console';
import { staffRouter } from '../staff/routes';
import { webhooksRouter } from '../webhooks/routes';
import { requireAppUser } from './auth';
import { errorHandler, unknownRoute } from './errors';
import { refuseCardData, requireJsonBody } from './guards';
import { requestLog } from './logger';
import { bodyReadDeadline } from './deadlines';
import { createRateLimits } from './rate-limit';
import { requestId } from './request-id';
import { mountRoutes, ROUTING } from './router';
import { observeAnswers } from '../ops/instrument';
import { withRequestContext } from '../ops/request-context';

function recordMetrics(gateway: Gateway) {
  return (req: Request, res: Response, next: NextFunction) => {
    const stop = gateway.metrics.httpRequests.startTimer();
    res.on('finish', () => stop({ method: req.method, route: req.route?.path ?? 'unmatched', status: String(res.statusCode) }));
    next();
  };
}

/** HTTP is a thin shell: parse, authenticate, call a domain service, serialise. */
export function createApp(gateway: Gateway): Express {
  const { config } = gateway;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('etag', false);
  app.set('case sensitive routing', ROUTING.caseSensitive);
  app.set('strict routing', ROUTING.strict);

  const limits = createRateLimits({
    redis: gateway.redis,
    ipPerMinute: config.rateLimit.ipPerMinute,
    userPerMinute: config.rateLimit.userPerMinute,
    keyPrefix: config.rateLimit.redisKeyPrefix,
    onRefused: (scope) => gateway.metrics.rateLimitRefusals.inc({ scope }),
    hashKey: (kind, value) => gateway.blindIndex.hash(kind, value),
  });
  const requireUser = requireAppUser(gateway.tokens);
  const authenticate = [requireUser, limits.byUser];

  app.use(requestId);
  app.use(withRequestContext);
  app.use(bodyReadDeadline(config.http.bodyIdleTimeoutMs));
  app.use(requestLog(gateway.logger));
  // The default CSP, without upgrade-insecure-requests: the /docs page must load its own assets over
  // plain http too (a gateway behind a TLS-terminating proxy, or on a laptop).
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.use(recordMetrics(gateway));
  app.use(observeAnswers(gateway.metrics, gateway.providers));
  // API answers are for one caller (orders, payments carrying a Stripe client_secret): no cache keeps them.
  app.use('/v1', (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  app.use(mountRoutes(opsRouter({ db: gateway.db, metrics: gateway.metrics })));
  app.use(mountRoutes(consoleRouter()));
  // Webhooks are not limited per IP: providers send bursts from few addresses, and every one is verified.
  app.use(mountRoutes(webhooksRouter(gateway.webhooks)));
  app.use('/v1', limits.byIp);
  app.use(requireJsonBody, express.json({ limit: '100kb', strict: true }), refuseCardData);
  app.use(mountRoutes(staffRouter({ ...gateway, riskSettings: config.risk })));
  app.use(mountRoutes(catalogRouter(gateway.catalog, authenticate)));
  app.use(mountRoutes(paymentsRouter({ db: gateway.db, vault: gateway.vault, checkout: gateway.checkout, authenticate, requireUser, admitUser: limits.admitUser })));
  app.use(mountRoutes(riskRouter({ ...gateway, stepUp: config.risk.stepUp, authenticate })));
  app.use(
    mountRoutes(
      rightsRouter({
        ...gateway,
        ...erasureDepsOf(gateway),
        identity: gateway.rightsIdentity,
        policyVersion: config.rights.policyVersion,
        exportBatchSize: config.rights.exportBatchSize,
        authenticate,
      }),
    ),
  );
  if (gateway.providers.get('sandbox') && gateway.keys.sandboxWebhookSecret) {
    app.use(
      mountRoutes(
        sandboxRouter({
          db: gateway.db,
          vault: gateway.vault,
          webhookSecret: gateway.keys.sandboxWebhookSecret,
          webhookUrl: () => config.sandbox.webhookUrl ?? `${gateway.selfUrl}/v1/webhooks/sandbox`,
          authenticate,
        }),
      ),
    );
  }
  app.use(unknownRoute);
  app.use(errorHandler(gateway.logger));
  return app;
}
