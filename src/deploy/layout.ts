/**
 * @module deploy/layout
 * The one place that decides how a kftpd config is laid out in a cluster: object names,
 * labels, container paths and ports, each replica's passive slice, and the server config a
 * pod reads. Every renderer (Kubernetes, F5 AS3, F5 CIS) and `kftpd doctor` take names and
 * ports from here, so the manifests, the balancer objects and the server agree by
 * construction. Pure: no I/O.
 */
import type { Config, ConfigInput } from '../config/schema.js';
import { sliceTable } from '../core/passive-slices.js';
import { clusterStorePodConfig } from './cluster-store.js';
import { sftpPodConfig } from './sftp-host-keys.js';
import type { PassiveSlice } from '../core/passive-slices.js';

/** Where things live inside the container (the Dockerfile and the StatefulSet agree on these). */
export const CONTAINER_PATHS = Object.freeze({
  /**
   * The config file the entrypoint reads (ConfigMap key kftpd.yaml). Config, users and TLS
   * are sibling directories, never nested, so each volume mounts whole (no subPath, which
   * would stop Kubernetes from updating it in place).
   */
  configFile: '/etc/kftpd/config/kftpd.yaml',
  configDir: '/etc/kftpd/config',
  /** The users Secret is mounted here; key users.yaml. */
  usersDir: '/etc/kftpd/users',
  usersFile: '/etc/kftpd/users/users.yaml',
  /** The TLS Secret (kubernetes.io/tls: tls.crt, tls.key). */
  tlsDir: '/etc/kftpd/tls',
  certFile: '/etc/kftpd/tls/tls.crt',
  keyFile: '/etc/kftpd/tls/tls.key',
  /** The served volume. */
  dataDir: '/srv/ftp',
  /** Writable state (the root filesystem is read-only): an emptyDir. */
  stateDir: '/var/lib/kftpd',
  /** Writable log directory for xferlog when it is enabled: an emptyDir. */
  logDir: '/var/log/kftpd',
});

/**
 * The image's ENTRYPOINT (Dockerfile) and the container arguments the StatefulSet passes: the
 * pod runs exactly `node /app/dist/src/cli/main.js serve --config /etc/kftpd/config/kftpd.yaml`.
 * test/integration/container-entrypoint.test.ts checks the Dockerfile against these and runs
 * that command in a read-only root filesystem as a non-root user.
 */
export const CONTAINER_ENTRYPOINT: readonly string[] = Object.freeze(['/nodejs/bin/node', '/app/dist/src/cli/main.js']);
export const CONTAINER_ARGS: readonly string[] = Object.freeze(['serve', '--config', CONTAINER_PATHS.configFile]);

/** Well-known ports clients and balancers use, whatever the container listens on. */
export const PUBLIC_PORTS = Object.freeze({ control: 21, implicit: 990, sftp: 22 });

export interface ReplicaLayout {
  readonly index: number;
  /** StatefulSet pod name: <name>-<index>. */
  readonly podName: string;
  /** The per-replica Service listing this replica's passive ports. */
  readonly dataServiceName: string;
  readonly slice: PassiveSlice;
  /** Every port of the slice, ascending. */
  readonly ports: readonly number[];
}

export interface DeployLayout {
  readonly name: string;
  readonly namespace: string;
  readonly replicas: number;
  /** Labels every rendered object carries. */
  readonly labels: Readonly<Record<string, string>>;
  /** The selector that picks this release's pods. */
  readonly selector: Readonly<Record<string, string>>;
  readonly headlessServiceName: string;
  readonly controlServiceName: string;
  readonly configMapName: string;
  /** Ports the container listens on. */
  readonly containerPorts: { readonly control: number; readonly implicit: number | null; readonly sftp: number | null; readonly admin: number };
  readonly replicaLayouts: readonly ReplicaLayout[];
  /** The address PASV advertises from inside the pods ('' = the control connection's local address). */
  readonly advertisedAddress: string;
}

export class DeployLayoutError extends Error {
  readonly code = 'KFTPD_DEPLOY_INVALID';

  constructor(message: string) {
    super(message);
    this.name = 'DeployLayoutError';
  }
}

/** Turns "key=value" strings into a record (first "=" splits). */
export function keyValueList(entries: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new DeployLayoutError(`${what}: "${entry}" is not "key=value"`);
    out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}

/**
 * The layout for `config`. Throws DeployLayoutError when the config cannot be deployed as
 * several replicas (kernel-chosen passive ports cannot be published by a Service).
 */
export function deployLayout(config: Config): DeployLayout {
  const { deploy, passive } = config;
  const name = deploy.name;
  if (passive.portMin === 0) {
    throw new DeployLayoutError('passive.portMin/portMax are 0 (kernel-chosen ports): a cluster needs a fixed passive range to publish; set passive.portMin and passive.portMax');
  }
  const slices = sliceTable({ portMin: passive.portMin, portMax: passive.portMax, replicas: passive.replicas });
  const selector = { 'app.kubernetes.io/name': 'kftpd', 'app.kubernetes.io/instance': name };
  const replicaLayouts = slices.map((slice, index): ReplicaLayout => {
    const ports: number[] = [];
    for (let port = slice.min; port <= slice.max; port++) ports.push(port);
    return { index, podName: `${name}-${index}`, dataServiceName: `${name}-data-${index}`, slice: { min: slice.min, max: slice.max, size: ports.length }, ports };
  });
  return {
    name,
    namespace: deploy.kubernetes.namespace,
    replicas: passive.replicas,
    labels: { ...selector, 'app.kubernetes.io/component': 'ftp-server', 'app.kubernetes.io/managed-by': 'kftpd-render' },
    selector,
    headlessServiceName: `${name}-headless`,
    controlServiceName: name,
    configMapName: `${name}-config`,
    containerPorts: {
      control: config.listen.port,
      implicit: config.tls.implicit.enabled ? config.tls.implicit.port : null,
      sftp: config.sftp.enabled ? config.sftp.port : null,
      admin: config.admin.port,
    },
    replicaLayouts,
    // Behind BIG-IP's FTP profile the ALG rewrites the pod address in PASV replies, so the
    // pods must advertise their own address; otherwise the VIP is the only address that works.
    advertisedAddress: passive.address !== '' || deploy.f5.mode === 'ftp-profile' ? passive.address : deploy.f5.virtualAddress,
  };
}

/**
 * The server config a pod reads (the ConfigMap's kftpd.yaml): the operator's settings with
 * the container layout imposed (paths, all-interfaces listeners, admin on for probes, the
 * replica index from the pod name) and without the deploy section. It must itself pass
 * `loadConfig` (tests check this).
 */
export function podConfig(config: Config): ConfigInput {
  const { deploy: _deploy, ...server } = structuredClone<Config>(config);
  const layout = deployLayout(config);
  return {
    ...server,
    listen: { ...server.listen, host: '0.0.0.0' },
    passive: { ...server.passive, replicaIndex: -1, address: layout.advertisedAddress },
    users: { ...server.users, file: CONTAINER_PATHS.usersFile },
    storage: { ...server.storage, root: CONTAINER_PATHS.dataDir },
    tls: { ...server.tls, certFile: CONTAINER_PATHS.certFile, keyFile: CONTAINER_PATHS.keyFile },
    admin: { ...server.admin, enabled: true, host: '0.0.0.0' },
    log: { ...server.log, xferlog: server.log.xferlog === '' ? '' : `${CONTAINER_PATHS.logDir}/xferlog` },
    stateDir: CONTAINER_PATHS.stateDir,
    cluster: clusterStorePodConfig(server.cluster),
    sftp: sftpPodConfig(server.sftp),
  };
}

/**
 * The AS3 tenant (BIG-IP partition) of this release: deploy.f5.tenant, or the release name
 * when that is empty. AS3 treats a tenant as the whole desired state of its partition, so a
 * tenant shared by two releases would let each one's declaration delete the other's objects.
 * The F5 renderer declares it and the Kubernetes renderer puts it on the CIS labels.
 */
export function f5TenantName(config: Config): string {
  return config.deploy.f5.tenant !== '' ? config.deploy.f5.tenant : config.deploy.name;
}

/**
 * The AS3 pool the control virtual servers (21, and 990 for implicit TLS) forward to. The
 * Kubernetes renderer labels the control Service with it (cis.f5.com/as3-pool) and the F5
 * renderer declares the pool under this name, so F5 CIS can fill it from the Service.
 */
export function f5ControlPoolName(): string {
  return 'controlPool';
}

/** The AS3 pool of replica `index`'s data virtual server (its passive slice); see f5ControlPoolName. */
export function f5DataPoolName(index: number): string {
  return `dataPool${index}`;
}

/**
 * The AS3 pool the implicit FTPS virtual server (990) forwards to. It cannot share the control
 * pool: a pool's members have one port, and CIS fills a pool from exactly one Service (one
 * cis.f5.com/as3-pool label value), so under CIS it needs its own labelled Service exposing
 * port 990 (targetPort: the implicit listener).
 */
export function f5ImplicitPoolName(): string {
  return 'implicitPool';
}

/**
 * The AS3 pool of the SFTP virtual server (VIP:22). Its own pool for the same reasons as
 * f5ImplicitPoolName: one port per member, one labelled Service per pool under CIS.
 */
export function f5SftpPoolName(): string {
  return 'sftpPool';
}

/**
 * The PersistentVolumeClaim mounted at CONTAINER_PATHS.dataDir by every replica: the
 * operator's deploy.kubernetes.storage.existingClaim, or the one `kftpd render kubernetes`
 * creates, "<name>-data".
 */
export function dataClaimName(config: Config): string {
  const { existingClaim } = config.deploy.kubernetes.storage;
  return existingClaim !== '' ? existingClaim : `${config.deploy.name}-data`;
}

/**
 * The Service F5 CIS fills f5ImplicitPoolName() from (implicit FTPS with deploy.f5.poolMembers
 * cis): "<name>-implicit", port PUBLIC_PORTS.implicit to the implicit listener.
 */
export function implicitServiceName(layout: DeployLayout): string {
  return `${layout.name}-implicit`;
}

/**
 * The Service F5 CIS fills f5SftpPoolName() from (sftp.enabled with deploy.f5.poolMembers cis):
 * "<name>-sftp", port PUBLIC_PORTS.sftp to the SFTP listener.
 */
export function sftpServiceName(layout: DeployLayout): string {
  return `${layout.name}-sftp`;
}
