/**
 * @module deploy/kubernetes/data-services
 * One Service per replica, selecting only that replica's pod and listing its passive slice
 * port by port (Services have no port ranges, kubernetes/kubernetes#23864). They exist so
 * F5 CIS can fill each replica's data pool, and, with dataServiceType NodePort, so a
 * balancer that targets nodes reaches the right pod. Pure.
 *
 * Design decisions:
 * - Data ports only. Control and implicit FTPS go through the control Service: a control
 *   connection may land on any replica, a data connection only on the one that announced it.
 * - One Service per replica, never split: F5 CIS requires exactly one Service per pool
 *   label set, and an EndpointSlice holds up to 20,000 ports (api-limits.ts), so splitting
 *   at the 100 ports the API reference still mentions would only break discovery. A slice
 *   beyond 20,000 ports is refused; a Service too big for client-side `kubectl apply` gets a
 *   warning from the renderer.
 * - ClusterIP data Services are headless: nothing in the cluster needs a virtual IP for
 *   them (CIS reads the endpoints, in-cluster clients are sent to the pod address), and
 *   kube-proxy programs no rules for headless Services, which matters at thousands of ports.
 * - publishNotReadyAddresses: a slice belongs to exactly one pod, so there is nowhere else to
 *   send its data connections. Dropping the pod from the pool when it turns unready (that
 *   is, when a drain starts) would cut the data connections of the very transfers the drain
 *   waits for, and of PASV replies sent during the readiness delay.
 */
import type { Config } from '../../config/schema.js';
import { DeployLayoutError, f5DataPoolName } from '../layout.js';
import type { DeployLayout, ReplicaLayout } from '../layout.js';
import { ENDPOINT_SLICE_MAX_PORTS } from './api-limits.js';
import { cisLabels } from './cis-labels.js';
import { serviceAnnotations } from './control-services.js';
import { objectMeta } from './object-meta.js';
import type { KubernetesObject } from './object-meta.js';
import { serviceRoleLabel } from './service-roles.js';

/** The label StatefulSet pods carry with their own name. */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

/** "pasv-50000": unique per port, within the 15-character limit for any port number. */
export function passivePortName(port: number): string {
  return `pasv-${port}`;
}

function dataService(config: Config, layout: DeployLayout, replica: ReplicaLayout): KubernetesObject {
  const { dataServiceType, service } = config.deploy.kubernetes;
  if (replica.ports.length > ENDPOINT_SLICE_MAX_PORTS) {
    throw new DeployLayoutError(
      `replica ${replica.index}'s passive slice has ${replica.ports.length} ports, more than the ${ENDPOINT_SLICE_MAX_PORTS} one EndpointSlice can hold (the Service would get no endpoints): narrow passive.portMin..portMax or raise passive.replicas`,
    );
  }
  const nodePort = dataServiceType === 'NodePort';
  const ports = replica.ports.map((port) => ({
    name: passivePortName(port),
    port,
    // The same number end to end: the port the client is told is the port the pod listens on.
    targetPort: port,
    protocol: 'TCP',
    ...(nodePort ? { nodePort: port } : {}),
  }));
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(
      layout,
      replica.dataServiceName,
      { ...serviceRoleLabel('data'), ...cisLabels(config, f5DataPoolName(replica.index)) },
      serviceAnnotations(config),
    ),
    spec: {
      type: dataServiceType,
      ...(nodePort ? {} : { clusterIP: 'None' }),
      publishNotReadyAddresses: true,
      selector: { ...layout.selector, [POD_NAME_LABEL]: replica.podName },
      ports,
      ...(nodePort ? { externalTrafficPolicy: service.externalTrafficPolicy } : {}),
    },
  };
}

export function dataServices(config: Config, layout: DeployLayout): KubernetesObject[] {
  return layout.replicaLayouts.map((replica) => dataService(config, layout, replica));
}
