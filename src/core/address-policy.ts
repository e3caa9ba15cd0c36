/**
 * @module core/address-policy
 * Owns the allow/deny decision for a client address, shared by the global `access` lists
 * (checked at connection admission) and the per-user `allowFrom`/`denyFrom` of the users
 * file: deny wins; an empty allow list lets everyone in. IPv4 and IPv6 CIDRs (core/cidr).
 */
import { CidrList } from './cidr.js';

export class AddressPolicy {
  readonly #allow: CidrList | null;
  readonly #deny: CidrList | null;

  /** Throws a RangeError naming the first malformed entry. */
  constructor(allow: readonly string[], deny: readonly string[]) {
    this.#allow = allow.length > 0 ? new CidrList(allow) : null;
    this.#deny = deny.length > 0 ? new CidrList(deny) : null;
  }

  /** True when neither list has an entry (nothing to check: admission skips the policy). */
  get open(): boolean {
    return this.#allow === null && this.#deny === null;
  }

  allows(address: string): boolean {
    if (this.#deny?.has(address)) return false;
    return this.#allow === null || this.#allow.has(address);
  }
}
