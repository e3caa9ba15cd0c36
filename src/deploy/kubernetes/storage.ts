/**
 * @module deploy/kubernetes/storage
 * The PersistentVolumeClaim every replica mounts as the served tree. One claim shared by all
 * replicas, not a volumeClaimTemplate: a client may upload through one replica and list or
 * download through another, so they must see the same files. Pure.
 */
import type { Config } from '../../config/schema.js';
import { dataClaimName } from '../layout.js';
import type { DeployLayout } from '../layout.js';
import { objectMeta } from './object-meta.js';
import type { KubernetesObject } from './object-meta.js';

export type AccessMode = 'ReadWriteMany' | 'ReadWriteOnce';

/** deploy.kubernetes.storage.accessMode with `auto` resolved: ReadWriteMany for several replicas. */
export function dataAccessMode(config: Config): AccessMode {
  const { accessMode } = config.deploy.kubernetes.storage;
  if (accessMode !== 'auto') return accessMode;
  return config.passive.replicas > 1 ? 'ReadWriteMany' : 'ReadWriteOnce';
}

/** The claim to create, or null when deploy.kubernetes.storage.existingClaim names one. */
export function dataClaim(config: Config, layout: DeployLayout): KubernetesObject | null {
  const { storage } = config.deploy.kubernetes;
  if (storage.existingClaim !== '') return null;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: objectMeta(layout, dataClaimName(config)),
    spec: {
      accessModes: [dataAccessMode(config)],
      ...(storage.storageClassName !== '' ? { storageClassName: storage.storageClassName } : {}),
      resources: { requests: { storage: storage.size } },
    },
  };
}
