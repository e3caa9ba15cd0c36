/**
 * @module deploy/f5/as3-declaration
 * Builds the AS3 request for kftpd behind BIG-IP from the one config, in one of two designs
 * (docs/kubernetes.md; F5's pattern for FTPS through BIG-IP is a separate data virtual per
 * port range, techdocs "Enabling FTPS on the FTP ALG profile"):
 *
 * - passthrough: BIG-IP forwards TCP and never reads FTP, so TLS runs end to end. A control
 *   virtual on VIP:21 (and VIP:990 for implicit FTPS) balances sessions over every replica;
 *   per replica, a data virtual on a port list holding exactly that replica's passive slice
 *   forwards to a pool of that replica alone and keeps the destination port
 *   (translateServerPort false). A data connection thus reaches the replica that announced
 *   its port, with no persistence and no FTP profile.
 * - ftp-profile: cleartext FTP through BIG-IP's FTP ALG, which reads PASV replies and opens
 *   the data channels itself; one control virtual, no data virtuals.
 *
 * With sftp.enabled, both designs add one plain TCP virtual on VIP:22 to every replica: SSH
 * carries its transfers inside the one connection, so there are no passive ports to route
 * and nothing for an ALG to read.
 *
 * Pool members are either left to CIS (empty serverAddresses, filled from the Services
 * labelled with the pool names, AS3 ConfigMap mode) or listed statically. Pure: no I/O.
 */
import type { Config } from '../../config/schema.js';
import { DeployLayoutError, PUBLIC_PORTS, deployLayout, f5TenantName } from '../layout.js';
import type { DeployLayout } from '../layout.js';
import { AS3_NAMES, dataPoolName, dataPortListName, dataVirtualName } from './as3-names.js';
import type {
  As3Adc,
  As3Application,
  As3ApplicationObject,
  As3Pointer,
  As3Pool,
  As3PoolMember,
  As3Request,
  As3ServiceTcp,
  As3Snat,
  As3VirtualAddresses,
} from './as3-types.js';
import { checkF5Config } from './f5-checks.js';
import type { PoolMembersMode } from './f5-checks.js';
import { idleTimeouts, monitorTiming } from './f5-timeouts.js';
import { dataHealthMonitor, healthMonitor } from './health-monitor.js';
import { PROXY_V1_IRULE } from './proxy-irule.js';
import { requirementsOf, schemaVersionFor, tmosVersionFor, versionErrors } from './f5-versions.js';

export interface As3BuildOptions {
  /** Overrides deploy.f5.poolMembers (f5-cis always wants CIS discovery). */
  readonly poolMembers?: PoolMembersMode;
}

export interface As3Build {
  readonly request: As3Request;
  readonly warnings: readonly string[];
  /** Why the declaration cannot work as rendered (see RenderOutput.errors). */
  readonly errors: readonly string[];
  /** The lowest BIG-IP version its features need (null: any that runs its AS3). */
  readonly tmosVersion: string | null;
}

const SNAT_KEYWORDS: ReadonlySet<string> = new Set(['auto', 'none', 'self']);

/** AS3 remarks are at most 64 characters; long release names must not make a declaration invalid. */
function remark(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 63)}~`;
}

function use(name: string): As3Pointer {
  return { use: name };
}

function snatOf(snat: string): As3Snat {
  return SNAT_KEYWORDS.has(snat) ? (snat as 'auto' | 'none' | 'self') : { bigip: snat };
}

/**
 * Without allowFrom the VIP alone; with it, one [VIP, CIDR] pair per allowed network, which
 * AS3 turns into source-restricted virtuals (no AFM licence needed).
 */
function virtualAddressesOf(config: Config): As3VirtualAddresses {
  const { virtualAddress, allowFrom } = config.deploy.f5;
  if (allowFrom.length === 0) return [virtualAddress];
  return allowFrom.map((cidr) => [virtualAddress, cidr] as const);
}

/** Everything the virtuals of one declaration share. */
interface VirtualBase {
  readonly virtualAddresses: As3VirtualAddresses;
  readonly snat: As3Snat;
}

function virtual(
  base: VirtualBase,
  fields: { remark: string; virtualPort: number | As3Pointer; pool: string; profileTCP: string; proxy: boolean; translateServerPort: boolean; profileFTP?: string },
): As3ServiceTcp {
  return {
    class: 'Service_TCP',
    remark: remark(fields.remark),
    virtualAddresses: base.virtualAddresses,
    virtualPort: fields.virtualPort,
    pool: use(fields.pool),
    snat: base.snat,
    profileTCP: use(fields.profileTCP),
    ...(fields.profileFTP === undefined ? {} : { profileFTP: use(fields.profileFTP) }),
    // Only where kftpd reads PROXY: a header sent to a listener that does not expect one would
    // be taken for an FTP command or a TLS record.
    ...(fields.proxy ? { iRules: [use(AS3_NAMES.proxyIRule)] } : {}),
    // Service_TCP defaults to source-address persistence; routing here is by port (or by the
    // ALG), and sticking a NAT'd office to one replica would only unbalance the pool.
    persistenceMethods: [],
    translateServerPort: fields.translateServerPort,
  };
}

function pool(text: string, members: readonly As3PoolMember[], loadBalancingMode: As3Pool['loadBalancingMode'], monitor: string = AS3_NAMES.monitor): As3Pool {
  return { class: 'Pool', remark: remark(text), loadBalancingMode, monitors: [use(monitor)], members };
}

/**
 * The control pool's members. Static: the pods' addresses on the port kftpd listens on.
 * CIS: servicePort must name a port of the Service labelled with this pool — CIS matches it
 * against the Service's ports and replaces it with the pod's targetPort (cluster mode) — so
 * it is the control Service's public port 21, not the container's.
 */
function controlMembers(config: Config, layout: DeployLayout, cis: boolean): As3PoolMember[] {
  if (cis) return [{ servicePort: PUBLIC_PORTS.control, serverAddresses: [] }];
  return [{ servicePort: layout.containerPorts.control, serverAddresses: [...config.deploy.f5.memberAddresses] }];
}

/** As controlMembers, for the implicit FTPS port (public 990 on its Service, tls.implicit.port in the pod). */
function implicitMembers(config: Config, layout: DeployLayout, cis: boolean): As3PoolMember[] {
  if (cis) return [{ servicePort: PUBLIC_PORTS.implicit, serverAddresses: [] }];
  return [{ servicePort: layout.containerPorts.implicit ?? config.tls.implicit.port, serverAddresses: [...config.deploy.f5.memberAddresses] }];
}

/**
 * A data pool's single member. The member port does not matter for traffic (translateServerPort
 * false keeps the client's destination port) nor for health (the monitor has its own port).
 * Static: port 0 ("any"), which says so in the BIG-IP GUI. CIS: the first port of the slice,
 * because CIS only fills a member whose servicePort is a port of the replica's data Service.
 */
function dataMember(config: Config, layout: DeployLayout, index: number, cis: boolean): As3PoolMember {
  const replica = layout.replicaLayouts[index];
  if (replica === undefined) throw new DeployLayoutError(`no layout for replica ${index}`);
  if (cis) return { servicePort: replica.slice.min, serverAddresses: [] };
  const address = config.deploy.f5.memberAddresses[index];
  if (address === undefined) throw new DeployLayoutError(`deploy.f5.memberAddresses has no address for replica ${index}`);
  return { servicePort: 0, serverAddresses: [address] };
}

function passthroughObjects(config: Config, layout: DeployLayout, base: VirtualBase, cis: boolean, dataMonitor: string): Record<string, As3ApplicationObject> {
  const { proxy, tls } = config;
  const objects: Record<string, As3ApplicationObject> = {};
  objects[AS3_NAMES.controlVirtual] = virtual(base, {
    remark: 'FTP control, explicit FTPS (all replicas)',
    virtualPort: PUBLIC_PORTS.control,
    pool: AS3_NAMES.controlPool,
    profileTCP: AS3_NAMES.tcpControl,
    proxy: proxy.control !== 'off',
    translateServerPort: true,
  });
  const implicit = tls.implicit.enabled;
  if (implicit) {
    // Its own pool, not the control pool: a pool member has one port, and under CIS a pool is
    // filled from exactly one labelled Service (see f5ImplicitPoolName in deploy/layout).
    objects[AS3_NAMES.implicitVirtual] = virtual(base, {
      remark: 'implicit FTPS (all replicas)',
      virtualPort: PUBLIC_PORTS.implicit,
      pool: AS3_NAMES.implicitPool,
      profileTCP: AS3_NAMES.tcpControl,
      proxy: proxy.implicit !== 'off',
      translateServerPort: true,
    });
  }
  for (const replica of layout.replicaLayouts) {
    objects[dataVirtualName(replica.index)] = virtual(base, {
      remark: `passive ${replica.slice.min}-${replica.slice.max} to ${replica.podName} only`,
      virtualPort: use(dataPortListName(replica.index)),
      pool: dataPoolName(replica.index),
      profileTCP: AS3_NAMES.tcpData,
      proxy: proxy.passive !== 'off',
      translateServerPort: false,
    });
  }
  // Least connections: FTP sessions are long and uneven, round robin would pile them up.
  objects[AS3_NAMES.controlPool] = pool('every replica, control port', controlMembers(config, layout, cis), 'least-connections-member');
  if (implicit) objects[AS3_NAMES.implicitPool] = pool('every replica, implicit FTPS port', implicitMembers(config, layout, cis), 'least-connections-member');
  for (const replica of layout.replicaLayouts) {
    objects[dataPoolName(replica.index)] = pool(`${replica.podName} alone`, [dataMember(config, layout, replica.index, cis)], 'round-robin', dataMonitor);
    objects[dataPortListName(replica.index)] = {
      class: 'Net_Port_List',
      remark: remark(`passive slice of ${replica.podName}`),
      ports: [`${replica.slice.min}-${replica.slice.max}`],
    };
  }
  return objects;
}

function ftpProfileObjects(config: Config, layout: DeployLayout, base: VirtualBase, cis: boolean): Record<string, As3ApplicationObject> {
  return {
    [AS3_NAMES.controlVirtual]: virtual(base, {
      remark: 'cleartext FTP through the FTP ALG',
      virtualPort: PUBLIC_PORTS.control,
      pool: AS3_NAMES.controlPool,
      profileTCP: AS3_NAMES.tcpControl,
      profileFTP: AS3_NAMES.ftpProfile,
      proxy: config.proxy.control !== 'off',
      translateServerPort: true,
    }),
    [AS3_NAMES.controlPool]: pool('every replica, control port', controlMembers(config, layout, cis), 'least-connections-member'),
    [AS3_NAMES.ftpProfile]: {
      class: 'FTP_Profile',
      remark: 'ALG: rewrites PASV, opens data channels',
      port: 20,
      // The ALG reads the control channel, so no FTPS; disallow makes BIG-IP refuse AUTH TLS
      // instead of letting the session go blind.
      ftpsMode: 'disallow',
      // EPSV becomes PASV towards kftpd (which implements both), so IPv6 clients work too.
      translateExtendedEnabled: true,
      // Pods cannot originate connections from the VIP; kftpd has active mode off by default.
      activeModeEnabled: false,
      // Data channels get the control TCP profile (its long idle timeout), not bare FastL4.
      inheritParentProfileEnabled: true,
    },
  };
}

/** As controlMembers, for the SFTP port (public 22 on its Service, sftp.port in the pod). */
function sftpMembers(config: Config, layout: DeployLayout, cis: boolean): As3PoolMember[] {
  if (cis) return [{ servicePort: PUBLIC_PORTS.sftp, serverAddresses: [] }];
  return [{ servicePort: layout.containerPorts.sftp ?? config.sftp.port, serverAddresses: [...config.deploy.f5.memberAddresses] }];
}

/**
 * The SFTP virtual and its pool. The control TCP profile: an SFTP session idles between
 * requests like an FTP control connection, and the server ends idle ones after
 * sftp.idleTimeoutMs, which that profile's timeout exceeds (f5-timeouts takes the longer of
 * the FTP and SFTP idle timeouts). The pool shares the control
 * pools' monitor: readiness (/readyz) is one signal for the whole replica, so a draining
 * replica leaves the SFTP pool when it leaves the FTP pools.
 */
function sftpObjects(config: Config, layout: DeployLayout, base: VirtualBase, cis: boolean): Record<string, As3ApplicationObject> {
  return {
    [AS3_NAMES.sftpVirtual]: virtual(base, {
      remark: 'SFTP over SSH (all replicas)',
      virtualPort: PUBLIC_PORTS.sftp,
      pool: AS3_NAMES.sftpPool,
      profileTCP: AS3_NAMES.tcpControl,
      proxy: config.proxy.sftp !== 'off',
      translateServerPort: true,
    }),
    [AS3_NAMES.sftpPool]: pool('every replica, SFTP port', sftpMembers(config, layout, cis), 'least-connections-member'),
  };
}

/** The AS3 request (class AS3, action deploy) for `config`. Throws DeployLayoutError when it cannot be built. */
export function buildAs3Request(config: Config, options: As3BuildOptions = {}): As3Build {
  const { f5 } = config.deploy;
  const poolMembers = options.poolMembers ?? f5.poolMembers;
  const { errors, warnings } = checkF5Config(config, poolMembers);
  const layout = deployLayout(config);
  const idle = idleTimeouts(config);
  warnings.push(...idle.warnings);
  const timing = monitorTiming(config);
  if (f5.monitor === 'http-readyz') warnings.push(...timing.warnings);

  const cis = poolMembers === 'cis';
  const base: VirtualBase = { virtualAddresses: virtualAddressesOf(config), snat: snatOf(f5.snat) };
  const passthrough = f5.mode === 'passthrough';
  const dataMonitor = dataHealthMonitor(config, timing);
  const objects = passthrough
    ? passthroughObjects(config, layout, base, cis, dataMonitor === null ? AS3_NAMES.monitor : AS3_NAMES.dataMonitor)
    : ftpProfileObjects(config, layout, base, cis);
  if (config.sftp.enabled) Object.assign(objects, sftpObjects(config, layout, base, cis));

  objects[AS3_NAMES.tcpControl] = {
    class: 'TCP_Profile',
    remark: `idle ${idle.control} s, above the server's`,
    idleTimeout: idle.control,
  };
  if (passthrough) {
    objects[AS3_NAMES.tcpData] = { class: 'TCP_Profile', remark: `data connections, idle ${idle.data} s`, idleTimeout: idle.data };
  }
  objects[AS3_NAMES.monitor] = healthMonitor(config, layout.containerPorts.control, timing);
  if (passthrough && dataMonitor !== null) objects[AS3_NAMES.dataMonitor] = dataMonitor;
  const usesProxy = Object.values(objects).some((object) => object.class === 'Service_TCP' && object.iRules !== undefined);
  if (usesProxy) {
    objects[AS3_NAMES.proxyIRule] = { class: 'iRule', remark: 'PROXY v1 header to kftpd', expand: false, iRule: PROXY_V1_IRULE };
  }

  const requirements = requirementsOf(Object.values(objects));
  errors.push(...versionErrors(requirements, f5.as3Version, f5.tmosVersion));
  const tenant = f5TenantName(config);
  const application: As3Application = { class: 'Application', template: 'generic', ...objects };
  const declaration: As3Adc = {
    class: 'ADC',
    // The lowest version carrying every feature used: AS3 refuses newer stamps than its own,
    // and CIS 2.18-2.20.3 skip a ConfigMap their bundled 3.52 schema rejects.
    schemaVersion: schemaVersionFor(requirements),
    // Stable: AS3 keeps a history per id, and a re-render must not look like a new declaration.
    id: `kftpd-${config.deploy.name}-${tenant}-${f5.application}`,
    label: `kftpd ${config.deploy.name}`.slice(0, 64),
    remark: remark(`kftpd ${f5.mode}, ${layout.replicas} replicas, ${poolMembers} members`),
    [tenant]: { class: 'Tenant', [f5.application]: application },
  };
  return { request: { class: 'AS3', action: 'deploy', persist: true, declaration }, warnings, errors, tmosVersion: tmosVersionFor(requirements) };
}
