/**
 * @module deploy/kubernetes/volumes
 * The pod's volumes and where the container mounts them: the config (ConfigMap), the users
 * and TLS Secrets, the shared data claim, and emptyDirs for the writable state and log
 * directories (the root filesystem is read-only). Paths come from CONTAINER_PATHS. Pure.
 */
import type { Config } from '../../config/schema.js';
import { CONTAINER_PATHS, dataClaimName } from '../layout.js';
import type { DeployLayout } from '../layout.js';
import { CONFIG_KEY } from './config-map.js';
import { clusterStoreMounts, clusterStoreVolumes } from '../cluster-store.js';
import { sftpHostKeyMounts, sftpHostKeyVolumes } from '../sftp-host-keys.js';

/** The users Secret's key holding the users file. */
export const USERS_KEY = 'users.yaml';

const VOLUME = Object.freeze({ config: 'config', users: 'users', tls: 'tls', data: 'data', state: 'state', logs: 'logs' });

export function podVolumes(config: Config, layout: DeployLayout): Record<string, unknown>[] {
  const { kubernetes } = config.deploy;
  return [
    { name: VOLUME.config, configMap: { name: layout.configMapName, items: [{ key: CONFIG_KEY, path: CONFIG_KEY }] } },
    // Only the users file, so a stray key in the Secret never lands beside it.
    { name: VOLUME.users, secret: { secretName: kubernetes.usersSecretName, items: [{ key: USERS_KEY, path: USERS_KEY }] } },
    {
      name: VOLUME.tls,
      secret: {
        secretName: kubernetes.tlsSecretName,
        items: [
          { key: 'tls.crt', path: 'tls.crt' },
          { key: 'tls.key', path: 'tls.key' },
        ],
      },
    },
    { name: VOLUME.data, persistentVolumeClaim: { claimName: dataClaimName(config) } },
    { name: VOLUME.state, emptyDir: {} },
    { name: VOLUME.logs, emptyDir: {} },
    ...clusterStoreVolumes(config),
    ...sftpHostKeyVolumes(config),
  ];
}

export function containerVolumeMounts(config: Config): Record<string, unknown>[] {
  return [
    // Whole-directory mounts, no subPath: CONTAINER_PATHS keeps config, users and TLS in
    // sibling directories so none has to be mounted inside another (the runtime cannot create
    // a mount point inside a read-only ConfigMap volume), and a subPath mount would never see
    // updates. The config is read once at start; the pod template's digest rolls the pods.
    { name: VOLUME.config, mountPath: CONTAINER_PATHS.configDir, readOnly: true },
    // Kubelet updates these Secrets in place; the server reloads users and certificates
    // without dropping sessions.
    { name: VOLUME.users, mountPath: CONTAINER_PATHS.usersDir, readOnly: true },
    { name: VOLUME.tls, mountPath: CONTAINER_PATHS.tlsDir, readOnly: true },
    { name: VOLUME.data, mountPath: CONTAINER_PATHS.dataDir },
    { name: VOLUME.state, mountPath: CONTAINER_PATHS.stateDir },
    { name: VOLUME.logs, mountPath: CONTAINER_PATHS.logDir },
    ...clusterStoreMounts(config),
    ...sftpHostKeyMounts(config),
  ];
}
