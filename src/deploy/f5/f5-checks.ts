/**
 * @module deploy/f5/f5-checks
 * What must hold, and what should, before kftpd renders BIG-IP objects for a config: the
 * balancer-side settings (VIP, members, allow-list, tenant) and the server settings that only
 * work with some balancer designs (PROXY protocol behind SNAT, TLS through the FTP ALG, port
 * offsets). Malformed settings throw DeployLayoutError; designs that render but cannot work
 * become errors (`kftpd render` refuses them unless --force); risky ones become warnings. Pure.
 */
import { defenderSharedAddressWarning } from '../shared-address-warning.js';
import { isIP } from 'node:net';
import type { Config } from '../../config/schema.js';
import { parseCidr } from '../../core/cidr.js';
import { DeployLayoutError, f5TenantName } from '../layout.js';
import { balancerNodeAddressError } from '../node-address-modes.js';

export type PoolMembersMode = 'cis' | 'static';

export interface F5Findings {
  readonly errors: string[];
  readonly warnings: string[];
}

/** Names AS3 reserves at the ADC and Tenant levels; a tenant or application named so would be misread. */
const RESERVED_TENANTS = new Set(['class', 'updateMode', 'schemaVersion', 'id', 'target', 'label', 'remark', 'constants', 'Common', 'controls', 'scratch']);
const RESERVED_APPLICATIONS = new Set(['class', 'label', 'remark', 'verifiers', 'enable', 'defaultRouteDomain', 'useCommonRouteDomainTenant', 'Shared', 'constants', 'controls', 'optimisticLockKey']);
const AS3_TENANT_NAME = /^[A-Za-z][0-9A-Za-z_.-]{0,63}$/;

/**
 * The tenant must be this release's own. AS3 replaces a tenant as a whole on every POST, so a
 * second release declaring the same tenant deletes the first one's virtuals and pools;
 * /Common is shared by everything on the BIG-IP. A name containing the release name is taken
 * as owned by it.
 */
function tenantProblems(config: Config, errors: string[]): void {
  const { f5, name } = config.deploy;
  const tenant = f5TenantName(config);
  if (RESERVED_TENANTS.has(tenant)) throw new DeployLayoutError(`deploy.f5.tenant "${tenant}" is reserved by AS3 (Common is shared by every application on the BIG-IP); choose a tenant of this release`);
  if (RESERVED_APPLICATIONS.has(f5.application)) throw new DeployLayoutError(`deploy.f5.application "${f5.application}" is reserved by AS3; choose another name`);
  if (!AS3_TENANT_NAME.test(tenant)) {
    throw new DeployLayoutError(`the AS3 tenant defaults to the release name, but "${tenant}" is no AS3 tenant name (it must start with a letter): set deploy.f5.tenant`);
  }
  if (!tenant.toLowerCase().includes(name.toLowerCase())) {
    errors.push(`deploy.f5.tenant "${tenant}" does not contain the release name "${name}": AS3 replaces a tenant as a whole, so another release declaring "${tenant}" would delete this one's objects (and this one its); leave deploy.f5.tenant empty (the release name) or include the release name`);
  }
}

/** Throws for malformed settings; returns the errors and warnings for the chosen mode. */
export function checkF5Config(config: Config, poolMembers: PoolMembersMode): F5Findings {
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
  const errors: string[] = [];
  const warnings: string[] = [];
  tenantProblems(config, errors);
  const nodeAddresses = balancerNodeAddressError(config);
  if (nodeAddresses !== null) errors.push(nodeAddresses);
  if (f5.snat === 'none') {
    warnings.push('deploy.f5.snat is none: the pods must route their replies back through BIG-IP, or connections will hang');
  }
  if (f5.monitor === 'tcp' && config.proxy.control === 'required') {
    // The defender scores refused PROXY headers: BIG-IP's own monitor address would be banned.
    errors.push('deploy.f5.monitor tcp connects to the control port without a PROXY header while proxy.control is required: every probe is a refused PROXY header, which fills the logs and makes the defender ban the monitor\'s source address; use http-readyz (the default) or tcp-half-open');
  } else if (f5.monitor === 'tcp' && config.proxy.control !== 'off') {
    warnings.push(`deploy.f5.monitor tcp connects to the control port without a PROXY header (proxy.control ${config.proxy.control}): every probe is logged as a connection without one; prefer http-readyz or tcp-half-open`);
  }
  if (f5.monitor !== 'http-readyz') {
    warnings.push(`deploy.f5.monitor ${f5.monitor} cannot see a draining replica: new sessions reach it until its listeners close; http-readyz takes it out of the pools first`);
  }
  const defenderWarning = defenderSharedAddressWarning(config);
  if (defenderWarning !== null) warnings.push(defenderWarning);
  const findings = { errors, warnings };
  if (f5.mode === 'passthrough') passthroughChecks(config, findings);
  else ftpProfileChecks(config, findings);
  if (config.sftp.enabled && f5.snat !== 'none' && config.proxy.sftp === 'off') {
    warnings.push(`proxy.sftp off while BIG-IP SNATs (deploy.f5.snat ${f5.snat}): kftpd sees BIG-IP's address instead of the client's on the SFTP listener, so logs, per-address limits and the defender (bans of that address refuse every SFTP and FTP client) all see one client; turn proxy.sftp on (the iRule is then attached to the SFTP virtual)`);
  }
  return findings;
}

function passthroughChecks(config: Config, { errors, warnings }: F5Findings): void {
  const { f5 } = config.deploy;
  const { passive, proxy, tls } = config;
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
      errors.push('proxy.control is on but proxy.passive is off while BIG-IP SNATs: data connections arrive from the SNAT address, not the control client\'s, and passive.requireSameAddress refuses every one of them; turn proxy.passive on');
    }
  }
}

function ftpProfileChecks(config: Config, { errors, warnings }: F5Findings): void {
  const { f5 } = config.deploy;
  const { passive, proxy, tls } = config;
  if (tls.control === 'required' || tls.data === 'required') {
    throw new DeployLayoutError(`deploy.f5.mode ftp-profile carries cleartext FTP only (the ALG must read PASV replies), but tls.control is ${tls.control} and tls.data ${tls.data}: set both to optional/off, or use mode passthrough for FTPS`);
  }
  // No standing warning that the mode is cleartext: choosing it is explicit, documented, and
  // the FTP profile's remark says so on BIG-IP; a warning on every render would teach
  // operators to ignore warnings.
  if (tls.control !== 'off') warnings.push(`tls.control is ${tls.control}: set it to off so FEAT stops offering AUTH TLS, which BIG-IP refuses in ftp-profile mode`);
  if (tls.implicit.enabled) warnings.push('tls.implicit.enabled: the implicit FTPS listener gets no virtual in ftp-profile mode');
  if (passive.address !== '') {
    errors.push(`passive.address is ${passive.address}: in ftp-profile mode the pods must advertise their own address (passive.address empty) — the ALG rewrites it to the VIP and connects data channels to it`);
  }
  if (passive.portOffset !== 0) errors.push(`passive.portOffset is ${passive.portOffset}: the ALG connects data channels to the advertised port, where nothing listens`);
  if (proxy.passive === 'required') {
    errors.push('proxy.passive is required: data connections opened by the FTP ALG carry no PROXY header and are all refused; set proxy.passive off');
  } else if (proxy.passive !== 'off') {
    warnings.push(`proxy.passive is ${proxy.passive}: data connections opened by the FTP ALG carry no PROXY header; set proxy.passive off`);
  }
  if (f5.snat !== 'none' && proxy.control !== 'off' && passive.requireSameAddress) {
    errors.push('proxy.control is on while BIG-IP SNATs in ftp-profile mode: data connections come from the SNAT address and passive.requireSameAddress refuses them; set passive.requireSameAddress false or proxy.control off');
  }
  if (f5.snat !== 'none' && proxy.control === 'off') {
    warnings.push(`proxy.control off while BIG-IP SNATs (deploy.f5.snat ${f5.snat}): kftpd sees BIG-IP's address instead of the client's`);
  }
}
