/**
 * @module data/passive-address
 * Decides which address and port a PASV/EPSV reply advertises: per-client-network overrides,
 * the address the client actually connected to (PROXY protocol destination), a configured
 * literal or DNS name (re-resolved on a schedule so a balancer's changing IP is followed), or
 * the control connection's local address. Owns the DNS cache for those names.
 * Must not bind, listen or open sockets, and must not format replies (protocol/address does
 * that); DNS is reached only through the injectable `lookup`.
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { CidrList, parseCidr } from '../core/cidr.js';
import { normalizeAddress } from '../protocol/address.js';

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

export interface AdvertiseRequest {
  /** The client's real address (the PROXY header's source when there is one). */
  readonly clientAddress: string;
  readonly controlLocalAddress: string;
  /** The PROXY header's destination address, when the connection came with one. */
  readonly proxyDestination?: string;
  /** 1 = PASV (an IPv4 answer is needed), 2 = EPSV. */
  readonly family: 1 | 2;
}

export interface PassiveAddressDeps {
  /** Every address of a name. Default: dns.promises.lookup with all results, IPv4 first. */
  readonly lookup?: (host: string) => Promise<string[]>;
  /** Milliseconds clock (Date.now by default). */
  readonly now?: () => number;
  /** A lookup failed; the resolver keeps serving the last good value if it has one. */
  readonly onError?: (error: Error, host: string) => void;
}

export type PassiveAddressErrorCode = 'KFTPD_PASSIVE_ADDRESS_UNRESOLVED';

/** No address can be advertised for this request (a DNS name that never resolved usefully). */
export class PassiveAddressError extends Error {
  readonly code: PassiveAddressErrorCode = 'KFTPD_PASSIVE_ADDRESS_UNRESOLVED';
  readonly host: string;

  constructor(host: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PassiveAddressError';
    this.host = host;
  }
}

/**
 * RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, at most 63
 * characters each and 253 in all, an optional trailing dot. A last label of digits only is
 * refused, so a mistyped IPv4 literal ("10.0.0.300") is reported instead of being looked up.
 */
export function isDnsName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
  if (!labels.every((part) => label.test(part))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1] ?? '');
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

async function systemLookup(host: string): Promise<string[]> {
  const results = await dns.lookup(host, { all: true });
  // Sorted here rather than with lookup's `order`/`verbatim` options, whose names and
  // defaults changed across Node releases. Array#sort is stable: the resolver's order is kept
  // within each family.
  return results.sort((a, b) => a.family - b.family).map((result) => result.address);
}

interface CacheEntry {
  /** Last good answer, normalised; empty until a lookup succeeds. */
  addresses: string[];
  /** When the next lookup may start (clock of `now`). */
  refreshAt: number;
  inflight: Promise<void> | null;
  /** Why the latest lookup failed; null after a success. */
  lastError: Error | null;
}

interface CompiledOverride {
  readonly cidr: CidrList;
  readonly address: string;
}

export class PassiveAddressResolver {
  readonly #options: AdvertiseOptions;
  readonly #overrides: readonly CompiledOverride[];
  readonly #lookup: (host: string) => Promise<string[]>;
  readonly #now: () => number;
  readonly #onError: ((error: Error, host: string) => void) | undefined;
  readonly #cache = new Map<string, CacheEntry>();

  /** Throws a RangeError listing every problem validateAdvertiseOptions finds. */
  constructor(options: AdvertiseOptions, deps: PassiveAddressDeps = {}) {
    const problems = validateAdvertiseOptions(options);
    if (problems.length > 0) throw new RangeError(`invalid passive address options: ${problems.join('; ')}`);
    this.#options = { ...options, address: options.address.trim(), overrides: [...options.overrides] };
    this.#overrides = options.overrides.map((entry) => {
      const parsed = parseOverride(entry);
      // validateAdvertiseOptions has accepted every entry, so parsed is never null here.
      if (parsed === null) throw new RangeError(`invalid passive address override "${entry}"`);
      return { cidr: new CidrList([parsed.cidr]), address: parsed.address };
    });
    this.#lookup = deps.lookup ?? systemLookup;
    this.#now = deps.now ?? Date.now;
    this.#onError = deps.onError;
  }

  /**
   * The address to put in the PASV/EPSV reply (IPv4-mapped addresses come back as plain
   * IPv4). Order: the first override whose CIDR holds the client, then the connection's
   * destination (useDestination), then the configured address, then the control connection's
   * local address. Rejects with PassiveAddressError when the chosen DNS name has never
   * resolved to a usable address.
   */
  async advertise(request: AdvertiseRequest): Promise<string> {
    const client = normalizeAddress(request.clientAddress);
    for (const override of this.#overrides) {
      if (override.cidr.has(client)) return this.#target(override.address, request.family);
    }
    if (this.#options.useDestination) {
      const destination = request.proxyDestination ?? '';
      return normalizeAddress(destination !== '' ? destination : request.controlLocalAddress);
    }
    if (this.#options.address !== '') return this.#target(this.#options.address, request.family);
    return normalizeAddress(request.controlLocalAddress);
  }

  /** listeningPort + portOffset; throws a RangeError when that is not a port 1-65535. */
  advertisedPort(listeningPort: number): number {
    const port = listeningPort + this.#options.portOffset;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`advertised port ${listeningPort} + offset ${this.#options.portOffset} = ${port} is outside 1-65535`);
    }
    return port;
  }

  /** Resolves once every DNS refresh started so far has finished (tests, orderly shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.#cache.values()].flatMap((entry) => (entry.inflight ? [entry.inflight] : [])));
  }

  async #target(address: string, family: 1 | 2): Promise<string> {
    if (isIP(address) !== 0) return normalizeAddress(address);
    return pick(address, await this.#resolve(address), family);
  }

  /**
   * The cached addresses of `name`. An expired entry that still has a good value is served
   * at once and refreshed in the background (stale-while-revalidate): a PASV reply never
   * waits on DNS after the first success, and a slow or dead resolver cannot stall sessions.
   * Only the very first resolution, or a retry after it failed, is awaited.
   */
  async #resolve(name: string): Promise<string[]> {
    let entry = this.#cache.get(name);
    if (entry === undefined) {
      entry = { addresses: [], refreshAt: 0, inflight: null, lastError: null };
      this.#cache.set(name, entry);
    }
    if (entry.inflight === null && this.#now() >= entry.refreshAt) {
      const started = entry;
      // Cleared in a .finally callback, which always runs after this assignment, even when
      // the lookup fails synchronously.
      started.inflight = this.#refresh(name, started).finally(() => {
        started.inflight = null;
      });
    }
    if (entry.addresses.length > 0) return entry.addresses;
    await entry.inflight;
    if (entry.addresses.length > 0) return entry.addresses;
    const reason = entry.lastError?.message ?? 'no successful DNS lookup yet';
    throw new PassiveAddressError(name, `passive address "${name}" could not be resolved: ${reason}`, { cause: entry.lastError ?? undefined });
  }

  async #refresh(name: string, entry: CacheEntry): Promise<void> {
    try {
      // Promise.resolve().then(): a lookup that throws synchronously is handled like a rejection.
      const answer = await Promise.resolve().then(() => this.#lookup(name));
      const found = answer.map(normalizeAddress).filter((address) => isIP(address) !== 0);
      if (found.length === 0) throw new Error(`DNS lookup of "${name}" returned no addresses`);
      entry.addresses = found;
      entry.lastError = null;
      entry.refreshAt = this.#now() + this.#options.dnsCacheMs;
    } catch (cause) {
      const error = cause instanceof Error ? cause : new Error(String(cause));
      entry.lastError = error;
      // With a good value, wait a full period before asking again (at most one lookup per
      // dnsCacheMs). Without one, every request is failing anyway, so the next one retries.
      entry.refreshAt = entry.addresses.length > 0 ? this.#now() + this.#options.dnsCacheMs : 0;
      try {
        this.#onError?.(error, name);
      } catch {
        // A background refresh is not awaited by anyone: a throwing callback must not turn
        // into an unhandled rejection that takes the process down.
      }
    }
  }
}

/** PASV can carry only IPv4, so family 1 takes the first IPv4 answer; EPSV prefers IPv6. */
function pick(name: string, addresses: readonly string[], family: 1 | 2): string {
  const v4 = addresses.find((address) => isIP(address) === 4);
  const v6 = addresses.find((address) => isIP(address) === 6);
  if (family === 1) {
    if (v4 !== undefined) return v4;
    throw new PassiveAddressError(name, `passive address "${name}" has no IPv4 address, which PASV needs (found: ${addresses.join(', ')})`);
  }
  const chosen = v6 ?? v4;
  if (chosen === undefined) throw new PassiveAddressError(name, `passive address "${name}" has no usable address`);
  return chosen;
}
