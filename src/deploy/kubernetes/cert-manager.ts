/**
 * @module deploy/kubernetes/cert-manager
 * The optional cert-manager Certificate (cert-manager.io/v1) that issues the server
 * certificate into deploy.kubernetes.tlsSecretName, which the pods mount and the server
 * reloads in place when cert-manager renews it. Pure.
 */
import { isIP } from 'node:net';
import type { Config } from '../../config/schema.js';
import { DeployLayoutError } from '../layout.js';
import type { DeployLayout } from '../layout.js';
import { objectMeta } from './object-meta.js';
import type { KubernetesObject } from './object-meta.js';

export function certificate(config: Config, layout: DeployLayout): KubernetesObject | null {
  const { certManager, tlsSecretName } = config.deploy.kubernetes;
  if (!certManager.enabled) return null;
  if (certManager.issuerName === '') {
    throw new DeployLayoutError('deploy.kubernetes.certManager.enabled needs deploy.kubernetes.certManager.issuerName (the Issuer or ClusterIssuer that signs the certificate)');
  }
  // Without explicit names, the address clients are told to use (PASV) is the name they use.
  const advertised = layout.advertisedAddress;
  const dnsNames = certManager.dnsNames.length > 0 ? [...certManager.dnsNames] : advertised !== '' && isIP(advertised) === 0 ? [advertised] : [];
  const ipAddresses = certManager.dnsNames.length === 0 && isIP(advertised) !== 0 ? [advertised] : [];
  if (dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new DeployLayoutError('deploy.kubernetes.certManager.dnsNames is empty and there is no passive.address or deploy.f5.virtualAddress to put on the certificate: list the names clients connect to');
  }
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: objectMeta(layout, layout.name),
    spec: {
      secretName: tlsSecretName,
      issuerRef: { name: certManager.issuerName, kind: certManager.issuerKind, group: 'cert-manager.io' },
      ...(dnsNames.length > 0 ? { dnsNames } : {}),
      ...(ipAddresses.length > 0 ? { ipAddresses } : {}),
      usages: ['digital signature', 'key encipherment', 'server auth'],
      // A new key at each renewal (cert-manager's default only from 1.18 on).
      privateKey: { rotationPolicy: 'Always' },
    },
  };
}
