/**
 * @module deploy/f5/cis-configmap
 * The ConfigMap that hands kftpd's AS3 declaration to F5 Container Ingress Services running in
 * AS3 ConfigMap mode. CIS finds it by its labels (f5type: virtual-server, as3: "true") in the
 * namespace it watches, fills every pool left with empty serverAddresses from the Service that
 * carries the matching cis.f5.com/as3-tenant / as3-app / as3-pool labels, and posts the result
 * to BIG-IP. Pure: no I/O.
 *
 * data.template holds the full AS3 request (class AS3 with its declaration), not the bare ADC
 * declaration: that is the form of every example in CIS's user-defined-configmap README, and
 * CIS reads the tenants from the template's "declaration" property, so a bare ADC object would
 * be rejected ("No ADC class declaration found").
 */
import type { Config } from '../../config/schema.js';
import { deployLayout } from '../layout.js';
import type { KubernetesObject } from '../kubernetes/object-meta.js';
import type { As3Request } from './as3-types.js';

/** The labels CIS's AS3 ConfigMap informer selects on. */
export const CIS_AS3_CONFIGMAP_LABELS = Object.freeze({ f5type: 'virtual-server', as3: 'true' });

export function cisConfigMapName(config: Config): string {
  return `${config.deploy.name}-f5-as3`;
}

/** The AS3 request as CIS wants it in data.template: pretty JSON, so `kubectl get -o yaml` stays readable. */
export function cisConfigMap(config: Config, request: As3Request): KubernetesObject {
  const layout = deployLayout(config);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: cisConfigMapName(config),
      namespace: config.deploy.f5.cisNamespace === '' ? config.deploy.kubernetes.namespace : config.deploy.f5.cisNamespace,
      labels: { ...layout.labels, ...CIS_AS3_CONFIGMAP_LABELS },
    },
    data: { template: `${JSON.stringify(request, null, 2)}\n` },
  };
}
