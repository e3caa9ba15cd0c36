/**
 * @module deploy/f5/f5-checks
 * What must hold, and what should, before kftpd renders BIG-IP objects for a config: the
 * balancer-side settings (VIP, members, allow-list) and the server settings that only work with
 * some balancer designs (PROXY protocol behind SNAT, TLS through the FTP ALG, port offsets).
 * Impossible combinations throw DeployLayoutError; risky ones become render warnings. Pure.
 */
import { defenderSharedAddressWarning } from '../shared-address-warning.js';
import { isIP } from 'node:net';
import type { Config } from '../../config/schema.js';
import { parseCidr } from '../../core/cidr.js';
import { DeployLayoutError } from '../layout.js';

export type PoolMembersMode = 'cis' | 'static';

/** Throws for what cannot work in either mode; returns the warnings for the chosen mode. */
export function checkF5Config(config: Config, poolMembers: PoolMembersMode): string[] {
  const f5 = config.deploy.f5;
  if (f5.virtualAddress === '') {
    throw new DeployLayoutError('deploy.f5.virtualAddress is empty: the F5 renderers need the VIP clients connect to (and passive.address should advertise it)');
  }
  for (const cidr of f5.allowFrom) {
    if (parseCidr(cidr) === null) throw new DeployLayoutError(`deploy.f5.allowFrom: "${cidr}" is not a CIDR or an IP address`);
    if (parseCidr(cidr)?.family !== (isIP(f5.virtualAddress) === 6 ? 'ipv6' : 'ipv4')) {
      throw new DeployLayoutError(`deploy.f5.allowFrom: "${cidr}" is not of the VIP's address family (${f5.virtualAddress})`);
    }
  }
  if (poolMembers === 'static') {
    if (f5.memberAddresses.length !== config.passive.replicas) {
      throw new DeployLayoutError(`deploy.f5.poolMembers is static but deploy.f5.memberAddresses has ${f5.memberAddresses.length} addresses for ${config.passive.replicas} replicas (passive.replicas): list one pod address per replica, in ordinal order`);
    }
    for (const address of f5.memberAddresses) {
      if (isIP(address) === 0) throw new DeployLayoutError(`deploy.f5.memberAddresses: "${address}" is not an IP address`);
    }
  }
  const warnings: string[] = [];
  if (f5.snat === 'none') {
    warnings.push('deploy.f5.snat is none: the pods must route their replies back through BIG-IP, or connections will hang');
  }
  if (f5.monitor === 'tcp' && config.proxy.control !== 'off') {
    warnings.push(`deploy.f5.monitor tcp connects to the control port without a PROXY header (proxy.control ${config.proxy.control}): every probe is counted as a PROXY error; prefer http-readyz or tcp-half-open`);
  }
  if (f5.monitor !== 'http-readyz') {
    warnings.push(`deploy.f5.monitor ${f5.monitor} cannot see a draining replica: new sessions reach it until its listeners close; http-readyz takes it out of the pools first`);
  }
  const defenderWarning = defenderSharedAddressWarning(config);
  if (defenderWarning !== null) warnings.push(defenderWarning);
  if (f5.mode === 'passthrough') warnings.push(...passthroughChecks(config));
  else warnings.push(...ftpProfileChecks(config));
  return warnings;
}

function passthroughChecks(config: Config): string[] {
  const { f5 } = config.deploy;
  const { passive, proxy, tls } = config;
  const warnings: string[] = [];
  if (passive.portOffset !== 0) {
    throw new DeployLayoutError(`passive.portOffset is ${passive.portOffset}: the F5 data virtuals keep the destination port (translateServerPort false), so the advertised port must be the pod's; set passive.portOffset to 0`);
  }
  if (isIP(passive.address) !== 0 && passive.address !== f5.virtualAddress) {
    warnings.push(`passive.address (${passive.address}) is not the VIP (${f5.virtualAddress}): PASV replies send clients around BIG-IP`);
  }
  if (f5.snat !== 'none') {
    const lost: string[] = [];
    if (proxy.control === 'off') lost.push('proxy.control');
    if (tls.implicit.enabled && proxy.implicit === 'off') lost.push('proxy.implicit');
    if (proxy.passive === 'off') lost.push('proxy.passive');
    if (lost.length > 0) {
      warnings.push(`${lost.join(', ')} off while BIG-IP SNATs (deploy.f5.snat ${f5.snat}): kftpd sees BIG-IP's address instead of the client's on those listeners (logs, per-address limits); turn the PROXY protocol on (the iRule is attached to every virtual whose listener accepts it)`);
    }
    if (proxy.control !== 'off' && proxy.passive === 'off' && passive.requireSameAddress) {
      warnings.push('proxy.control is on but proxy.passive is off while BIG-IP SNATs: data connections arrive from the SNAT address, not the control client\'s, and passive.requireSameAddress refuses every one of them; turn proxy.passive on');
    }
  }
  return warnings;
}

function ftpProfileChecks(config: Config): string[] {
  const { f5 } = config.deploy;
  const { passive, proxy, tls } = config;
  if (tls.control === 'required' || tls.data === 'required') {
    throw new DeployLayoutError(`deploy.f5.mode ftp-profile carries cleartext FTP only (the ALG must read PASV replies), but tls.control is ${tls.control} and tls.data ${tls.data}: set both to optional/off, or use mode passthrough for FTPS`);
  }
  const warnings = ['deploy.f5.mode ftp-profile: FTPS is impossible through the FTP ALG (ftpsMode disallow makes BIG-IP refuse AUTH TLS); passwords and files cross in clear text — use mode passthrough for FTPS'];
  if (tls.control !== 'off') warnings.push(`tls.control is ${tls.control}: set it to off so FEAT stops offering AUTH TLS, which BIG-IP refuses in ftp-profile mode`);
  if (tls.implicit.enabled) warnings.push('tls.implicit.enabled: the implicit FTPS listener gets no virtual in ftp-profile mode');
  if (passive.address !== '') {
    warnings.push(`passive.address is ${passive.address}: in ftp-profile mode the pods must advertise their own address (passive.address empty) — the ALG rewrites it to the VIP and connects data channels to it`);
  }
  if (passive.portOffset !== 0) warnings.push(`passive.portOffset is ${passive.portOffset}: the ALG connects data channels to the advertised port, where nothing listens`);
  if (proxy.passive !== 'off') {
    warnings.push(`proxy.passive is ${proxy.passive}: data connections opened by the FTP ALG carry no PROXY header${proxy.passive === 'required' ? ' and are all refused' : ''}; set proxy.passive off`);
  }
  if (f5.snat !== 'none' && proxy.control !== 'off' && passive.requireSameAddress) {
    warnings.push('proxy.control is on while BIG-IP SNATs in ftp-profile mode: data connections come from the SNAT address and passive.requireSameAddress refuses them; set passive.requireSameAddress false or proxy.control off');
  }
  if (f5.snat !== 'none' && proxy.control === 'off') {
    warnings.push(`proxy.control off while BIG-IP SNATs (deploy.f5.snat ${f5.snat}): kftpd sees BIG-IP's address instead of the client's`);
  }
  return warnings;
}
