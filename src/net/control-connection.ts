/**
 * @module net/control-connection
 * Glue between one control socket and its Session: framing (LineReader), reply writing with
 * a backlog cap, the login and idle timers, and one close path. TLS on the connection (AUTH
 * TLS, implicit TLS, CCC, data-connection handshakes) is net/control-tls's: this module reads
 * lines from whichever socket that says is current. The idle timer never fires while a
 * transfer is moving data (ftp-srv kills long transfers; we do not).
 */
import type net from 'node:net';
import { LineReader } from '../protocol/line-reader.js';
import { formatReply, ReplyCode } from '../protocol/reply.js';
import type { Session } from '../session/session.js';
import type { ControlChannel, Logger } from '../session/ports.js';
import { ControlTls, type ControlTlsSetup } from './control-tls.js';

export type { ControlTlsSetup } from './control-tls.js';

/** A client that stops reading replies must not make us buffer without bound. */
const MAX_PENDING_REPLY_BYTES = 1024 * 1024;

/** How long a closing control connection may take to flush its last reply. */
const CLOSE_GRACE_MS = 5000;

export interface ControlTimers {
  readonly loginTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

export interface ControlConnectionOptions {
  /** The real client address (from the PROXY header when a balancer sent one). */
  readonly remoteAddress: string;
  /** The address the client connected to, from the PROXY header. */
  readonly destinationAddress?: string;
  readonly maxLineBytes: number;
  readonly timers: ControlTimers;
  readonly logger: Logger;
  readonly tls: ControlTlsSetup | null;
  /** Implicit FTPS: TLS from the first byte, before the greeting. */
  readonly implicit: boolean;
  /** Counts control-connection handshakes (metrics). */
  readonly onTlsHandshake?: (ok: boolean) => void;
  /** The session logged in or out (REIN): admission tracks connections waiting to log in. */
  readonly onLoginChanged?: (loggedIn: boolean) => void;
}

export class ControlConnection implements ControlChannel {
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly destinationAddress?: string;
  /** TLS on this connection: the session's SessionTls port. */
  readonly tls: ControlTls;
  readonly #raw: net.Socket;
  readonly #options: ControlConnectionOptions;
  readonly #logger: Logger;
  #reader: LineReader;
  #session: Session | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastLineAt = Date.now();
  #closedHandlers: (() => void)[] = [];
  #closed = false;

  constructor(socket: net.Socket, options: ControlConnectionOptions) {
    this.#raw = socket;
    this.#options = options;
    this.#logger = options.logger;
    this.remoteAddress = options.remoteAddress;
    this.localAddress = socket.localAddress ?? '';
    if (options.destinationAddress) this.destinationAddress = options.destinationAddress;
    this.#reader = new LineReader({ maxLineBytes: options.maxLineBytes });
    this.tls = new ControlTls(socket, options.tls, {
      remoteAddress: options.remoteAddress,
      logger: options.logger,
      ...(options.onTlsHandshake ? { onHandshake: options.onTlsHandshake } : {}),
      user: () => this.#session?.userName,
      readFrom: (from) => {
        this.#reader = new LineReader({ maxLineBytes: options.maxLineBytes });
        this.#listen(from);
      },
    });
    socket.once('close', () => this.#onClose());
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
    this.#armTimer();
    if (!this.#options.implicit) {
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
        this.#logger.info({ event: 'tls.implicit-handshake-failed', err: error }, 'implicit TLS handshake failed');
        this.#raw.destroy();
      });
  }

  onClosed(handler: () => void): void {
    this.#closedHandlers.push(handler);
  }

  // ---- ControlChannel ----

  write(text: string): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (socket.writableLength > MAX_PENDING_REPLY_BYTES) {
      this.#logger.warn({ event: 'control.backlog' }, 'client does not read replies; closing');
      socket.destroy();
      return;
    }
    socket.write(text);
  }

  loginChanged(): void {
    this.#armTimer();
    this.tls.userChanged();
    if (this.#session) this.#options.onLoginChanged?.(this.#session.loggedIn);
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
    // The timer is not re-armed per command (cheap for busy sessions): when it fires it
    // measures idleness from this timestamp.
    this.#lastLineAt = Date.now();
  }

  /**
   * One timer: the login timeout (counted from the connection, so a client sending NOOPs
   * without logging in is still dropped) before login, the idle timeout after.
   */
  #armTimer(delayMs?: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#closed) return;
    const loggedIn = this.session.loggedIn;
    const ms = loggedIn ? this.#options.timers.idleTimeoutMs : this.#options.timers.loginTimeoutMs;
    if (ms <= 0) return;
    this.#timer = setTimeout(() => this.#onTimeout(loggedIn, ms), delayMs ?? ms);
    this.#timer.unref();
  }

  #onTimeout(loggedIn: boolean, timeoutMs: number): void {
    const session = this.session;
    if (loggedIn !== session.loggedIn) {
      // Logged in (or out, REIN) since the timer was set: switch to the other timer.
      this.#armTimer();
      return;
    }
    if (session.transferring) {
      // A transfer is running: the session is not idle (RFC 959 leaves the control
      // connection silent during transfers).
      this.#armTimer();
      return;
    }
    if (loggedIn) {
      // Idle time counts from the last command or the end of the last transfer.
      const idleMs = Date.now() - Math.max(this.#lastLineAt, session.lastTransferEnd);
      if (idleMs < timeoutMs) {
        this.#armTimer(timeoutMs - idleMs);
        return;
      }
    }
    this.#logger.info({ event: loggedIn ? 'session.idle-timeout' : 'session.login-timeout' }, 'timeout');
    this.closeWith(ReplyCode.ServiceNotAvailable, loggedIn ? 'Idle timeout, closing control connection.' : 'Login timeout, closing control connection.');
  }

  #onClose(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#session?.dispose();
    this.tls.dispose();
    for (const handler of this.#closedHandlers) handler();
    this.#closedHandlers = [];
  }
}
