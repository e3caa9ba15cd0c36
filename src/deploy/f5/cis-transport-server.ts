/**
 * @module deploy/f5/cis-transport-server
 * A CIS TransportServer (cis.f5.com/v1) for the control virtual (and one for SFTP), as an alternative for
 * sites that run CIS in CRD mode. It can only ever be that: a TransportServer listens on one
 * port (virtualServerPort is a single integer), so it cannot carry a passive slice, and it has
 * no translateServerPort; the data virtuals need the AS3 declaration. And one CIS instance
 * runs either CRD mode or AS3 ConfigMap mode, never both, so this object is for a different
 * CIS instance than the ConfigMap beside it. Pure: no I/O.
 *
 * Unlike AS3, CRD mode cannot create the PROXY iRule or the TCP profile; the object refers to
 * them by BIG-IP path and they must exist first (see transportServerPrerequisites).
 */
import type { Config } from '../../config/schema.js';
import { PUBLIC_PORTS, deployLayout } from '../layout.js';
import type { KubernetesObject } from '../kubernetes/object-meta.js';
import { idleTimeouts, monitorTiming } from './f5-timeouts.js';
import { READYZ_RECEIVE, READYZ_SEND } from './health-monitor.js';

/** CIS in CRD mode processes only custom resources carrying this label (its default --custom-resource-label). */
export const CIS_CRD_LABELS = Object.freeze({ f5cr: 'true' });

/** BIG-IP paths of the objects the TransportServer refers to but cannot create. */
export function transportServerPaths(config: Config): { readonly iRule: string; readonly tcpProfile: string } {
  const { name } = config.deploy;
  return { iRule: `/Common/${name}-proxy-v1`, tcpProfile: `/Common/${name}-tcp-control` };
}

/** What an operator creates on BIG-IP before applying the TransportServer (tmsh lines and notes). */
export function transportServerPrerequisites(config: Config): string[] {
  const paths = transportServerPaths(config);
  const lines = [`tmsh create ltm profile tcp ${paths.tcpProfile} defaults-from /Common/tcp idle-timeout ${idleTimeouts(config).control}`];
  if (config.proxy.control !== 'off' || (config.sftp.enabled && config.proxy.sftp !== 'off')) {
    lines.push(`tmsh create ltm rule ${paths.iRule}  (text: the proxyProtocolV1 iRule of the AS3 declaration)`);
  }
  return lines;
}

function monitor(config: Config, controlPort: number): Record<string, unknown> {
  const timing = monitorTiming(config);
  const common = { interval: timing.interval, timeout: timing.timeout };
  if (config.deploy.f5.monitor === 'http-readyz') {
    return { type: 'http', send: READYZ_SEND, recv: READYZ_RECEIVE, targetPort: config.admin.port, ...common };
  }
  // The CRD has no half-open monitor type: a plain TCP connect to the control port.
  return { type: 'tcp', targetPort: controlPort, ...common };
}

/** The TransportServer of one all-replica virtual: `role` names it, `port` is the VIP port and the control Service's port. */
function transportServer(config: Config, role: 'control' | 'sftp', port: number, proxy: boolean): KubernetesObject {
  const layout = deployLayout(config);
  const { f5 } = config.deploy;
  const paths = transportServerPaths(config);
  return {
    apiVersion: 'cis.f5.com/v1',
    kind: 'TransportServer',
    metadata: {
      name: `${config.deploy.name}-${role}`,
      // The pool's Service is looked up in the TransportServer's own namespace.
      namespace: layout.namespace,
      labels: { ...layout.labels, ...CIS_CRD_LABELS },
    },
    spec: {
      virtualServerAddress: f5.virtualAddress,
      virtualServerPort: port,
      // The CRD wants a leading letter; a release name may start with a digit.
      virtualServerName: /^[a-zA-Z]/.test(config.deploy.name) ? `${config.deploy.name}-${role}` : `kftpd-${config.deploy.name}-${role}`,
      // standard = a full-proxy Service_TCP: iRules and TCP profiles work (performance would be FastL4).
      mode: 'standard',
      type: 'tcp',
      snat: f5.snat,
      persistenceProfile: 'none',
      profiles: { tcp: { client: paths.tcpProfile } },
      ...(proxy ? { iRules: [paths.iRule] } : {}),
      pool: {
        // The control Service carries 21 and, with SFTP on, 22: CRD mode picks the port by servicePort.
        service: layout.controlServiceName,
        servicePort: port,
        loadBalancingMethod: 'least-connections-member',
        monitor: monitor(config, layout.containerPorts.control),
      },
    },
  };
}

export function cisTransportServer(config: Config): KubernetesObject {
  return transportServer(config, 'control', PUBLIC_PORTS.control, config.proxy.control !== 'off');
}

/**
 * The SFTP virtual (VIP:22) as a TransportServer, with SFTP on: unlike a passive slice it fits
 * one (one port, any replica, the pod port from the Service's targetPort). Same TCP profile and
 * monitor as the control one, as in the AS3 declaration.
 */
export function cisSftpTransportServer(config: Config): KubernetesObject | null {
  if (!config.sftp.enabled) return null;
  return transportServer(config, 'sftp', PUBLIC_PORTS.sftp, config.proxy.sftp !== 'off');
}
