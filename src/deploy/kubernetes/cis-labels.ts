/**
 * @module deploy/kubernetes/cis-labels
 * The labels F5 Container Ingress Services (AS3 ConfigMap mode) uses to find the Service
 * behind each AS3 pool: tenant, application and pool name (the same names the F5 renderer
 * declares, from deploy/layout). CIS requires each label set to be on exactly one Service
 * ("multiple Service resources tagged with same set of labels will cause a CIS service
 * discovery to fail", F5 CIS docs, kctlr-k8s-as3), which is why a replica's data ports are
 * never split across several Services. Pure.
 */
import type { Config } from '../../config/schema.js';
import { DeployLayoutError, f5TenantName } from '../layout.js';

export const CIS_LABEL_KEYS = Object.freeze({
  tenant: 'cis.f5.com/as3-tenant',
  application: 'cis.f5.com/as3-app',
  pool: 'cis.f5.com/as3-pool',
});

/** A Kubernetes label value: at most 63 characters, alphanumeric at both ends. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function labelValue(value: string, what: string): string {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    throw new DeployLayoutError(`${what} "${value}" cannot be a Kubernetes label value (CIS discovery labels): at most 63 characters, starting and ending with a letter or digit`);
  }
  return value;
}

/**
 * The CIS labels for `pool`, or none when the pools are not filled by CIS
 * (deploy.f5.poolMembers static): stray discovery labels could make a CIS instance watching
 * the namespace fight over the tenant.
 */
export function cisLabels(config: Config, pool: string): Record<string, string> {
  const { f5 } = config.deploy;
  if (f5.poolMembers !== 'cis') return {};
  return {
    [CIS_LABEL_KEYS.tenant]: labelValue(f5TenantName(config), 'deploy.f5.tenant (or deploy.name)'),
    [CIS_LABEL_KEYS.application]: labelValue(f5.application, 'deploy.f5.application'),
    [CIS_LABEL_KEYS.pool]: labelValue(pool, 'AS3 pool name'),
  };
}
