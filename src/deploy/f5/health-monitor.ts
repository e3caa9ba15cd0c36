/**
 * @module deploy/f5/health-monitor
 * The BIG-IP health monitors of kftpd's pools, from deploy.f5.monitor. They always probe a
 * fixed port of the pod through BIG-IP's alias port (AS3 `targetPort`) rather than the pool
 * member's port: a data pool's member port is a passive port, which listens only while a
 * transfer is pending, so probing it would mark every idle replica down.
 *
 * With http-readyz there are two: control pools follow readiness (/readyz), so a draining
 * replica gets no new sessions; data pools follow liveness (/healthz), because a draining
 * replica still owes data connections to its running sessions (PASV replies sent during the
 * readiness delay) and its slice has nowhere else to go — the per-replica data Services
 * publish not-ready addresses for the same reason. Pure: no I/O.
 */
import type { Config } from '../../config/schema.js';
import type { As3Monitor } from './as3-types.js';
import type { MonitorTiming } from './f5-timeouts.js';

/**
 * The /readyz request. BIG-IP monitor strings keep "\r\n" as backslash escapes and turns them
 * into CR LF when sending, so these are literal backslashes. HTTP/1.1 needs a Host header; the
 * admin listener does not care which; Connection: close spares BIG-IP waiting for a keep-alive
 * connection to end.
 */
export const READYZ_SEND = 'GET /readyz HTTP/1.1\\r\\nHost: kftpd\\r\\nConnection: close\\r\\n\\r\\n';
/** /readyz answers 200 when every check passes and 503 otherwise (and while draining). */
export const READYZ_RECEIVE = 'HTTP/1.1 200';
/** /healthz: 200 while the process serves at all, draining included. */
export const HEALTHZ_SEND = 'GET /healthz HTTP/1.1\\r\\nHost: kftpd\\r\\nConnection: close\\r\\n\\r\\n';

/**
 * - http-readyz: GET /readyz on the admin port, up only on 200, so a draining replica (readiness
 *   fails at SIGTERM) leaves every pool before its listeners close.
 * - tcp: a full connect to the control port. kftpd greets, then sees the probe hang up.
 * - tcp-half-open: SYN, SYN-ACK, RST on the control port; never reaches kftpd, so no log lines
 *   and no PROXY header errors.
 */
export function healthMonitor(config: Config, controlPort: number, timing: MonitorTiming): As3Monitor {
  const common = { interval: timing.interval, timeout: timing.timeout };
  switch (config.deploy.f5.monitor) {
    case 'http-readyz':
      return {
        class: 'Monitor',
        remark: 'kftpd admin /readyz',
        monitorType: 'http',
        targetPort: config.admin.port,
        ...common,
        send: READYZ_SEND,
        receive: READYZ_RECEIVE,
      };
    case 'tcp':
      return { class: 'Monitor', remark: 'kftpd control port (connect)', monitorType: 'tcp', targetPort: controlPort, ...common };
    case 'tcp-half-open':
      return { class: 'Monitor', remark: 'kftpd control port (half-open)', monitorType: 'tcp-half-open', targetPort: controlPort, ...common };
  }
}

/**
 * The data pools' own monitor, or null when they share healthMonitor (tcp monitors see the
 * same thing either way: the control listener).
 */
export function dataHealthMonitor(config: Config, timing: MonitorTiming): As3Monitor | null {
  if (config.deploy.f5.monitor !== 'http-readyz') return null;
  return {
    class: 'Monitor',
    remark: 'kftpd admin /healthz (liveness)',
    monitorType: 'http',
    targetPort: config.admin.port,
    interval: timing.interval,
    timeout: timing.timeout,
    send: HEALTHZ_SEND,
    receive: READYZ_RECEIVE,
  };
}
