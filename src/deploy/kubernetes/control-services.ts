/**
 * @module deploy/kubernetes/control-services
 * The Services in front of every replica: the headless Service the StatefulSet needs (which
 * also carries the admin port for Prometheus), the control Service clients or the balancer
 * use for port 21, implicit FTPS on 990 and SFTP on 22, and, when F5 CIS fills the pools, a
 * separate implicit FTPS Service and SFTP Service for CIS's implicitPool and sftpPool (a pool's
 * members have one port, and CIS takes a pool's members from exactly one Service). Pure.
 */
import type { Config } from '../../config/schema.js';
import { f5ControlPoolName, f5ImplicitPoolName, f5SftpPoolName, implicitServiceName, keyValueList, PUBLIC_PORTS, sftpServiceName } from '../layout.js';
import type { DeployLayout } from '../layout.js';
import { cisLabels } from './cis-labels.js';
import { PORT_NAMES } from './container.js';
import { controlUsesNodePorts } from './node-ports.js';
import { objectMeta } from './object-meta.js';
import type { KubernetesObject } from './object-meta.js';
import { serviceRoleLabel } from './service-roles.js';

/** Annotations pinning a LoadBalancer address for MetalLB (>= 0.14) and F5 CIS (Service type LoadBalancer). */
export const LOAD_BALANCER_IP_ANNOTATIONS = Object.freeze(['metallb.io/loadBalancerIPs', 'cis.f5.com/ip']);

/** The operator's deploy.kubernetes.service.annotations, shared by the control and data Services. */
export function serviceAnnotations(config: Config): Record<string, string> {
  return keyValueList(config.deploy.kubernetes.service.annotations, 'deploy.kubernetes.service.annotations');
}

export function headlessService(layout: DeployLayout): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(layout, layout.headlessServiceName, serviceRoleLabel('headless')),
    spec: {
      clusterIP: 'None',
      // Ready pods only: the per-pod DNS names and the scrape targets follow readiness.
      publishNotReadyAddresses: false,
      selector: { ...layout.selector },
      ports: [{ name: PORT_NAMES.admin, port: layout.containerPorts.admin, targetPort: layout.containerPorts.admin, protocol: 'TCP' }],
    },
  };
}

/** The two ports whose F5 pools CIS fills from a Service of their own (a pool's members have one port). */
type CisPortRole = 'implicit' | 'sftp';

/** What differs between those two Services: their name, the pool that reads them, the operator's fixed nodePort. */
const CIS_PORT_SERVICES: Record<CisPortRole, { name: (layout: DeployLayout) => string; pool: () => string; nodePort: (config: Config) => number }> = {
  implicit: { name: implicitServiceName, pool: f5ImplicitPoolName, nodePort: (config) => config.deploy.kubernetes.service.implicitNodePort },
  sftp: { name: sftpServiceName, pool: f5SftpPoolName, nodePort: (config) => config.deploy.kubernetes.service.sftpNodePort },
};

/**
 * The type of the Service CIS fills the `role` pool from, or null when there is none (the port
 * is off, or pools not filled by CIS: the control Service's port then serves everyone).
 * NodePort when the control Service is NodePort, ClusterIP otherwise (CIS in cluster mode reads
 * pod addresses). With BIG-IP in front, NodePort Services are refused by render
 * (deploy/node-address-modes.ts); without it the labels are inert.
 */
function cisPortServiceType(config: Config, layout: DeployLayout, role: CisPortRole): 'ClusterIP' | 'NodePort' | null {
  if (layout.containerPorts[role] === null || config.deploy.f5.poolMembers !== 'cis') return null;
  return config.deploy.kubernetes.service.type === 'NodePort' ? 'NodePort' : 'ClusterIP';
}

function cisPortService(config: Config, layout: DeployLayout, role: CisPortRole): KubernetesObject | null {
  const type = cisPortServiceType(config, layout, role);
  const targetPort = layout.containerPorts[role];
  if (type === null || targetPort === null) return null;
  const { name, pool, nodePort: fixedNodePort } = CIS_PORT_SERVICES[role];
  const nodePort = type === 'NodePort';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(layout, name(layout), { ...serviceRoleLabel(role), ...cisLabels(config, pool()) }, serviceAnnotations(config)),
    spec: {
      type,
      selector: { ...layout.selector },
      ports: [
        {
          name: PORT_NAMES[role],
          // The AS3 pool member's servicePort is this public port; CIS maps it to targetPort.
          port: PUBLIC_PORTS[role],
          targetPort,
          protocol: 'TCP',
          // The balancer targets this Service, so the operator's fixed nodePort for the port is here.
          ...(nodePort && fixedNodePort(config) !== 0 ? { nodePort: fixedNodePort(config) } : {}),
        },
      ],
      ...(nodePort ? { externalTrafficPolicy: config.deploy.kubernetes.service.externalTrafficPolicy } : {}),
    },
  };
}

/** The type of the Service CIS fills implicitPool from (implicit FTPS), or null: see cisPortServiceType. */
export function implicitServiceType(config: Config, layout: DeployLayout): 'ClusterIP' | 'NodePort' | null {
  return cisPortServiceType(config, layout, 'implicit');
}

export function implicitService(config: Config, layout: DeployLayout): KubernetesObject | null {
  return cisPortService(config, layout, 'implicit');
}

/** The type of the Service CIS fills sftpPool from, or null: see cisPortServiceType. */
export function sftpServiceType(config: Config, layout: DeployLayout): 'ClusterIP' | 'NodePort' | null {
  return cisPortServiceType(config, layout, 'sftp');
}

export function sftpService(config: Config, layout: DeployLayout): KubernetesObject | null {
  return cisPortService(config, layout, 'sftp');
}

export function controlService(config: Config, layout: DeployLayout): KubernetesObject {
  const { service } = config.deploy.kubernetes;
  const nodePorts = controlUsesNodePorts(config);
  const ports: Record<string, unknown>[] = [
    {
      name: PORT_NAMES.control,
      port: PUBLIC_PORTS.control,
      targetPort: layout.containerPorts.control,
      protocol: 'TCP',
      ...(nodePorts && service.controlNodePort !== 0 ? { nodePort: service.controlNodePort } : {}),
    },
  ];
  if (layout.containerPorts.implicit !== null) {
    ports.push({
      name: PORT_NAMES.implicit,
      port: PUBLIC_PORTS.implicit,
      targetPort: layout.containerPorts.implicit,
      protocol: 'TCP',
      // A fixed implicit nodePort belongs to the implicit Service when that is a NodePort one
      // (a nodePort can be claimed once); this port then gets one Kubernetes chooses.
      ...(nodePorts && service.implicitNodePort !== 0 && implicitServiceType(config, layout) !== 'NodePort' ? { nodePort: service.implicitNodePort } : {}),
    });
  }
  if (layout.containerPorts.sftp !== null) {
    // SFTP beside FTP on the same address: one Service (and one LoadBalancer address) for both.
    ports.push({
      name: PORT_NAMES.sftp,
      port: PUBLIC_PORTS.sftp,
      targetPort: layout.containerPorts.sftp,
      protocol: 'TCP',
      ...(nodePorts && service.sftpNodePort !== 0 && sftpServiceType(config, layout) !== 'NodePort' ? { nodePort: service.sftpNodePort } : {}),
    });
  }
  const fixedAddress = service.type === 'LoadBalancer' && service.loadBalancerIP !== '';
  const annotations = {
    ...(fixedAddress ? Object.fromEntries(LOAD_BALANCER_IP_ANNOTATIONS.map((key) => [key, service.loadBalancerIP])) : {}),
    // The operator's annotations last: they may override the address annotations.
    ...serviceAnnotations(config),
  };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(layout, layout.controlServiceName, { ...serviceRoleLabel('control'), ...cisLabels(config, f5ControlPoolName()) }, annotations),
    spec: {
      type: service.type,
      selector: { ...layout.selector },
      ports,
      // Only meaningful (and only accepted) for traffic arriving at node ports.
      ...(nodePorts ? { externalTrafficPolicy: service.externalTrafficPolicy } : {}),
      // Deprecated in the API since 1.24 but still what most implementations read; the
      // annotations above cover MetalLB and CIS.
      ...(fixedAddress ? { loadBalancerIP: service.loadBalancerIP } : {}),
    },
  };
}
