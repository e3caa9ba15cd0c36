/**
 * @module deploy/cluster-store
 * How a pod reaches the shared protection store (cluster.redis.*): the URL travels in the
 * ConfigMap as the operator wrote it; the password and the CA bundle, when the config names
 * files for them, come from the Secret `<name>-redis` (keys `password` and `ca.crt`), mounted
 * whole at /etc/kftpd/redis so Kubernetes can update it in place. Without a store nothing is
 * added. Pure.
 */
import type { Config } from '../config/schema.js';

export const CLUSTER_STORE_PATHS = Object.freeze({
  dir: '/etc/kftpd/redis',
  passwordFile: '/etc/kftpd/redis/password',
  caFile: '/etc/kftpd/redis/ca.crt',
});

/** Secret keys: `password` (the Redis AUTH password), `ca.crt` (PEM CA for rediss://). */
export const CLUSTER_STORE_SECRET_KEYS = Object.freeze({ password: 'password', ca: 'ca.crt' });

const VOLUME = 'redis';

export function clusterStoreSecretName(config: Config): string {
  return `${config.deploy.name}-redis`;
}

function secretItems(config: Config): { key: string; path: string }[] {
  const { redis } = config.cluster;
  if (redis.url === '') return [];
  return [
    ...(redis.passwordFile === '' ? [] : [{ key: CLUSTER_STORE_SECRET_KEYS.password, path: 'password' }]),
    ...(redis.caFile === '' ? [] : [{ key: CLUSTER_STORE_SECRET_KEYS.ca, path: 'ca.crt' }]),
  ];
}

/** The pod's volume for the store's Secret (none when no file is needed). */
export function clusterStoreVolumes(config: Config): Record<string, unknown>[] {
  const items = secretItems(config);
  return items.length === 0 ? [] : [{ name: VOLUME, secret: { secretName: clusterStoreSecretName(config), items } }];
}

export function clusterStoreMounts(config: Config): Record<string, unknown>[] {
  return secretItems(config).length === 0 ? [] : [{ name: VOLUME, mountPath: CLUSTER_STORE_PATHS.dir, readOnly: true }];
}

/** The cluster section a pod reads: the operator's, with the files at their mounted paths. */
export function clusterStorePodConfig(cluster: Config['cluster']): Config['cluster'] {
  const { redis } = cluster;
  if (redis.url === '') return cluster;
  return {
    ...cluster,
    redis: {
      ...redis,
      passwordFile: redis.passwordFile === '' ? '' : CLUSTER_STORE_PATHS.passwordFile,
      caFile: redis.caFile === '' ? '' : CLUSTER_STORE_PATHS.caFile,
    },
  };
}
