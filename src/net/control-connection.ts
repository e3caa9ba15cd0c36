/**
 * @module net/control-connection
 * Glue between one control socket and its Session: framing (LineReader), reply writing,
 * the login and idle timers, and one close path. The idle timer never fires while a
 * transfer is moving data (ftp-srv kills long transfers; we do not).
 */
import type net from 'node:net';
import { LineReader } from '../protocol/line-reader.js';
import { formatReply, ReplyCode } from '../protocol/reply.js';
import type { Session } from '../session/session.js';
import type { ControlChannel, Logger } from '../session/ports.js';

/** A client that stops reading replies must not make us buffer without bound. */
const MAX_PENDING_REPLY_BYTES = 1024 * 1024;

/** How long a closing control connection may take to flush its last reply. */
const CLOSE_GRACE_MS = 5000;

export interface ControlTimers {
  readonly loginTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

export class SocketControlChannel implements ControlChannel {
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly #socket: net.Socket;
  readonly #logger: Logger;
  /** Set by the ControlConnection that owns this channel. */
  onLoginChanged: (() => void) | null = null;

  constructor(socket: net.Socket, logger: Logger) {
    this.#socket = socket;
    this.#logger = logger;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.localAddress = socket.localAddress ?? '';
  }

  write(text: string): void {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (socket.writableLength > MAX_PENDING_REPLY_BYTES) {
      this.#logger.warn({ event: 'control.backlog' }, 'client does not read replies; closing');
      socket.destroy();
      return;
    }
    socket.write(text);
  }

  loginChanged(): void {
    this.onLoginChanged?.();
  }

  close(): void {
    const socket = this.#socket;
    if (socket.destroyed) return;
    socket.end();
    // A peer that never closes its side (or never reads) must not keep the socket open.
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }
}

export class ControlConnection {
  readonly socket: net.Socket;
  readonly session: Session;
  readonly #reader: LineReader;
  readonly #timers: ControlTimers;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | null = null;
  #lastLineAt = Date.now();
  #closedHandlers: (() => void)[] = [];

  constructor(
    socket: net.Socket,
    session: Session,
    channel: SocketControlChannel,
    options: { maxLineBytes: number; timers: ControlTimers; logger: Logger },
  ) {
    this.socket = socket;
    this.session = session;
    this.#reader = new LineReader({ maxLineBytes: options.maxLineBytes });
    this.#timers = options.timers;
    this.#logger = options.logger;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#logger.debug({ event: 'control.error', err: error }, 'control socket error'));
    socket.on('close', () => this.#onClose());
    channel.onLoginChanged = () => this.#armTimer();
    this.#armTimer();
  }

  onClosed(handler: () => void): void {
    this.#closedHandlers.push(handler);
  }

  #onData(chunk: Buffer): void {
    for (const event of this.#reader.push(chunk)) {
      if (event.type === 'too-long') this.session.receiveTooLong();
      else this.session.receiveLine(event.line);
      if (this.session.closed) break;
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
    const loggedIn = this.session.loggedIn;
    const ms = loggedIn ? this.#timers.idleTimeoutMs : this.#timers.loginTimeoutMs;
    if (ms <= 0) return;
    this.#timer = setTimeout(() => this.#onTimeout(loggedIn, ms), delayMs ?? ms);
    this.#timer.unref();
  }

  #onTimeout(loggedIn: boolean, timeoutMs: number): void {
    if (loggedIn !== this.session.loggedIn) {
      // Logged in (or out, REIN) since the timer was set: switch to the other timer.
      this.#armTimer();
      return;
    }
    if (this.session.transferring) {
      // A transfer is running: the session is not idle (RFC 959 leaves the control
      // connection silent during transfers).
      this.#armTimer();
      return;
    }
    if (loggedIn) {
      // Idle time counts from the last command or the end of the last transfer.
      const idleMs = Date.now() - Math.max(this.#lastLineAt, this.session.lastTransferEnd);
      if (idleMs < timeoutMs) {
        this.#armTimer(timeoutMs - idleMs);
        return;
      }
    }
    this.#logger.info({ event: loggedIn ? 'session.idle-timeout' : 'session.login-timeout' }, 'timeout');
    this.closeWith(ReplyCode.ServiceNotAvailable, loggedIn ? 'Idle timeout, closing control connection.' : 'Login timeout, closing control connection.');
  }

  /** Sends a final reply (usually 421) and closes. */
  closeWith(code: number, text: string): void {
    if (this.socket.destroyed) return;
    if (!this.socket.writableEnded) this.socket.write(formatReply(code, text));
    this.session.closeControl();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  #onClose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.session.dispose();
    for (const handler of this.#closedHandlers) handler();
    this.#closedHandlers = [];
  }
}
