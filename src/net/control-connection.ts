/**
 * @module net/control-connection
 * Glue between one control socket and its Session: framing (LineReader), reply writing with
 * a backlog cap, the login and idle timers, and one close path. TLS on the connection (AUTH
 * TLS, implicit TLS, CCC, data-connection handshakes) is net/control-tls's: this module reads
 * lines from whichever socket that says is current. The login and idle timeouts are checked
 * by one sweep shared by every connection (net/timeout-sweep); the idle timeout never fires
 * while a transfer is moving data (ftp-srv kills long transfers; we do not).
 */
import type net from 'node:net';
import { LineReader } from '../protocol/line-reader.js';
import { formatReply, ReplyCode } from '../protocol/reply.js';
import type { Session } from '../session/session.js';
import type { ControlChannel, Logger } from '../session/ports.js';
import { ControlTls, type ControlTlsOptions, type ControlTlsSetup } from './control-tls.js';
import type { SweepMember, TimeoutSweep } from './timeout-sweep.js';

export type { ControlTlsSetup } from './control-tls.js';

/** A client that stops reading replies must not make us buffer without bound. */
const MAX_PENDING_REPLY_BYTES = 1024 * 1024;

/** How long a closing control connection may take to flush its last reply. */
const CLOSE_GRACE_MS = 5000;

export interface ControlTimers {
  readonly loginTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/**
 * What every control connection of a listener shares: built once by the frontend and held by
 * reference, not copied per connection (issue 14: an idle session's memory).
 */
export interface ControlSettings {
  readonly maxLineBytes: number;
  readonly timers: ControlTimers;
  /** The one timer of the login and idle timeouts of all connections (net/timeout-sweep). */
  readonly sweep: TimeoutSweep;
  readonly tls: ControlTlsSetup | null;
  /** Counts control-connection handshakes (metrics). */
  readonly onTlsHandshake?: (ok: boolean) => void;
}

/** The frontend's side of one connection (an object with methods: no closures per connection). */
export interface ConnectionWatcher {
  /** The session logged in or out (REIN): admission tracks connections waiting to log in. */
  loginChanged(loggedIn: boolean): void;
  /** The socket has closed and everything of this connection is released. */
  closed(): void;
}

/** What is this connection's own. */
export interface ControlPeer {
  /** The real client address (from the PROXY header when a balancer sent one). */
  readonly remoteAddress: string;
  /** The address the client connected to, from the PROXY header. */
  readonly destinationAddress?: string;
  readonly logger: Logger;
  /** Implicit FTPS: TLS from the first byte, before the greeting. */
  readonly implicit: boolean;
  readonly watcher?: ConnectionWatcher;
}

export class ControlConnection implements ControlChannel, ControlTlsOptions, SweepMember {
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly destinationAddress?: string;
  readonly logger: Logger;
  /** TLS on this connection: the session's SessionTls port. */
  readonly tls: ControlTls;
  readonly #raw: net.Socket;
  readonly #settings: ControlSettings;
  readonly #implicit: boolean;
  readonly #watcher: ConnectionWatcher | null;
  #reader: LineReader;
  #session: Session | null = null;
  /** When the login timeout (before login) or the idle time (after) started counting. */
  #since = Date.now();
  #lastLineAt = 0;
  #closedHandlers: (() => void)[] | null = null;
  #closed = false;

  constructor(socket: net.Socket, settings: ControlSettings, peer: ControlPeer) {
    this.#raw = socket;
    this.#settings = settings;
    this.logger = peer.logger;
    this.#implicit = peer.implicit;
    this.#watcher = peer.watcher ?? null;
    this.remoteAddress = peer.remoteAddress;
    this.localAddress = socket.localAddress ?? '';
    if (peer.destinationAddress) this.destinationAddress = peer.destinationAddress;
    this.#reader = new LineReader({ maxLineBytes: settings.maxLineBytes });
    // This connection is the TLS layer's options (methods below): no closures per connection.
    this.tls = new ControlTls(socket, settings.tls, this);
    // 'close' comes once: on() rather than once(), which wraps the listener per socket.
    socket.on('close', () => this.#onClose());
  }

  /** The socket replies are written to (the TLS socket once protected). */
  get socket(): net.Socket {
    return this.tls.transport;
  }

  get session(): Session {
    if (!this.#session) throw new Error('connection has no session');
    return this.#session;
  }

  /** Starts the conversation: implicit TLS handshake if configured, then the 220 greeting. */
  attach(session: Session): void {
    this.#session = session;
    this.#since = Date.now();
    if (!this.#closed) this.#settings.sweep.add(this);
    if (!this.#implicit) {
      this.#listen(this.#raw);
      session.greet();
      return;
    }
    this.tls
      .start()
      // TLS 1.3 session tickets go out after the 'secure' event: a greeting written inside it
      // would reach the client first. GnuTLS clients (wget) save the session right after the
      // handshake, waiting about one round trip for a ticket, and read only one record for it:
      // the greeting there makes them save a session without a ticket, so their data
      // connections cannot resume. One turn of the event loop lets the tickets out first.
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => session.greet())
      .catch((error: unknown) => {
        this.logger.info({ event: 'tls.implicit-handshake-failed', err: error }, 'implicit TLS handshake failed');
        this.#raw.destroy();
      });
  }

  onClosed(handler: () => void): void {
    (this.#closedHandlers ??= []).push(handler);
  }

  // ---- ControlTlsOptions (this connection is its TLS layer's options) ----

  onHandshake(ok: boolean): void {
    this.#settings.onTlsHandshake?.(ok);
  }

  user(): string | undefined {
    return this.#session?.userName;
  }

  readFrom(socket: net.Socket): void {
    this.#reader = new LineReader({ maxLineBytes: this.#settings.maxLineBytes });
    this.#listen(socket);
  }

  // ---- ControlChannel ----

  write(text: string): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (socket.writableLength > MAX_PENDING_REPLY_BYTES) {
      this.logger.warn({ event: 'control.backlog' }, 'client does not read replies; closing');
      socket.destroy();
      return;
    }
    socket.write(text);
  }

  loginChanged(): void {
    // The other timeout starts counting: idle time from the login, login time from REIN.
    this.#since = Date.now();
    this.tls.userChanged();
    if (this.#session) this.#watcher?.loginChanged(this.#session.loggedIn);
  }

  /**
   * The one way a connection ends from our side: an optional last reply (usually 421, which
   * also ends the session's running work), then a graceful end bounded by CLOSE_GRACE_MS.
   * Everything else (timers, the session, the TLS scope, admission) is released once, when
   * the socket has closed (#onClose).
   */
  close(final?: { code: number; text: string }): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (final) {
      if (!socket.writableEnded) socket.write(formatReply(final.code, final.text));
      this.#session?.closeControl();
    }
    socket.end();
    // A peer that never closes its side (or never reads) must not keep the socket open.
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Sends a final reply (usually 421) and closes. */
  closeWith(code: number, text: string): void {
    this.close({ code, text });
  }

  #listen(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    // A socket accepted paused (PROXY protocol) does not start flowing by itself.
    socket.resume();
  }

  #onData(input: Buffer): void {
    const session = this.session;
    for (const event of this.#reader.push(this.tls.clearText(input))) {
      if (event.type === 'too-long') session.receiveTooLong();
      else session.receiveLine(event.line);
      // After AUTH TLS the rest of this chunk was sent in clear text: drop it.
      if (session.closed || this.tls.upgrading) break;
    }
    // Nothing is re-armed per command (cheap for busy sessions): the sweep measures
    // idleness from this timestamp.
    this.#lastLineAt = Date.now();
  }

  /**
   * The shared sweep's tick: the login timeout (counted from the connection, or from REIN, so
   * a client sending NOOPs without logging in is still dropped) before login, the idle
   * timeout after. Never while a transfer runs (RFC 959 leaves the control connection silent
   * during transfers): idle time counts from the last command or the end of the last transfer.
   */
  sweep(now: number): void {
    const session = this.#session;
    if (!session || this.#closed || session.transferring) return;
    const loggedIn = session.loggedIn;
    const { loginTimeoutMs, idleTimeoutMs } = this.#settings.timers;
    const timeoutMs = loggedIn ? idleTimeoutMs : loginTimeoutMs;
    if (timeoutMs <= 0) return;
    const from = loggedIn ? Math.max(this.#since, this.#lastLineAt, session.lastTransferEnd) : this.#since;
    if (now - from < timeoutMs) return;
    // Once: the connection is closing.
    this.#settings.sweep.delete(this);
    this.logger.info({ event: loggedIn ? 'session.idle-timeout' : 'session.login-timeout' }, 'timeout');
    this.closeWith(ReplyCode.ServiceNotAvailable, loggedIn ? 'Idle timeout, closing control connection.' : 'Login timeout, closing control connection.');
  }

  #onClose(): void {
    this.#closed = true;
    this.#settings.sweep.delete(this);
    this.#session?.dispose();
    this.tls.dispose();
    const handlers = this.#closedHandlers ?? [];
    this.#closedHandlers = null;
    for (const handler of handlers) handler();
    this.#watcher?.closed();
  }
}
