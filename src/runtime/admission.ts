/**
 * @module runtime/admission
 * Owns connection admission for every protocol: a new connection's real client address
 * (after PROXY) is checked against draining, bans, the access lists, the global and
 * per-address session caps and the per-address cap of connections waiting to log in, before
 * the protocol says a word (FTP's greeting, SSH's version exchange). An admitted connection
 * counts until it leaves, and as waiting to log in until its login succeeds; when the
 * waiting connections reach access.maxUnauthenticated the one that has waited longest is
 * dismissed to make room (slow-loris). A new ban dismisses the banned address's connections.
 * Protocol-neutral: a connection is only an address and a way to dismiss it; each frontend
 * says what dismissal means (FTP: a 421 reply; SSH: the socket is closed).
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { ServerMetrics } from '../observability/metrics.js';
import { normalizeAddress } from '../protocol/address.js';
import { AddressPolicy } from '../core/address-policy.js';
import type { Defender, DefenderEvent } from '../security/defender.js';
import { PendingLogins } from '../security/pending-logins.js';

/** Why the runtime tells an admitted connection to go. */
export type DismissReason = 'evicted' | 'banned';

/** An admitted connection as admission sees it, whatever its protocol. */
export interface AdmittedConnection {
  /** The real client address (after PROXY). */
  readonly remoteAddress: string;
  /** Told to go (made room for a newcomer, or its address was banned); the frontend closes it its own way. */
  dismiss(reason: DismissReason): void;
}

/** An admitted connection's place: released once, when the connection has closed. */
export interface AdmissionSlot {
  /** Logged in (no longer waiting to log in), or logged out again (FTP's REIN). */
  loginChanged(loggedIn: boolean): void;
  /** The connection closed. Idempotent. */
  leave(): void;
}

export type AdmissionResult = { readonly ok: true; readonly slot: AdmissionSlot } | { readonly ok: false; readonly reason: string; readonly text: string };

export interface AdmissionDeps {
  readonly defender: Defender;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** A hostile event, scored through the shared store when there is one. */
  readonly score: (address: string, event: DefenderEvent) => void;
}

export class Admission {
  readonly #limits: Config['limits'];
  readonly #access: Config['access'];
  readonly #policy: AddressPolicy;
  readonly #deps: AdmissionDeps;
  /** Every admitted connection of every protocol, with its normalised address. */
  readonly #live = new Map<AdmittedConnection, string>();
  readonly #perAddress = new Map<string, number>();
  /** Connections that have not logged in yet, oldest first (slow-loris defence). */
  readonly #pending = new PendingLogins<AdmittedConnection>();
  /** Connections told to go, still flushing their last words: they no longer count. */
  readonly #dismissed = new Set<AdmittedConnection>();
  #closed = false;
  /** One function for every slot's leave(), not a closure per connection. */
  readonly #leaveOf = (connection: AdmittedConnection, remote: string): void => this.#leave(connection, remote);

  constructor(config: Readonly<Config>, deps: AdmissionDeps) {
    this.#limits = config.limits;
    this.#access = config.access;
    this.#policy = new AddressPolicy(config.access.allow, config.access.deny);
    this.#deps = deps;
  }

  /** Admitted connections still open, every protocol together. */
  get live(): number {
    return this.#live.size;
  }

  /** Draining: every new connection is refused from now on. */
  stopAccepting(): void {
    this.#closed = true;
  }

  /**
   * Admits `connection` or says why not (the refusal is counted and logged here; the
   * frontend only answers it). Admitted, it counts as waiting to log in.
   */
  admit(connection: AdmittedConnection, protocol: string): AdmissionResult {
    const { metrics, logger } = this.#deps;
    const remote = normalizeAddress(connection.remoteAddress);
    const refusal = this.#refusal(remote);
    if (refusal) {
      metrics.sessionsRejected.inc({ reason: refusal.reason });
      // A banned client hammering us gets one line per second with the count, not one per try.
      if (refusal.refused > 0) logger.warn({ event: 'session.rejected', remote, protocol, reason: refusal.reason, ...(refusal.refused > 1 ? { refused: refusal.refused } : {}) }, 'connection refused');
      return { ok: false, reason: refusal.reason, text: refusal.text };
    }
    // Full of connections waiting to log in: the one that has waited longest makes room rather
    // than the newcomer being refused (slow-loris). With access.maxUnauthenticated below
    // limits.maxSessions, waiting connections can never take the slots of logged-in users.
    if (this.#pending.size >= this.#access.maxUnauthenticated) this.#evictOldestPending();
    this.#live.set(connection, remote);
    this.#perAddress.set(remote, (this.#perAddress.get(remote) ?? 0) + 1);
    this.#pending.add(connection, remote);
    metrics.sessions.inc();
    return { ok: true, slot: new Slot(this.#pending, this.#leaveOf, connection, remote) };
  }

  /** A new ban also ends the banned address's open connections (ProFTPD's mod_ban does the same). */
  dismissBanned(key: string): void {
    const { defender } = this.#deps;
    for (const [connection, remote] of this.#live) {
      if (this.#dismissed.has(connection) || defender.keyOf(remote) !== key) continue;
      this.#dismissed.add(connection);
      this.#pending.delete(connection);
      connection.dismiss('banned');
    }
  }

  #leave(connection: AdmittedConnection, remote: string): void {
    this.#live.delete(connection);
    this.#pending.delete(connection);
    this.#dismissed.delete(connection);
    const left = (this.#perAddress.get(remote) ?? 1) - 1;
    if (left <= 0) this.#perAddress.delete(remote);
    else this.#perAddress.set(remote, left);
    this.#deps.metrics.sessions.dec();
  }

  /** The rules every listener applies to a new connection's real address. Null: admitted. */
  #refusal(remote: string): { reason: string; text: string; refused: number } | null {
    const { defender, score } = this.#deps;
    const refuse = (reason: string, text: string, refused = 1) => ({ reason, text, refused });
    if (this.#closed) return refuse('draining', 'Server shutting down, try again later.');
    // Bans first, at the cost of one Map lookup (none at all while nobody is banned).
    const ban = defender.banFor(remote);
    if (ban) return refuse('banned', 'Too many failed attempts from your address, try again later.', defender.refusalsToLog(ban));
    if (!this.#policy.open && !this.#policy.allows(remote)) return refuse('access-denied', 'Access denied.');
    // Connections told to go (evicted, banned) are only flushing their last reply: they do not count.
    if (this.#live.size - this.#dismissed.size >= this.#limits.maxSessions) return refuse('max-sessions', 'Too many connections, try again later.');
    if ((this.#perAddress.get(remote) ?? 0) >= this.#limits.maxSessionsPerAddress) {
      score(remote, 'too-many-connections');
      return refuse('max-sessions-per-address', 'Too many connections from your address.');
    }
    if (this.#pending.countFor(remote) >= this.#access.maxUnauthenticatedPerAddress) {
      score(remote, 'too-many-connections');
      return refuse('max-unauthenticated-per-address', 'Too many connections waiting to log in from your address.');
    }
    return null;
  }

  /** Dismisses the connection that has waited longest to log in, to make room for a new one. */
  #evictOldestPending(): void {
    const oldest = this.#pending.oldest();
    if (!oldest) return;
    this.#pending.delete(oldest);
    this.#dismissed.add(oldest);
    this.#deps.metrics.sessionsRejected.inc({ reason: 'pre-login-evicted' });
    this.#deps.logger.info({ event: 'session.evicted', remote: oldest.remoteAddress, reason: 'max-unauthenticated' }, 'closed the connection waiting longest to log in, to make room');
    oldest.dismiss('evicted');
  }
}

/**
 * An admitted connection's slot: one object with methods, held by the connection for its
 * whole life, rather than two closures and their context (issue 14: idle session memory).
 */
class Slot implements AdmissionSlot {
  readonly #pending: PendingLogins<AdmittedConnection>;
  readonly #leave: (connection: AdmittedConnection, remote: string) => void;
  readonly #connection: AdmittedConnection;
  readonly #remote: string;
  #left = false;

  constructor(pending: PendingLogins<AdmittedConnection>, leave: (connection: AdmittedConnection, remote: string) => void, connection: AdmittedConnection, remote: string) {
    this.#pending = pending;
    this.#leave = leave;
    this.#connection = connection;
    this.#remote = remote;
  }

  loginChanged(loggedIn: boolean): void {
    if (this.#left) return;
    if (loggedIn) this.#pending.delete(this.#connection);
    else this.#pending.add(this.#connection, this.#remote);
  }

  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.#leave(this.#connection, this.#remote);
  }
}
