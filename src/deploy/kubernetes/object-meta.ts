/**
 * @module deploy/kubernetes/object-meta
 * The shape every rendered Kubernetes object shares (apiVersion, kind, namespaced metadata
 * with the release labels) and the helper that builds its metadata. Pure.
 */
import type { DeployLayout } from '../layout.js';

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A rendered object: plain data, ready for YAML. Every kind rendered here is namespaced. */
export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly [field: string]: unknown;
}

/**
 * Metadata for an object named `name` in the release's namespace, carrying the release
 * labels plus `extraLabels`; `annotations` only when there are some (an empty map would be
 * noise in the YAML and in diffs).
 */
export function objectMeta(
  layout: DeployLayout,
  name: string,
  extraLabels: Readonly<Record<string, string>> = {},
  annotations: Readonly<Record<string, string>> = {},
): ObjectMeta {
  const meta: ObjectMeta = { name, namespace: layout.namespace, labels: { ...layout.labels, ...extraLabels } };
  return Object.keys(annotations).length > 0 ? { ...meta, annotations: { ...annotations } } : meta;
}
