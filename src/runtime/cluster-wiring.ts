/**
 * @module runtime/cluster-wiring
 * Owns how a server joins the shared protection store from its config: nothing without
 * cluster.redis.url; otherwise the Redis store (password and CA read from their files), the
 * kftpd_cluster_store_up gauge, its log lines, and a short wait for the first connection so
 * the first logins after a start are already shared. The wait is bounded by
 * cluster.redis.connectTimeoutMs: an unreachable store never stops a replica from serving.
 */
import type { Config } from '../config/schema.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { Defender } from '../security/defender.js';
import type { Logger } from '../core/logger.js';
import { RedisProtectionStore } from '../cluster/redis-store.js';
import { SharedProtection } from '../cluster/shared-protection.js';

export async function joinCluster(config: Readonly<Config>, defender: Defender, deps: { logger: Logger; metrics: ServerMetrics }): Promise<SharedProtection | null> {
  const { cluster } = config;
  const { redis } = cluster;
  if (redis.url === '') return null;
  const { logger } = deps;
  const store = await RedisProtectionStore.open({
    url: redis.url,
    keyPrefix: redis.keyPrefix,
    commandTimeoutMs: redis.commandTimeoutMs,
    connectTimeoutMs: redis.connectTimeoutMs,
    ...(redis.passwordFile === '' ? {} : { passwordFile: redis.passwordFile }),
    ...(redis.caFile === '' ? {} : { caFile: redis.caFile }),
    onError: (error) => logger.warn({ event: 'cluster.store-error', err: error }, 'shared protection store connection failed'),
  });
  const shared = new SharedProtection(defender, store, { sessionLeaseMs: cluster.sessionLeaseMs, banSyncIntervalMs: cluster.banSyncIntervalMs, maxSessionsPerUser: config.limits.maxSessionsPerUser }, { logger });
  deps.metrics.observeClusterStore(() => store.up);
  await new Promise<void>((resolve) => {
    if (store.up) return resolve();
    const timer = setTimeout(resolve, redis.connectTimeoutMs);
    timer.unref();
    store.onStatus((up) => {
      if (!up) return;
      clearTimeout(timer);
      resolve();
    });
  });
  shared.start();
  const target = new URL(redis.url);
  logger.info({ event: 'cluster.joined', store: store.kind, host: target.host, up: store.up }, store.up ? 'sharing protection state through the store' : 'store not reachable yet: protecting with local state until it is');
  return shared;
}
