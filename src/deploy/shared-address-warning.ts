/**
 * @module deploy/shared-address-warning
 * One warning both renderers give: when a balancer hides client addresses (SNAT, or kube-proxy
 * masquerading with externalTrafficPolicy Cluster) and no PROXY header restores them, every
 * client arrives with the same address, so the defender (on by default) would ban all of them
 * after a handful of someone's failed logins. Pure.
 */
import type { Config } from '../config/schema.js';

/** Why clients share one address in this deployment, or null when they do not. */
export function sharedClientAddressCause(config: Config): string | null {
  if (config.proxy.control !== 'off') return null;
  const { f5, kubernetes } = config.deploy;
  if (f5.virtualAddress !== '' && f5.snat !== 'none') return `BIG-IP SNAT (deploy.f5.snat ${f5.snat})`;
  if (kubernetes.service.type !== 'ClusterIP' && kubernetes.service.externalTrafficPolicy === 'Cluster') {
    return `kube-proxy masquerading (Service type ${kubernetes.service.type} with externalTrafficPolicy Cluster)`;
  }
  return null;
}

export function defenderSharedAddressWarning(config: Config): string | null {
  const cause = sharedClientAddressCause(config);
  // A non-empty safe list is the operator's answer to exactly this (the balancer is listed).
  if (cause === null || !config.defender.enabled || config.defender.safeList.length > 0) return null;
  return `${cause} without the PROXY protocol: every client reaches kftpd with the same address, so defender bans (defender.enabled) would lock out all clients after a few failed logins by anyone; turn the PROXY protocol on (proxy.*), or list the balancer's addresses in defender.safeList (which exempts them from scoring)`;
}
