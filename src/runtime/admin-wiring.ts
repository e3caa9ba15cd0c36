/**
 * @module runtime/admin-wiring
 * Owns the admin listener's composition: Prometheus metrics, /readyz (every frontend's
 * listeners bound, storage reachable, users loaded, not draining) and the /bans routes
 * (this replica's defender, or the whole service's bans through the shared store).
 */
import type { Authenticator } from '../auth/types.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { AdminServer, type ReadinessCheck } from '../observability/admin-http.js';
import { AdminToken } from '../observability/admin-token.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { StorageProvider } from '../storage/types.js';
import { bansRoute, type BansApi } from './admin-bans.js';
import type { ProtocolFrontend } from './frontend.js';

export interface AdminWiring {
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  readonly frontends: readonly ProtocolFrontend[];
  readonly storage: StorageProvider;
  readonly auth: Authenticator;
  readonly draining: () => boolean;
  readonly bans: BansApi;
}

export async function startAdmin(config: Readonly<Config>, wiring: AdminWiring): Promise<AdminServer> {
  const { logger } = wiring;
  const admin = new AdminServer({
    host: config.admin.host,
    port: config.admin.port,
    registry: wiring.metrics.registry,
    readiness: readinessChecks(wiring),
    onCheckError: (name, error) => logger.warn({ event: 'readiness.check-failed', check: name, err: error }, 'readiness check failed'),
    routes: [
      bansRoute({
        bans: wiring.bans,
        token: new AdminToken(config.admin.tokenFile),
        onAction: (action, detail) => logger.warn({ event: `admin.${action}`, ...detail }, 'admin /bans request'),
      }),
    ],
  });
  const address = await admin.start();
  logger.info({ event: 'admin.listening', ...address }, 'admin HTTP listening');
  return admin;
}

function readinessChecks(wiring: AdminWiring): ReadinessCheck[] {
  const { frontends, storage, auth, logger } = wiring;
  // Storage ping, cached for a second so frequent probes do not hammer a network volume.
  let cached = { at: 0, ok: false };
  const storageReachable = async (): Promise<boolean> => {
    const now = Date.now();
    if (now - cached.at < 1000) return cached.ok;
    const ok = await storage.ping().then(
      () => true,
      (error: unknown) => {
        logger.warn({ event: 'storage.unreachable', err: error }, 'storage ping failed');
        return false;
      },
    );
    cached = { at: now, ok };
    return ok;
  };
  return [
    { name: 'listeners', check: () => frontends.every((f) => f.listening) },
    { name: 'storage', check: storageReachable },
    { name: 'users', check: () => auth.ready() },
    { name: 'not-draining', check: () => !wiring.draining() },
  ];
}
