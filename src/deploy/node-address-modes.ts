/**
 * @module deploy/node-address-modes
 * The designs where the balancer, or the clients, reach the replicas through node addresses
 * (NodePort or LoadBalancer Services) and which cannot work as rendered, so `kftpd render`
 * refuses them (kubernetes, f5-as3 and f5-cis alike) and names what works instead. Pure.
 *
 * Why they fail: a passive slice belongs to one pod, and a passive port listens only while a
 * transfer waits for it, so nothing outside can health-check it.
 * - BIG-IP with node members. CIS in nodeport mode (--pool-member-type=nodeport) puts every
 *   node in every pool, so a data pool sends replica i's ports to nodes that do not run it,
 *   and the monitors probe the admin port on nodes, where nothing listens. Static node
 *   addresses fare no better: the control pool would need the nodePort, not the container
 *   port, and no node is bound to replica i (the StatefulSet places pods where it likes).
 * - NodePort data Services with externalTrafficPolicy Local: only the node running the
 *   replica answers on its ports, but every replica advertises the same passive.address, so
 *   a data connection is dropped whenever that address leads to another node.
 * - With externalTrafficPolicy Cluster any node forwards, but kube-proxy masquerades the
 *   client as a node address, so passive.requireSameAddress refuses every data connection.
 */
import type { Config } from '../config/schema.js';

function nodeServices(config: Config): string[] {
  const { service, dataServiceType } = config.deploy.kubernetes;
  const found: string[] = [];
  if (service.type !== 'ClusterIP') found.push(`deploy.kubernetes.service.type ${service.type}`);
  if (dataServiceType === 'NodePort') found.push('deploy.kubernetes.dataServiceType NodePort');
  return found;
}

/** BIG-IP in front (a VIP is set) while the Services publish node ports: refused. */
export function balancerNodeAddressError(config: Config): string | null {
  const { f5 } = config.deploy;
  const services = nodeServices(config);
  if (f5.virtualAddress === '' || services.length === 0) return null;
  const members =
    f5.poolMembers === 'cis'
      ? 'CIS in nodeport mode (which NodePort Services call for) puts every node in every pool, so a data pool sends a replica\'s passive ports to nodes that do not run it, and the monitors probe an admin port nodes do not have'
      : 'static members on node addresses would need the node ports in the pools and monitors, and no node is bound to one replica\'s passive slice';
  return `BIG-IP in front (deploy.f5.virtualAddress) with ${services.join(' and ')}: ${members}. Use pod addresses as pool members: CIS with --pool-member-type=cluster and a route from BIG-IP to the pod network (or deploy.f5.poolMembers static with pod addresses), and deploy.kubernetes.service.type ClusterIP with dataServiceType ClusterIP`;
}

/** NodePort data Services without BIG-IP: the traffic policy must let any node forward, and the address check must allow it. */
export function nodePortDataErrors(config: Config): string[] {
  const { service, dataServiceType } = config.deploy.kubernetes;
  if (dataServiceType !== 'NodePort' || balancerNodeAddressError(config) !== null) return [];
  if (service.externalTrafficPolicy === 'Local') {
    return [
      'deploy.kubernetes.dataServiceType NodePort with externalTrafficPolicy Local: only the node running a replica answers on its passive ports, but every replica advertises the same passive.address, so data connections are dropped whenever it leads to another node (and passive ports, bound only while a transfer waits, cannot be health-checked by an outside balancer). Use externalTrafficPolicy Cluster (any node forwards to the replica) with passive.requireSameAddress false, or BIG-IP with pod members (deploy.f5)',
    ];
  }
  if (config.passive.requireSameAddress && config.proxy.passive === 'off') {
    return [
      'deploy.kubernetes.dataServiceType NodePort with externalTrafficPolicy Cluster: kube-proxy masquerades data connections as a node address, so passive.requireSameAddress refuses every one of them; set passive.requireSameAddress false (tls.data required with TLS session reuse still ties a data connection to its session)',
    ];
  }
  return [];
}

/** Every refusal of this module for `config`. */
export function nodeAddressErrors(config: Config): string[] {
  const balancer = balancerNodeAddressError(config);
  return [...(balancer === null ? [] : [balancer]), ...nodePortDataErrors(config)];
}
