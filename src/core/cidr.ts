/**
 * @module core/cidr
 * Address lists in CIDR notation (IPv4 and IPv6), on top of node:net's BlockList. An
 * IPv4-mapped IPv6 address ("::ffff:10.0.0.1") matches IPv4 entries.
 */
import { BlockList, isIP } from 'node:net';

export class CidrList {
  readonly #list = new BlockList();
  readonly entries: readonly string[];

  /** Throws a RangeError naming the first malformed entry. */
  constructor(entries: readonly string[]) {
    this.entries = entries;
    for (const entry of entries) {
      const parsed = parseCidr(entry);
      if (!parsed) throw new RangeError(`not a CIDR or IP address: "${entry}"`);
      this.#list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  has(address: string): boolean {
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(plain);
    if (family === 0) return false;
    return this.#list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** True when every entry parses (for config validation). */
export function isCidrList(entries: readonly string[]): boolean {
  return entries.every((entry) => parseCidr(entry) !== null);
}
