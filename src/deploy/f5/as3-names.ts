/**
 * @module deploy/f5/as3-names
 * The names of the objects kftpd puts in its AS3 Application. They become BIG-IP object names
 * (/<tenant>/<application>/<name>) that operators read in the GUI and in tmsh, so they are
 * short, stable across renders and say what the object is. Pool names come from deploy/layout
 * because the Kubernetes Services carry them as CIS labels. Pure: no I/O.
 */
import { f5ControlPoolName, f5DataPoolName, f5ImplicitPoolName, f5SftpPoolName } from '../layout.js';

export const AS3_NAMES = Object.freeze({
  /** Virtual server on VIP:21 (explicit FTPS or, in ftp-profile mode, cleartext FTP). */
  controlVirtual: 'control',
  /** Virtual server on VIP:990 (implicit FTPS). */
  implicitVirtual: 'implicit',
  /** Pool of every replica on the control port. */
  controlPool: f5ControlPoolName(),
  /** Pool of every replica on the implicit FTPS port. */
  implicitPool: f5ImplicitPoolName(),
  /** Virtual server on VIP:22 (SFTP: plain TCP, no passive ports, no FTP profile). */
  sftpVirtual: 'sftp',
  /** Pool of every replica on the SFTP port. */
  sftpPool: f5SftpPoolName(),
  /** The control pools' health monitor (and the data pools' too unless dataMonitor exists). */
  monitor: 'health',
  /** The data pools' liveness monitor (http-readyz mode only; see health-monitor). */
  dataMonitor: 'alive',
  /** TCP profiles: control connections idle between commands, data connections during transfers. */
  tcpControl: 'tcpControl',
  tcpData: 'tcpData',
  /** PROXY protocol v1 iRule. */
  proxyIRule: 'proxyProtocolV1',
  /** FTP profile (ALG) of ftp-profile mode. */
  ftpProfile: 'ftpAlg',
});

/** Data virtual server of replica `index` (its passive slice). */
export function dataVirtualName(index: number): string {
  return `data${index}`;
}

/** Port list holding replica `index`'s passive slice. */
export function dataPortListName(index: number): string {
  return `dataPorts${index}`;
}

/** Pool holding replica `index` alone. */
export function dataPoolName(index: number): string {
  return f5DataPoolName(index);
}
