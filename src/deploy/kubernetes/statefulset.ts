/**
 * @module deploy/kubernetes/statefulset
 * The StatefulSet running the replicas: stable pod names <name>-0..N-1 (each server derives
 * its passive slice from its own hostname, which is the pod name), the pod's security
 * settings, scheduling spread and the termination grace period. Pure.
 */
import type { Config } from '../../config/schema.js';
import type { DeployLayout } from '../layout.js';
import { CONFIG_DIGEST_ANNOTATION, podConfigDigest } from './config-map.js';
import { container } from './container.js';
import { objectMeta } from './object-meta.js';
import type { KubernetesObject } from './object-meta.js';
import { terminationGracePeriodSeconds } from './shutdown-timing.js';
import { podVolumes } from './volumes.js';

/** Ports below this need privileges, unless the pod lowers the sysctl below. */
const FIRST_UNPRIVILEGED_PORT = 1024;

/** Every port a replica binds: its listeners and the lowest passive port of any slice. */
function lowestBoundPort(layout: DeployLayout): number {
  const { control, implicit, sftp, admin } = layout.containerPorts;
  const passive = layout.replicaLayouts.map((replica) => replica.slice.min);
  return Math.min(control, admin, ...(implicit === null ? [] : [implicit]), ...(sftp === null ? [] : [sftp]), ...passive);
}

function podSecurityContext(config: Config, layout: DeployLayout): Record<string, unknown> {
  const uid = config.deploy.kubernetes.runAsUser;
  // Binding port 21 (or 990) as non-root without any capability: this sysctl is namespaced
  // per pod and on the kubelet's "safe" list (since 1.22), so it needs no cluster opt-in.
  // By default listen.port is 2121 (sftp.port 2222) and the Service maps 21 (22) to it, so this is not rendered.
  const sysctls = lowestBoundPort(layout) < FIRST_UNPRIVILEGED_PORT ? [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] : [];
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    // fsGroup makes the shared volume writable for the uid; OnRootMismatch skips the
    // recursive chown of a large, already-owned tree at every pod start.
    fsGroup: uid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
    ...(sysctls.length > 0 ? { sysctls } : {}),
  };
}

export function statefulSet(config: Config, layout: DeployLayout): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: objectMeta(layout, layout.name),
    spec: {
      replicas: layout.replicas,
      serviceName: layout.headlessServiceName,
      // Replicas are independent (each owns its own slice): start and scale them together
      // rather than one by one. Rolling updates still replace one pod at a time.
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: { ...layout.selector } },
      template: {
        metadata: {
          labels: { ...layout.labels },
          annotations: { [CONFIG_DIGEST_ANNOTATION]: podConfigDigest(config) },
        },
        spec: {
          // No index in the environment: the pod's hostname is its name (<name>-<i>) and the
          // server takes the index from it (passive.replicaIndex -1 in the pod config).
          terminationGracePeriodSeconds: terminationGracePeriodSeconds(config),
          // Service links would inject environment variables for every port of every Service
          // in the namespace, and the data Services carry one port per passive port.
          enableServiceLinks: false,
          // The server never talks to the Kubernetes API.
          automountServiceAccountToken: false,
          securityContext: podSecurityContext(config, layout),
          affinity: {
            podAntiAffinity: {
              // Preferred, not required: losing one node should not take two replicas, but a
              // small cluster must still be able to run them all.
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { ...layout.selector } } },
                },
              ],
            },
          },
          containers: [container(config, layout)],
          volumes: podVolumes(config, layout),
        },
      },
    },
  };
}
