/**
 * @module deploy/kubernetes/warnings
 * What an operator should know about a config that renders but will not behave as they
 * probably expect in a cluster. Each check returns a sentence or nothing; errors (configs
 * that cannot be rendered) are DeployLayoutErrors thrown elsewhere. Pure.
 */
import type { Config } from '../../config/schema.js';
import type { DeployLayout } from '../layout.js';
import { defenderSharedAddressWarning } from '../shared-address-warning.js';
import { ANNOTATIONS_MAX_BYTES } from './api-limits.js';
import { balancerMonitorSources } from './network-policy.js';
import type { KubernetesObject } from './object-meta.js';

function advertisedAddress(config: Config, layout: DeployLayout): string | null {
  if (layout.advertisedAddress !== '') return null;
  // Behind BIG-IP's FTP profile the ALG rewrites the pod address: advertising it is the point.
  if (config.deploy.f5.mode === 'ftp-profile' && config.deploy.f5.virtualAddress !== '') return null;
  return 'passive.address and deploy.f5.virtualAddress are both empty: PASV replies will carry each pod\'s own address, which clients outside the cluster cannot reach, so only EPSV clients will work; set passive.address to the balancer\'s address or DNS name';
}

function sharedStorage(config: Config): string | null {
  const { accessMode, existingClaim } = config.deploy.kubernetes.storage;
  if (config.passive.replicas <= 1 || accessMode !== 'ReadWriteOnce') return null;
  const claim = existingClaim !== '' ? `the claim "${existingClaim}"` : 'the data claim';
  return `${config.passive.replicas} replicas share ${claim} with accessMode ReadWriteOnce: replicas on different nodes cannot mount it (and would not see each other's files otherwise); use a ReadWriteMany StorageClass`;
}

function disruptionBudget(config: Config): string | null {
  if (config.deploy.kubernetes.maxUnavailable > 0) return null;
  return 'deploy.kubernetes.maxUnavailable is 0: the PodDisruptionBudget blocks every voluntary eviction, so node drains and cluster upgrades hang until it is changed';
}

function balancerSnat(config: Config): string | null {
  const { f5 } = config.deploy;
  if (f5.virtualAddress === '' || f5.snat === 'none' || config.proxy.control !== 'off') return null;
  return 'BIG-IP in front with SNAT but proxy.control off: every client appears with the balancer\'s address, so logs lose the client and limits.maxSessionsPerAddress counts all clients together; turn on the PROXY protocol (proxy.*, with proxy.trustedCidrs)';
}

function imageTag(config: Config): string | null {
  const { image } = config.deploy.kubernetes;
  if (image.includes('@sha256:')) return null;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  if (lastSegment.includes(':') && !lastSegment.endsWith(':latest')) return null;
  return `deploy.kubernetes.image "${image}" is not pinned (no tag, or :latest): replicas pulled at different times may run different builds; pin a version or a digest`;
}

function monitorBlocked(config: Config): string | null {
  const { f5 } = config.deploy;
  // Only when BIG-IP is in use at all (the F5 renderers need its virtual address).
  if (!config.deploy.kubernetes.networkPolicy.enabled || f5.virtualAddress === '' || f5.monitor !== 'http-readyz') return null;
  if (balancerMonitorSources(config).length > 0) return null;
  return 'deploy.f5.monitor http-readyz probes the admin port from the balancer, but neither deploy.kubernetes.networkPolicy.allowFrom nor proxy.trustedCidrs says where the balancer is, so the NetworkPolicy admits only in-cluster namespaces there; BIG-IP (outside the cluster) would mark every replica down: list BIG-IP\'s self/SNAT addresses in networkPolicy.allowFrom';
}

/** Designs that render but cannot work (kftpd render refuses them unless --force). */
export function configErrors(config: Config): string[] {
  return [monitorBlocked(config)].filter((error): error is string => error !== null);
}

/** Warnings about the config as a whole. */
export function configWarnings(config: Config, layout: DeployLayout): string[] {
  return [
    advertisedAddress(config, layout),
    sharedStorage(config),
    disruptionBudget(config),
    balancerSnat(config),
    imageTag(config),
    defenderSharedAddressWarning(config),
  ].filter((warning): warning is string => warning !== null);
}

/**
 * Objects too large for client-side `kubectl apply` (it copies the object into an
 * annotation, limited to ANNOTATIONS_MAX_BYTES): in practice a data Service with a slice of
 * a few thousand ports.
 */
export function sizeWarnings(objects: readonly KubernetesObject[]): string[] {
  return objects
    .map((object) => ({ object, bytes: Buffer.byteLength(JSON.stringify(object)) }))
    .filter(({ bytes }) => bytes > ANNOTATIONS_MAX_BYTES)
    .map(
      ({ object, bytes }) =>
        `${object.kind} ${object.metadata.name} is ${bytes} bytes as JSON, over the ${ANNOTATIONS_MAX_BYTES}-byte annotation limit that client-side \`kubectl apply\` needs for its last-applied copy: apply with \`kubectl apply --server-side\`, or use smaller slices (more replicas or a narrower passive range)`,
    );
}
