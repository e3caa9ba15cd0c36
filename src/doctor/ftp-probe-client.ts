/**
 * @module doctor/ftp-probe-client
 * The client side of one FTP control connection for `kftpd doctor`: connect (clear or implicit
 * TLS), read replies (RFC 959 §4.2, multi-line included), send commands, upgrade in place with
 * AUTH TLS (RFC 4217 §4) and keep the control connection's TLS session so data connections can
 * resume it. Every wait is bounded by the caller's timeout; failures are ProbeErrors with a
 * stable code, never hangs. Framing reuses the server's LineReader (CRLF, Telnet IAC, line cap).
 */
import net from 'node:net';
import tls from 'node:tls';
import { LineReader } from '../protocol/line-reader.js';

export interface FtpReply {
  readonly code: number;
  /** Every line's text without the "ddd " / "ddd-" prefix of the first and last line. */
  readonly lines: readonly string[];
  /** The first line's text (what most checks look at). */
  readonly text: string;
}

export type ProbeErrorCode =
  | 'KFTPD_DOCTOR_TIMEOUT'
  | 'KFTPD_DOCTOR_CLOSED'
  | 'KFTPD_DOCTOR_CONNECT_FAILED'
  | 'KFTPD_DOCTOR_TLS_FAILED'
  | 'KFTPD_DOCTOR_BAD_REPLY';

/** A failed probe step; `code` is stable, `cause` keeps the socket error (its `code`, e.g. ECONNREFUSED). */
export class ProbeError extends Error {
  readonly code: ProbeErrorCode;
  /** The socket/TLS error code (ECONNREFUSED, ETIMEDOUT, CERT_HAS_EXPIRED...) when there is one. */
  readonly sysCode: string | undefined;

  constructor(code: ProbeErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProbeError';
    this.code = code;
    const cause = options.cause as { code?: unknown } | undefined;
    this.sysCode = typeof cause?.code === 'string' ? cause.code : undefined;
  }
}

/** Longest reply line we buffer; RFC 959 sets no limit, real servers stay far below. */
const MAX_REPLY_LINE_BYTES = 64 * 1024;

/**
 * Incremental reply assembly (RFC 959 §4.2): "ddd text" is a whole reply; "ddd-text" opens a
 * multi-line reply that ends at the first line starting with the same code and a space.
 */
export class ReplyParser {
  readonly #lines = new LineReader({ maxLineBytes: MAX_REPLY_LINE_BYTES });
  #open: { code: number; lines: string[] } | null = null;

  push(chunk: Buffer): (FtpReply | { readonly malformed: string })[] {
    const out: (FtpReply | { readonly malformed: string })[] = [];
    for (const event of this.#lines.push(chunk)) {
      if (event.type === 'too-long') {
        out.push({ malformed: 'reply line too long' });
        continue;
      }
      const line = event.line;
      const open = this.#open;
      if (open) {
        if (line.startsWith(`${open.code} `) || line === String(open.code)) {
          open.lines.push(line.slice(4));
          out.push({ code: open.code, lines: open.lines, text: open.lines[0] ?? '' });
          this.#open = null;
        } else {
          open.lines.push(line);
        }
        continue;
      }
      const match = /^([1-5]\d\d)([ -]?)(.*)$/.exec(line);
      if (!match) {
        out.push({ malformed: line });
        continue;
      }
      const code = Number(match[1]);
      const text = match[3] ?? '';
      if (match[2] === '-') this.#open = { code, lines: [text] };
      else out.push({ code, lines: [text], text });
    }
    return out;
  }
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Implicit FTPS: TLS from the first byte with these options. */
  readonly implicitTls?: tls.ConnectionOptions;
}

/** Connects a TCP socket, bounded; rejects with KFTPD_DOCTOR_CONNECT_FAILED (cause: the socket error or ETIMEDOUT). */
export function connectTcp(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ProbeError('KFTPD_DOCTOR_CONNECT_FAILED', `no TCP connection to ${host}:${port} within ${timeoutMs} ms`, { cause: Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }) }));
    }, timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ProbeError('KFTPD_DOCTOR_CONNECT_FAILED', `TCP connection to ${host}:${port} failed: ${error.message}`, { cause: error }));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/** Resolves when a TLS client socket is secure; rejects (KFTPD_DOCTOR_TLS_FAILED) on error, close or timeout. */
export function tlsHandshake(socket: tls.TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('secureConnect', onSecure);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onSecure = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new ProbeError('KFTPD_DOCTOR_TLS_FAILED', `TLS handshake failed: ${error.message}`, { cause: error }));
    };
    const onClose = (): void => {
      cleanup();
      reject(new ProbeError('KFTPD_DOCTOR_TLS_FAILED', 'connection closed during the TLS handshake', { cause: Object.assign(new Error('closed'), { code: 'ECONNRESET' }) }));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new ProbeError('KFTPD_DOCTOR_TLS_FAILED', `no TLS handshake within ${timeoutMs} ms`, { cause: Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }) }));
    }, timeoutMs);
    socket.once('secureConnect', onSecure);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

interface Waiter {
  readonly resolve: (reply: FtpReply) => void;
  readonly reject: (error: ProbeError) => void;
}

/** One control connection, clear or protected, reading replies in order. */
export class ProbeControl {
  readonly host: string;
  readonly port: number;
  /** The address actually dialled (the VIP), as the socket reports it. */
  readonly remoteAddress: string;
  #raw: net.Socket;
  #transport: net.Socket;
  #tls: tls.TLSSocket | null = null;
  #session: Buffer | undefined;
  readonly #parser = new ReplyParser();
  readonly #replies: FtpReply[] = [];
  readonly #waiters: Waiter[] = [];
  #closed = false;
  #closeError: ProbeError | null = null;
  /** Bytes received on the control connection (0 when closed before any greeting byte). */
  bytesReceived = 0;
  /** When the connection was established (for "closed after N ms"). */
  readonly connectedAt = Date.now();
  closedAt: number | null = null;
  readonly #onData = (chunk: Buffer): void => this.#receive(chunk);

  private constructor(raw: net.Socket, transport: net.Socket, host: string, port: number) {
    this.#raw = raw;
    this.#transport = transport;
    this.host = host;
    this.port = port;
    this.remoteAddress = raw.remoteAddress ?? host;
    raw.on('error', () => undefined);
    raw.on('close', () => this.#onClose(null));
    transport.on('data', this.#onData);
  }

  static async connect(options: ConnectOptions): Promise<ProbeControl> {
    const raw = await connectTcp(options.host, options.port, options.timeoutMs);
    if (!options.implicitTls) return new ProbeControl(raw, raw, options.host, options.port);
    const secure = tls.connect({ ...options.implicitTls, socket: raw });
    secure.on('error', () => undefined);
    const control = new ProbeControl(raw, secure, options.host, options.port);
    control.#adopt(secure);
    try {
      await tlsHandshake(secure, options.timeoutMs);
    } catch (error) {
      control.close();
      throw error;
    }
    return control;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get protected(): boolean {
    return this.#tls !== null;
  }

  get tlsSocket(): tls.TLSSocket | null {
    return this.#tls;
  }

  /** Replies received but not read yet (an unsolicited reply shows up here). */
  get unread(): readonly FtpReply[] {
    return this.#replies;
  }

  /** The latest resumable TLS session of the control connection. */
  get session(): Buffer | undefined {
    return this.#session ?? this.#tls?.getSession();
  }

  /** Waits (bounded) for a session ticket: TLS 1.3 sends it after the handshake. */
  async waitSession(timeoutMs: number): Promise<Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.#session === undefined && !this.#closed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.session;
  }

  send(line: string): void {
    if (this.#closed) return;
    this.#transport.write(`${line}\r\n`);
  }

  /** The next reply, bounded by `timeoutMs`. */
  readReply(timeoutMs: number): Promise<FtpReply> {
    const queued = this.#replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(this.#closeError ?? this.#closedError());
    return new Promise<FtpReply>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(new ProbeError('KFTPD_DOCTOR_TIMEOUT', `no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Sends a command and reads the next reply (a 1yz preliminary reply included; the caller reads on). */
  async command(line: string, timeoutMs: number): Promise<FtpReply> {
    this.send(line);
    return this.readReply(timeoutMs);
  }

  /** AUTH TLS was accepted (234): upgrade the same TCP connection (RFC 4217 §4). */
  async upgrade(options: tls.ConnectionOptions, timeoutMs: number): Promise<void> {
    this.#transport.off('data', this.#onData);
    const secure = tls.connect({ ...options, socket: this.#raw });
    secure.on('error', () => undefined);
    this.#transport = secure;
    secure.on('data', this.#onData);
    this.#adopt(secure);
    await tlsHandshake(secure, timeoutMs);
  }

  /** Polite QUIT (bounded), then close. Never throws. */
  async quit(timeoutMs: number): Promise<void> {
    if (!this.#closed) {
      try {
        await this.command('QUIT', timeoutMs);
      } catch {
        // closing anyway
      }
    }
    this.close();
  }

  close(): void {
    this.#tls?.destroy();
    this.#raw.destroy();
  }

  #adopt(secure: tls.TLSSocket): void {
    this.#tls = secure;
    secure.on('session', (session: Buffer) => {
      this.#session = session;
    });
    secure.on('close', () => this.#onClose(null));
  }

  #closedError(): ProbeError {
    return new ProbeError('KFTPD_DOCTOR_CLOSED', this.bytesReceived === 0 ? 'connection closed before any byte was received' : 'control connection closed');
  }

  #receive(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    for (const item of this.#parser.push(chunk)) {
      if ('malformed' in item) {
        this.#onClose(new ProbeError('KFTPD_DOCTOR_BAD_REPLY', `not an FTP reply: ${JSON.stringify(item.malformed.slice(0, 80))}`));
        this.close();
        return;
      }
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(item);
      else this.#replies.push(item);
    }
  }

  #onClose(error: ProbeError | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closedAt = Date.now();
    this.#closeError = error;
    const failure = error ?? this.#closedError();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
  }
}
