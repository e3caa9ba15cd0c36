/**
 * @module security/address-key
 * Owns how a client address becomes the key the defender scores and bans: an IPv4 address
 * (IPv4-mapped IPv6 included) is itself; an IPv6 address is aggregated to its network prefix
 * ("2001:db8:1:2::/64" by default), because one attacker usually owns a whole /64 and can use
 * a fresh address for every connection. Pure: no I/O.
 */
import { isIPv4, isIPv6 } from 'node:net';

const V4_MAPPED = '::ffff:';

/**
 * The defender key of an address, or null when it is not an IP literal.
 * `ipv6Prefix` 128 keeps each IPv6 address on its own.
 */
export function addressKey(address: string, ipv6Prefix: number): string | null {
  // Fast path: a plain IPv4 literal is its own key (no allocation beyond the check).
  if (isIPv4(address)) return address;
  if (address.length > V4_MAPPED.length && address.slice(0, V4_MAPPED.length).toLowerCase() === V4_MAPPED) {
    const rest = address.slice(V4_MAPPED.length);
    if (isIPv4(rest)) return rest;
  }
  if (!isIPv6(address)) return null;
  const groups = parseIPv6(address);
  if (!groups) return null;
  if (ipv6Prefix >= 128) return formatIPv6(groups);
  maskGroups(groups, ipv6Prefix);
  return `${formatIPv6(groups)}/${ipv6Prefix}`;
}

/**
 * The key for an operator-given address or network ("2001:db8::1", "2001:db8::/64",
 * "192.0.2.7"), so a ban can be lifted by the address the operator sees in a log line.
 */
export function keyFromOperatorInput(text: string, ipv6Prefix: number): string | null {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  return addressKey(slash === -1 ? trimmed : trimmed.slice(0, slash), ipv6Prefix);
}

/** Eight 16-bit groups of an IPv6 literal (zone ids and embedded IPv4 handled). */
function parseIPv6(address: string): number[] | null {
  const zone = address.indexOf('%');
  let text = zone === -1 ? address : address.slice(0, zone);
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // "::ffff:1.2.3.4" style: the last 32 bits written as IPv4.
    const octets = last.split('.').map(Number);
    tail.push(((octets[0] ?? 0) << 8) | (octets[1] ?? 0), ((octets[2] ?? 0) << 8) | (octets[3] ?? 0));
    text = text.slice(0, lastColon + 1) + '0';
  }
  const [head = '', rest] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => Number.parseInt(h, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  // The "0" that stood in for the IPv4 part above is replaced by its two groups in `tail`.
  if (tail.length > 0) {
    if (right.length > 0) right.pop();
    else left.pop();
  }
  const given = left.length + right.length + tail.length;
  const zeros = rest === undefined ? 0 : 8 - given;
  const groups = [...left, ...new Array<number>(Math.max(0, zeros)).fill(0), ...right, ...tail];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

function maskGroups(groups: number[], prefix: number): void {
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    groups[i] = bits === 0 ? 0 : (groups[i] ?? 0) & ((0xffff << (16 - bits)) & 0xffff);
  }
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
function formatIPv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
