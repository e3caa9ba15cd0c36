/**
 * @module doctor/address-scope
 * Which kind of network an IP address belongs to, so `kftpd doctor` can tell "the PASV reply
 * names a private address" from "it names another public address". Ranges: unspecified
 * (0.0.0.0/8, ::), loopback (127/8, ::1), private (RFC 1918), shared/CGNAT (RFC 6598,
 * 100.64/10), link-local (RFC 3927 169.254/16, fe80::/10), unique local (RFC 4193, fc00::/7).
 * Pure: no I/O.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { normalizeAddress } from '../protocol/address.js';

export type AddressScope = 'unspecified' | 'loopback' | 'private' | 'shared' | 'link-local' | 'unique-local' | 'public';

const RANGES: readonly [AddressScope, string, number, 'ipv4' | 'ipv6'][] = [
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['shared', '100.64.0.0', 10, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['unique-local', 'fc00::', 7, 'ipv6'],
];

const LISTS = new Map<AddressScope, BlockList>();
for (const [scope, network, prefix, family] of RANGES) {
  let list = LISTS.get(scope);
  if (!list) {
    list = new BlockList();
    LISTS.set(scope, list);
  }
  list.addSubnet(network, prefix, family);
}

/** The scope of an IP literal (IPv4-mapped IPv6 counts as IPv4); null for anything else. */
export function addressScope(address: string): AddressScope | null {
  const ip = normalizeAddress(address);
  const family = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : null;
  if (family === null) return null;
  for (const [scope, list] of LISTS) {
    if (list.check(ip, family)) return scope;
  }
  return 'public';
}

/** Reachable only inside some private network (everything except 'public'). */
export function isNonPublic(scope: AddressScope): boolean {
  return scope !== 'public';
}
