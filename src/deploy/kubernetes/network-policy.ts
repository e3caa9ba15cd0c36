/**
 * @module deploy/kubernetes/network-policy
 * The NetworkPolicy admitting only what kftpd serves: the FTP ports, the SFTP port and the passive range
 * from deploy.kubernetes.networkPolicy.allowFrom (anywhere when empty), and the admin port
 * from the metrics namespaces (and from the balancer when its monitor probes /readyz).
 * Pure.
 */
import { isIP } from 'node:net';
import type { Config } from '../../config/schema.js';
import { parseCidr } from '../../core/cidr.js';
import { DeployLayoutError } from '../layout.js';
import type { DeployLayout } from '../layout.js';
import { objectMeta } from './object-meta.js';
import type { KubernetesObject } from './object-meta.js';

/** The label every namespace carries with its own name (Kubernetes >= 1.21). */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** "10.0.0.0/8" stays; a bare address becomes a one-address block, as ipBlock needs a CIDR. */
function ipBlockCidr(entry: string, what: string): string {
  const parsed = parseCidr(entry);
  if (parsed === null) throw new DeployLayoutError(`${what}: "${entry}" is not a CIDR or an IP address`);
  return entry.includes('/') ? entry : `${entry}/${isIP(entry) === 6 ? 128 : 32}`;
}

function ipPeers(entries: readonly string[], what: string): Record<string, unknown>[] {
  return entries.map((entry) => ({ ipBlock: { cidr: ipBlockCidr(entry, what) } }));
}

/**
 * Where the balancer's /readyz monitor comes from, when deploy.f5.monitor is http-readyz:
 * the addresses the operator gave for the balancer (networkPolicy.allowFrom and
 * proxy.trustedCidrs). Empty when neither is set (the renderer then warns).
 */
export function balancerMonitorSources(config: Config): string[] {
  if (config.deploy.f5.monitor !== 'http-readyz') return [];
  return [...new Set([...config.deploy.kubernetes.networkPolicy.allowFrom, ...config.proxy.trustedCidrs])];
}

export function networkPolicy(config: Config, layout: DeployLayout): KubernetesObject | null {
  const policy = config.deploy.kubernetes.networkPolicy;
  if (!policy.enabled) return null;
  const { control, implicit, sftp, admin } = layout.containerPorts;
  const first = layout.replicaLayouts[0];
  const last = layout.replicaLayouts[layout.replicaLayouts.length - 1];
  if (first === undefined || last === undefined) throw new DeployLayoutError('no replicas to render a NetworkPolicy for');
  const ftpPorts: Record<string, unknown>[] = [
    { protocol: 'TCP', port: control },
    ...(implicit === null ? [] : [{ protocol: 'TCP', port: implicit }]),
    // SFTP (SSH) from the same sources as FTP: it serves the same users behind the same balancer.
    ...(sftp === null ? [] : [{ protocol: 'TCP', port: sftp }]),
    // The whole passive range as one rule (endPort, GA in 1.25): every pod gets the same
    // policy, and a pod only listens on its own slice anyway.
    { protocol: 'TCP', port: first.slice.min, endPort: last.slice.max },
  ];
  const ftpFrom = ipPeers(policy.allowFrom, 'deploy.kubernetes.networkPolicy.allowFrom');
  const metricsFrom =
    policy.metricsFrom.length === 0
      ? [{ namespaceSelector: {} }]
      : policy.metricsFrom.map((name) => ({ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: name } } }));
  const adminFrom = [...metricsFrom, ...ipPeers(balancerMonitorSources(config), 'balancer monitor source (networkPolicy.allowFrom, proxy.trustedCidrs)')];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: objectMeta(layout, layout.name),
    spec: {
      podSelector: { matchLabels: { ...layout.selector } },
      // Ingress only. Egress stays open: the server resolves passive.address (a DNS name is
      // re-resolved every passive.dnsCacheMs) and active mode, when enabled, connects out to
      // clients; a default-deny egress would silently break both.
      policyTypes: ['Ingress'],
      ingress: [
        // No `from` at all means any source (an empty `from` list would too, but explicit
        // omission is what the API documents).
        { ...(ftpFrom.length > 0 ? { from: ftpFrom } : {}), ports: ftpPorts },
        // Kubelet probes come from the node itself, which most CNIs always admit.
        { from: adminFrom, ports: [{ protocol: 'TCP', port: admin }] },
      ],
    },
  };
}
