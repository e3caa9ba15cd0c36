/**
 * @module test/unit/deploy/kubernetes-fixtures
 * The configs the Kubernetes renderer tests render, by scenario, and small accessors for the
 * rendered objects.
 */
import { configSchema } from '../../../src/config/schema.js';
import type { Config, ConfigInput } from '../../../src/config/schema.js';
import { kubernetesManifests } from '../../../src/deploy/kubernetes/render-kubernetes.js';
import type { KubernetesObject } from '../../../src/deploy/kubernetes/object-meta.js';

export function configOf(input: ConfigInput): Config {
  return configSchema.parse(input);
}

/** A plain view of a rendered object for reading nested fields in assertions (tests only: a
 * typo in a path reads undefined and fails the assertion it is used in). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the point of this type
export type Loose = any;

export const SCENARIOS: Readonly<Record<string, ConfigInput>> = {
  'defaults, 3 replicas': { passive: { portMin: 50000, portMax: 50299, replicas: 3, address: 'ftp.example.com' } },
  'LoadBalancer with a fixed IP': {
    passive: { portMin: 50000, portMax: 50099, replicas: 2, address: '203.0.113.10' },
    deploy: {
      kubernetes: {
        service: { type: 'LoadBalancer', loadBalancerIP: '203.0.113.10', externalTrafficPolicy: 'Local', annotations: ['example.com/owner=ftp-team'] },
      },
    },
  },
  // The working node-port design (examples/nodeport.yaml): any node forwards, so no address check.
  'NodePort data Services': {
    passive: { portMin: 30100, portMax: 30139, replicas: 2, address: 'ftp.example.com', requireSameAddress: false },
    defender: { enabled: false },
    deploy: {
      kubernetes: {
        image: 'ghcr.io/kftpd/kftpd:0.1.0',
        service: { type: 'NodePort', controlNodePort: 30021, externalTrafficPolicy: 'Cluster' },
        dataServiceType: 'NodePort',
      },
    },
  },
  'implicit TLS on port 990, privileged control port': {
    listen: { port: 21 },
    passive: { portMin: 40000, portMax: 40011, replicas: 3, address: 'ftp.example.com' },
    tls: { control: 'required', data: 'required', implicit: { enabled: true, port: 990 } },
    proxy: { control: 'required', implicit: 'required', passive: 'required', trustedCidrs: ['10.1.0.0/24', '10.1.1.7'] },
    deploy: {
      f5: { virtualAddress: '203.0.113.10' },
      kubernetes: { networkPolicy: { allowFrom: ['10.1.0.0/24'], metricsFrom: ['monitoring'] } },
    },
  },
  'cert-manager and ServiceMonitor': {
    passive: { portMin: 50000, portMax: 50019, replicas: 2, address: 'ftp.example.com' },
    deploy: {
      kubernetes: {
        certManager: { enabled: true, issuerName: 'letsencrypt', dnsNames: ['ftp.example.com'] },
        serviceMonitor: { enabled: true, interval: '15s' },
        storage: { storageClassName: 'nfs-client', size: '500Gi' },
      },
    },
  },
  'SFTP beside FTPS, host keys from one Secret, CIS pools': {
    passive: { portMin: 40000, portMax: 40299, replicas: 3, address: '192.0.2.10' },
    tls: { control: 'required', data: 'required' },
    sftp: { enabled: true, port: 2222, hostKeyFiles: ['keys/ssh_host_ed25519_key', 'keys/ssh_host_ecdsa_key', 'keys/ssh_host_rsa_key'] },
    proxy: { control: 'required', passive: 'required', sftp: 'required', trustedCidrs: ['10.1.0.0/24'] },
    deploy: { f5: { virtualAddress: '192.0.2.10' }, kubernetes: { image: 'ghcr.io/kftpd/kftpd:0.1.0', networkPolicy: { allowFrom: ['10.1.0.0/24'] } } },
  },
  'slice of 250 ports': { passive: { portMin: 50000, portMax: 50499, replicas: 2, address: 'ftp.example.com' } },
  'one replica, existing claim, no NetworkPolicy': {
    passive: { portMin: 50000, portMax: 50009, replicas: 1, address: 'ftp.example.com' },
    deploy: { kubernetes: { storage: { existingClaim: 'ftp-data' }, networkPolicy: { enabled: false } } },
  },
};

/** The scenario called `name` (throws for a name not in SCENARIOS). */
export function scenario(name: string): ConfigInput {
  const input = SCENARIOS[name];
  if (input === undefined) throw new Error(`no scenario "${name}"`);
  return input;
}

export function render(input: ConfigInput): { config: Config; objects: readonly KubernetesObject[]; warnings: readonly string[]; errors: readonly string[] } {
  const config = configOf(input);
  const { objects, warnings, errors } = kubernetesManifests(config);
  return { config, objects, warnings, errors };
}

export function only(objects: readonly KubernetesObject[], kind: string, name?: string): Loose {
  const found = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
}

export function all(objects: readonly KubernetesObject[], kind: string): Loose[] {
  return objects.filter((object) => object.kind === kind);
}
