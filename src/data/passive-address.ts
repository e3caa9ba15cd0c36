/**
 * @module data/passive-address
 * Decides which address and port a PASV/EPSV reply advertises: per-client-network overrides,
 * the address the client actually connected to (PROXY protocol destination), a configured
 * literal or DNS name (re-resolved on a schedule so a balancer's changing IP is followed), or
 * the control connection's local address. Owns the DNS cache for those names.
 * Must not bind, listen or open sockets, and must not format replies (protocol/address does
 * that); DNS is reached only through the injectable `lookup`. The options and their pure
 * validation are in core/advertise-options.ts (config validation uses them too).
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { parseOverride, validateAdvertiseOptions, type AdvertiseOptions } from '../core/advertise-options.js';
import { CidrList } from '../core/cidr.js';
import { normalizeAddress } from '../protocol/address.js';

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
