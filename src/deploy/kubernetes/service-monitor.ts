/**
 * @module deploy/kubernetes/service-monitor
 * The optional Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1) scraping
 * /metrics through the headless Service's `admin` port: one target per ready pod. Pure.
 */
import type { Config } from '../../config/schema.js';
import type { DeployLayout } from '../layout.js';
import { PORT_NAMES } from './container.js';
import { objectMeta } from './object-meta.js';
import type { KubernetesObject } from './object-meta.js';
import { serviceRoleLabel } from './service-roles.js';

export const METRICS_PATH = '/metrics';

export function serviceMonitor(config: Config, layout: DeployLayout): KubernetesObject | null {
  const { serviceMonitor: settings } = config.deploy.kubernetes;
  if (!settings.enabled) return null;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: objectMeta(layout, layout.name),
    spec: {
      // The role label: every Service of the release carries the release labels, but only
      // the headless one should be scraped (each pod once).
      selector: { matchLabels: { ...layout.selector, ...serviceRoleLabel('headless') } },
      namespaceSelector: { matchNames: [layout.namespace] },
      endpoints: [{ port: PORT_NAMES.admin, path: METRICS_PATH, interval: settings.interval }],
    },
  };
}
