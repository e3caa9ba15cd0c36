/**
 * @module deploy/kubernetes/disruption-budget
 * The PodDisruptionBudget limiting how many replicas voluntary disruptions (node drains,
 * cluster upgrades) take down at once. Pure.
 */
import type { Config } from '../../config/schema.js';
import type { DeployLayout } from '../layout.js';
import { objectMeta } from './object-meta.js';
import type { KubernetesObject } from './object-meta.js';

export function podDisruptionBudget(config: Config, layout: DeployLayout): KubernetesObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(layout, layout.name),
    spec: {
      maxUnavailable: config.deploy.kubernetes.maxUnavailable,
      selector: { matchLabels: { ...layout.selector } },
    },
  };
}
