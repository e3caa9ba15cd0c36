/**
 * @module deploy/kubernetes/container
 * The kftpd container of the StatefulSet's pod: image and arguments, the ports it declares,
 * the probes on the admin listener, the preStop hook, resources and its security context.
 * Pure.
 */
import type { Config } from '../../config/schema.js';
import { CONTAINER_ARGS } from '../layout.js';
import type { DeployLayout } from '../layout.js';
import { PRE_STOP_SLEEP_SECONDS } from './shutdown-timing.js';
import { containerVolumeMounts } from './volumes.js';

export const CONTAINER_NAME = 'kftpd';

/** Port names shared by the container and the Services (IANA service names, <= 15 chars). */
export const PORT_NAMES = Object.freeze({ control: 'ftp', implicit: 'ftps', sftp: 'sftp', admin: 'admin' });

/** Probe paths served by the admin listener (observability/admin-http). */
export const PROBE_PATHS = Object.freeze({ liveness: '/healthz', readiness: '/readyz' });

/**
 * The ports the container declares. Only the listeners: declaring a port is informational
 * (a container receives traffic on any port it listens on, and Services and the
 * NetworkPolicy name passive ports by number), while listing a passive slice would put
 * hundreds or thousands of entries into every pod object, the kubelet's and the API
 * server's work, for nothing.
 */
export function containerPorts(layout: DeployLayout): Record<string, unknown>[] {
  const { control, implicit, sftp, admin } = layout.containerPorts;
  return [
    { name: PORT_NAMES.control, containerPort: control, protocol: 'TCP' },
    ...(implicit === null ? [] : [{ name: PORT_NAMES.implicit, containerPort: implicit, protocol: 'TCP' }]),
    ...(sftp === null ? [] : [{ name: PORT_NAMES.sftp, containerPort: sftp, protocol: 'TCP' }]),
    { name: PORT_NAMES.admin, containerPort: admin, protocol: 'TCP' },
  ];
}

function resources(config: Config): Record<string, unknown> {
  const r = config.deploy.kubernetes.resources;
  const limits: Record<string, string> = {};
  if (r.cpuLimit !== '') limits['cpu'] = r.cpuLimit;
  if (r.memoryLimit !== '') limits['memory'] = r.memoryLimit;
  return {
    requests: { cpu: r.cpuRequest, memory: r.memoryRequest },
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

function probes(layout: DeployLayout): Record<string, unknown> {
  const port = layout.containerPorts.admin;
  return {
    // Gives a slow start (a large users file, storage on a slow network volume) up to 60 s
    // before liveness applies, so liveness itself can be quick to act on a hung process.
    startupProbe: { httpGet: { path: PROBE_PATHS.liveness, port }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
    livenessProbe: { httpGet: { path: PROBE_PATHS.liveness, port }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    // /readyz fails as soon as a drain starts (SIGTERM), and when storage or the users file is
    // unavailable; two misses take the replica out of the control Service.
    readinessProbe: { httpGet: { path: PROBE_PATHS.readiness, port }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
  };
}

export function container(config: Config, layout: DeployLayout): Record<string, unknown> {
  const { kubernetes } = config.deploy;
  return {
    name: CONTAINER_NAME,
    image: kubernetes.image,
    imagePullPolicy: kubernetes.imagePullPolicy,
    // No `command`: the image's ENTRYPOINT (node + the CLI) runs, with these arguments.
    args: [...CONTAINER_ARGS],
    ports: containerPorts(layout),
    ...probes(layout),
    lifecycle: {
      // The built-in sleep action (the image is distroless: no shell to exec `sleep` in). See
      // shutdown-timing.ts for why the pod keeps serving for this long before SIGTERM.
      preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } },
    },
    resources: resources(config),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: kubernetes.runAsUser,
      runAsGroup: kubernetes.runAsUser,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: containerVolumeMounts(config),
  };
}
