/**
 * @module core/advertise-options
 * What a PASV/EPSV reply may advertise (a literal, a DNS name, per-network overrides, the
 * connection's destination, a port offset) and the pure checks of those settings, shared by
 * config validation (config/schema.ts) and the resolver that applies them
 * (data/passive-address.ts).
 * Pure: no DNS lookups, no sockets.
 */
import { isIP } from 'node:net';
import { parseCidr } from './cidr.js';
import { isDnsName } from './dns-name.js';

export interface AdvertiseOptions {
  /** '' = the control connection's local address; an IPv4/IPv6 literal; or a DNS name. */
  readonly address: string;
  /**
   * "CIDR=address" entries, e.g. "10.0.0.0/8=10.1.2.3" (in-cluster clients get the pod
   * address). First match wins, matched against the client's real address (after PROXY
   * protocol). The address may be a literal or a DNS name.
   */
  readonly overrides: readonly string[];
  /**
   * Advertise the address the client connected to: the PROXY header's destination when
   * present, else the control socket's local address.
   */
  readonly useDestination: boolean;
  /** How long a resolved DNS name is served before it is looked up again. */
  readonly dnsCacheMs: number;
  /** Advertised port = listening port + offset (balancers that translate ports); may be negative. */
  readonly portOffset: number;
}

type OverrideCheck = { ok: true; cidr: string; address: string } | { ok: false; problem: string };

function checkOverride(entry: string): OverrideCheck {
  const separator = entry.indexOf('=');
  if (separator < 0) return { ok: false, problem: 'expected "CIDR=address"' };
  const cidr = entry.slice(0, separator).trim();
  const address = entry.slice(separator + 1).trim();
  if (parseCidr(cidr) === null) return { ok: false, problem: `"${cidr}" is not a CIDR or IP address` };
  if (address === '') return { ok: false, problem: 'the address after "=" is empty' };
  if (isIP(address) === 0 && !isDnsName(address)) {
    return { ok: false, problem: `"${address}" is neither an IP address nor a DNS name` };
  }
  return { ok: true, cidr, address };
}

/** "10.0.0.0/8=10.1.2.3" -> { cidr: "10.0.0.0/8", address: "10.1.2.3" }; null when malformed. */
export function parseOverride(entry: string): { cidr: string; address: string } | null {
  const checked = checkOverride(entry);
  return checked.ok ? { cidr: checked.cidr, address: checked.address } : null;
}

/** Problems with the options, one message each (empty when valid), for config validation. */
export function validateAdvertiseOptions(options: AdvertiseOptions): string[] {
  const problems: string[] = [];
  const address = options.address.trim();
  if (address !== '' && isIP(address) === 0 && !isDnsName(address)) {
    problems.push(`address: "${options.address}" is neither an IP address nor a DNS name`);
  }
  options.overrides.forEach((entry, index) => {
    const checked = checkOverride(entry);
    if (!checked.ok) problems.push(`overrides[${index}] "${entry}": ${checked.problem}`);
  });
  if (!Number.isInteger(options.dnsCacheMs) || options.dnsCacheMs < 0) {
    problems.push(`dnsCacheMs: must be an integer >= 0, got ${String(options.dnsCacheMs)}`);
  }
  if (!Number.isInteger(options.portOffset) || Math.abs(options.portOffset) > 65535) {
    problems.push(`portOffset: must be an integer from -65535 to 65535, got ${String(options.portOffset)}`);
  }
  return problems;
}

/**
 * Cross-field check for config validation: every port of the passive range, shifted by the
 * offset, must still be a port 1-65535. Kernel-chosen ports (portMin 0) cannot be shifted
 * meaningfully, since the balancer would need a rule for ports nobody knows in advance.
 * Returns a problem message or null.
 */
export function checkPortOffsetRange(portMin: number, portMax: number, portOffset: number): string | null {
  if (portOffset === 0) return null;
  if (portMin === 0) return `portOffset ${portOffset} needs a fixed passive port range (portMin/portMax are 0: kernel-chosen ports)`;
  if (portMin + portOffset < 1 || portMax + portOffset > 65535) {
    return `portOffset ${portOffset} moves the passive range ${portMin}-${portMax} to ${portMin + portOffset}-${portMax + portOffset}, outside 1-65535`;
  }
  return null;
}
