/**
 * @module deploy/kubernetes/node-ports
 * Checks the node ports the rendered Services request before anything is applied: every
 * requested nodePort inside the default node-port range, and no port requested twice
 * (nodePorts are cluster-wide, and the API server rejects a second claim). Pure.
 */
import type { Config } from '../../config/schema.js';
import { DeployLayoutError } from '../layout.js';
import type { DeployLayout } from '../layout.js';
import { DEFAULT_NODE_PORT_RANGE } from './api-limits.js';

const { min: NODE_PORT_MIN, max: NODE_PORT_MAX } = DEFAULT_NODE_PORT_RANGE;

function inRange(port: number): boolean {
  return port >= NODE_PORT_MIN && port <= NODE_PORT_MAX;
}

/** The control Service's type allocates node ports (LoadBalancer does too, on every node). */
export function controlUsesNodePorts(config: Config): boolean {
  return config.deploy.kubernetes.service.type !== 'ClusterIP';
}

/** Throws DeployLayoutError when a requested nodePort is outside 30000-32767 or taken twice. */
export function checkNodePorts(config: Config, layout: DeployLayout): void {
  const { service, dataServiceType } = config.deploy.kubernetes;
  const claimed = new Map<number, string>();
  const claim = (port: number, what: string): void => {
    if (!inRange(port)) {
      throw new DeployLayoutError(
        `${what} needs nodePort ${port}, outside the node-port range ${NODE_PORT_MIN}-${NODE_PORT_MAX} (kube-apiserver --service-node-port-range default)`,
      );
    }
    const previous = claimed.get(port);
    if (previous !== undefined) throw new DeployLayoutError(`nodePort ${port} is requested twice: by ${previous} and by ${what}`);
    claimed.set(port, what);
  };
  if (dataServiceType === 'NodePort') {
    for (const replica of layout.replicaLayouts) {
      const { min, max } = replica.slice;
      if (!inRange(min) || !inRange(max)) {
        // With NodePort data Services each nodePort equals its passive port: the port a client
        // is told in PASV/EPSV is the one the balancer forwards to every node.
        throw new DeployLayoutError(
          `deploy.kubernetes.dataServiceType NodePort publishes each passive port as the same nodePort, but replica ${replica.index}'s slice ${min}-${max} is outside the node-port range ${NODE_PORT_MIN}-${NODE_PORT_MAX}: move passive.portMin/portMax inside it, or use dataServiceType ClusterIP`,
        );
      }
      for (const port of replica.ports) claim(port, `data Service ${replica.dataServiceName}`);
    }
  }
  if (controlUsesNodePorts(config)) {
    if (service.controlNodePort !== 0) claim(service.controlNodePort, 'deploy.kubernetes.service.controlNodePort');
    // Claimed once, by the control Service or by the implicit Service (control-services.ts).
    if (layout.containerPorts.implicit !== null && service.implicitNodePort !== 0) {
      claim(service.implicitNodePort, 'deploy.kubernetes.service.implicitNodePort');
    }
    if (layout.containerPorts.sftp !== null && service.sftpNodePort !== 0) claim(service.sftpNodePort, 'deploy.kubernetes.service.sftpNodePort');
  }
}
