/**
 * @module tls/resumption-registry
 * Which TLS sessions a data connection may resume: the rule behind `tls.sessionReuse`.
 *
 * Every control connection gets a scope: its own SecureContext with random ticket keys and its
 * own TLS 1.2 session-ID cache, so nothing it issues can be resumed anywhere by accident. A data
 * connection of session O may resume a TLS session issued to O itself, or to a sibling S: another
 * control connection on this replica, logged in as the same user, from the same client address
 * (the real address, after PROXY). That is what clients with one TLS session cache per process
 * do (curl's multi interface, Go's tls.ClientSessionCache in rclone): the data connection of
 * control connection B offers the ticket that control connection A got. vsftpd's
 * require_ssl_reuse refuses them; ProFTPD accepts them. A thief on the passive port still gets
 * nothing: he would need a session issued to that user's login from his address, on this
 * replica, which means the password (or being that client).
 *
 * Tickets are told apart by their first 16 bytes: OpenSSL starts every ticket with the name of
 * the ticket keys that sealed it (the first 16 of the 48 `ticketKeys` bytes). Scopes of closed
 * control connections are remembered for a while (their keys only, not their context), bounded
 * in number, because a client's pool closes and opens control connections while its cache
 * keeps their sessions.
 */
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { TICKET_KEY_NAME_BYTES, offeredTicketKeyNames, type ClientHelloResumption } from '../protocol/tls-client-hello.js';
import { createSessionContext, type CertificateMaterial, type TlsContextOptions } from './session-context.js';

/** TLS 1.2 session IDs one scope keeps (a handful is plenty: one per handshake it made). */
const MAX_SESSION_IDS_PER_SCOPE = 32;
/** How long the keys of a closed control connection stay usable by its siblings. */
const DEFAULT_RETAIN_CLOSED_MS = 3600_000;
/** Bound on remembered closed scopes (each holds 48 key bytes and a few session IDs). */
const DEFAULT_MAX_CLOSED_SCOPES = 10_000;

/** Why a data connection's TLS session could not be resumed; logged, never sent to a client. */
export type ReuseRefusal =
  /** No ticket and no known session ID: a full handshake (a fresh client, or a thief). */
  | 'fresh-handshake'
  /** A ticket this replica does not know: another replica's, or its keys expired. */
  | 'unknown-session'
  /** Issued to a control connection of another user. */
  | 'other-user'
  /** Issued to a control connection from another client address. */
  | 'other-address'
  /** Issued to a control connection that never logged in. */
  | 'not-logged-in';

export interface RegistryOptions {
  readonly material: () => CertificateMaterial;
  readonly contextOptions: TlsContextOptions;
  readonly retainClosedMs?: number;
  readonly maxClosedScopes?: number;
  readonly now?: () => number;
}

/** One control connection's TLS identity. */
export class TlsScope {
  readonly address: string;
  readonly ticketKeys: Buffer;
  /** Set while the control connection is open; a closed scope rebuilds one from its keys. */
  context: tls.SecureContext | null;
  /** The same keys, renewing every resumed ticket: made for the first data connection a client reads from. */
  renewingContext: tls.SecureContext | null = null;
  readonly sessionIds = new Map<string, Buffer>();
  closedAt = 0;
  #user: string | undefined;
  #waiters: (() => void)[] = [];

  constructor(address: string, ticketKeys: Buffer, context: tls.SecureContext) {
    this.address = address;
    this.ticketKeys = ticketKeys;
    this.context = context;
  }

  get keyName(): string {
    return this.ticketKeys.subarray(0, TICKET_KEY_NAME_BYTES).toString('hex');
  }

  /** The user the control connection is (or last was) logged in as. */
  get user(): string | undefined {
    return this.#user;
  }

  set user(name: string | undefined) {
    this.#user = name;
    if (name !== undefined) this.#settle();
  }

  /**
   * Resolves once this (open, not yet logged-in) connection has logged in or closed, or after
   * `timeoutMs`. A client with one session cache opens its control connections together and
   * logs them in one after the other (password checks are rationed), so the data connection of
   * the first may offer the ticket of one whose password is still being checked.
   */
  loginSettled(timeoutMs: number): Promise<void> {
    if (this.#user !== undefined || this.closedAt !== 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  markClosed(at: number): void {
    this.context = null;
    this.renewingContext = null;
    this.closedAt = at;
    this.#settle();
  }

  #settle(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** The context to wrap a data connection with, and what resumption will be allowed. */
export interface DataTlsChoice {
  readonly context: tls.SecureContext;
  /** The offered ticket belongs to a sibling control connection (logged). */
  readonly sibling: boolean;
  /** Set when the offered session cannot be resumed here: the handshake will be a full one. */
  readonly refusal?: ReuseRefusal;
  /** The offered ticket's control connection is open and not logged in yet: ask again once it is. */
  readonly pendingIssuer?: TlsScope;
}

export class TlsResumptionRegistry {
  readonly #options: RegistryOptions;
  readonly #retainMs: number;
  readonly #maxClosed: number;
  readonly #now: () => number;
  readonly #byKeyName = new Map<string, TlsScope>();
  readonly #bySessionId = new Map<string, TlsScope>();
  /** Closed scopes in closing order (oldest first), for expiry. */
  readonly #closed = new Set<TlsScope>();

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#retainMs = options.retainClosedMs ?? DEFAULT_RETAIN_CLOSED_MS;
    this.#maxClosed = options.maxClosedScopes ?? DEFAULT_MAX_CLOSED_SCOPES;
    this.#now = options.now ?? Date.now;
  }

  /** Scopes remembered (open and closed): a gauge for tests and metrics. */
  get size(): number {
    return this.#byKeyName.size;
  }

  /** A new control connection from `address`: fresh keys, fresh context. */
  open(address: string): TlsScope {
    const ticketKeys = randomBytes(48);
    const scope = new TlsScope(address, ticketKeys, this.#context(ticketKeys));
    this.#byKeyName.set(scope.keyName, scope);
    return scope;
  }

  /** The control connection closed: its context goes, its keys stay for its siblings a while. */
  close(scope: TlsScope): void {
    if (scope.closedAt !== 0) return;
    scope.markClosed(this.#now());
    this.#closed.add(scope);
    this.#expire();
  }

  /** Node's `newSession` for a handshake on a connection of `scope` (TLS 1.2 session IDs). */
  rememberSessionId(scope: TlsScope, id: Buffer, data: Buffer): void {
    if (scope.sessionIds.size >= MAX_SESSION_IDS_PER_SCOPE) {
      const oldest = scope.sessionIds.keys().next().value;
      if (oldest !== undefined) {
        scope.sessionIds.delete(oldest);
        this.#bySessionId.delete(oldest);
      }
    }
    const key = id.toString('hex');
    scope.sessionIds.set(key, data);
    this.#bySessionId.set(key, scope);
  }

  /** Node's `resumeSession` on a data connection of `own`: the session data, if allowed. */
  resumeSessionId(own: TlsScope, id: Buffer): Buffer | null {
    this.#expire();
    const key = id.toString('hex');
    const issuer = this.#bySessionId.get(key);
    if (!issuer || this.#refusal(own, issuer)) return null;
    return issuer.sessionIds.get(key) ?? null;
  }

  /**
   * Picks the context for a data connection of `own` from what its ClientHello offers. A
   * ticket of an allowed scope gets that scope's context (only it can open the ticket);
   * anything else gets `own`'s context, where the offered session cannot resume.
   */
  chooseForData(own: TlsScope, hello: ClientHelloResumption | null, renewTicket = false): DataTlsChoice {
    this.#expire();
    const ownContext = this.#contextOf(own, renewTicket);
    if (!hello) return { context: ownContext, sibling: false, refusal: 'fresh-handshake' };
    let refusal: ReuseRefusal | undefined;
    for (const name of offeredTicketKeyNames(hello)) {
      const issuer = this.#byKeyName.get(name.toString('hex'));
      if (!issuer) {
        refusal ??= 'unknown-session';
        continue;
      }
      if (issuer === own) return { context: ownContext, sibling: false };
      const why = this.#refusal(own, issuer);
      if (why === 'not-logged-in' && issuer.closedAt === 0 && own.user !== undefined) {
        return { context: ownContext, sibling: false, refusal: why, pendingIssuer: issuer };
      }
      if (why) {
        refusal = why;
        continue;
      }
      return { context: this.#contextOf(issuer, renewTicket), sibling: true };
    }
    if (refusal) return { context: ownContext, sibling: false, refusal };
    // No ticket: resumption by session ID, decided by resumeSessionId during the handshake.
    const issuer = hello.sessionId.length > 0 ? this.#bySessionId.get(hello.sessionId.toString('hex')) : undefined;
    if (!issuer) return { context: ownContext, sibling: false, refusal: 'fresh-handshake' };
    const why = this.#refusal(own, issuer);
    return { context: ownContext, sibling: issuer !== own, ...(why ? { refusal: why } : {}) };
  }

  /** Undefined when a data connection of `own` may resume a session issued to `issuer`. */
  #refusal(own: TlsScope, issuer: TlsScope): ReuseRefusal | undefined {
    if (issuer === own) return undefined;
    if (issuer.user === undefined || own.user === undefined) return 'not-logged-in';
    if (issuer.address !== own.address) return 'other-address';
    if (issuer.user !== own.user) return 'other-user';
    return undefined;
  }

  #context(ticketKeys: Buffer, renewTickets = false): tls.SecureContext {
    return createSessionContext(this.#options.material(), this.#options.contextOptions, ticketKeys, renewTickets);
  }

  /** `scope`'s context for a data connection (kept while the scope is open, rebuilt once it closed). */
  #contextOf(scope: TlsScope, renewTicket: boolean): tls.SecureContext {
    if (scope.context === null) return this.#context(scope.ticketKeys, renewTicket);
    if (!renewTicket) return scope.context;
    return (scope.renewingContext ??= this.#context(scope.ticketKeys, true));
  }

  #expire(): void {
    const cutoff = this.#now() - this.#retainMs;
    for (const scope of this.#closed) {
      if (scope.closedAt > cutoff && this.#closed.size <= this.#maxClosed) break;
      this.#closed.delete(scope);
      this.#byKeyName.delete(scope.keyName);
      for (const id of scope.sessionIds.keys()) if (this.#bySessionId.get(id) === scope) this.#bySessionId.delete(id);
    }
  }
}
