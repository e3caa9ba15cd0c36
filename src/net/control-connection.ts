/**
 * @module net/control-connection
 * Glue between one control socket and its Session: framing (LineReader), reply writing,
 * the login and idle timers, TLS (AUTH TLS upgrade in place, implicit TLS, data-connection
 * handshakes with the session's own context) and one close path. The idle timer never fires
 * while a transfer is moving data (ftp-srv kills long transfers; we do not).
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { LineReader } from '../protocol/line-reader.js';
import { formatReply, ReplyCode } from '../protocol/reply.js';
import type { Session } from '../session/session.js';
import type { ControlChannel, Logger, SecuredData, SessionTls } from '../session/ports.js';
import { ClearableStream } from './clearable-stream.js';
import { secureDataSocket, sessionIdCallbacks } from '../tls/data-tls.js';
import { serverHandshake } from '../tls/handshake.js';
import type { TlsResumptionRegistry, TlsScope } from '../tls/resumption-registry.js';

/** A client that stops reading replies must not make us buffer without bound. */
const MAX_PENDING_REPLY_BYTES = 1024 * 1024;

/** How long a closing control connection may take to flush its last reply. */
const CLOSE_GRACE_MS = 5000;

export interface ControlTimers {
  readonly loginTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/** What a connection needs to speak TLS; null when TLS is off. */
export interface ControlTlsSetup {
  /** Contexts per control connection, and which sessions a data connection may resume. */
  readonly registry: TlsResumptionRegistry;
  readonly handshakeTimeoutMs: number;
  readonly clientCertificates: 'off' | 'optional' | 'required';
  /** CCC allowed: the control TLS runs over a ClearableStream so it can be removed later. */
  readonly ccc: boolean;
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

export class ControlConnection implements ControlChannel, SessionTls {
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly destinationAddress?: string;
  readonly #raw: net.Socket;
  readonly #options: ControlConnectionOptions;
  readonly #logger: Logger;
  #transport: net.Socket | tls.TLSSocket;
  #reader: LineReader;
  #session: Session | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastLineAt = Date.now();
  #closedHandlers: (() => void)[] = [];
  /** This connection's TLS keys and session IDs (created on first TLS use). */
  #scope: TlsScope | null = null;
  #protected = false;
  #clearable: ClearableStream | null = null;
  /** After CCC: TLS records (the client's close_notify) still to skip before clear text. */
  #tlsRecordsToSkip = 0;
  #skipBytes = 0;
  /** The client presented a certificate that chains to tls.clientCertificates.caFile. */
  #peerVerified = false;
  #upgrading = false;
  #closed = false;

  constructor(socket: net.Socket, options: ControlConnectionOptions) {
    this.#raw = socket;
    this.#transport = socket;
    this.#options = options;
    this.#logger = options.logger;
    this.remoteAddress = options.remoteAddress;
    this.localAddress = socket.localAddress ?? '';
    if (options.destinationAddress) this.destinationAddress = options.destinationAddress;
    this.#reader = new LineReader({ maxLineBytes: options.maxLineBytes });
    socket.once('close', () => this.#onClose());
  }

  /** The socket replies are written to (the TLS socket once protected). */
  get socket(): net.Socket {
    return this.#transport;
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
    this.#startTls()
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
    const socket = this.#transport;
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
    // The user a data connection's sibling TLS session must belong to (resumption-registry).
    const user = this.#session?.userName;
    if (user !== undefined && this.#scope) this.#scope.user = user;
    if (this.#session) this.#options.onLoginChanged?.(this.#session.loggedIn);
  }

  close(): void {
    const socket = this.#transport;
    if (socket.destroyed) return;
    socket.end();
    // A peer that never closes its side (or never reads) must not keep the socket open.
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Sends a final reply (usually 421) and closes. */
  closeWith(code: number, text: string): void {
    if (this.#transport.destroyed) return;
    if (!this.#transport.writableEnded) this.#transport.write(formatReply(code, text));
    this.#session?.closeControl();
    this.close();
  }

  // ---- SessionTls ----

  get available(): boolean {
    return this.#options.tls !== null;
  }

  get controlProtected(): boolean {
    return this.#protected;
  }

  async upgradeControl(): Promise<void> {
    // Stop reading clear text at once (synchronously, inside the AUTH handler): bytes that
    // arrive from now on are the client's TLS handshake and stay buffered for the TLS socket.
    this.#upgrading = true;
    this.#raw.pause();
    this.#raw.removeAllListeners('data');
    if (this.#raw.writableLength > 0) await new Promise((resolve) => this.#raw.once('drain', resolve));
    await this.#startTls();
  }

  secureData(socket: Duplex, signal: AbortSignal): Promise<SecuredData> {
    const setup = this.#setup();
    return secureDataSocket(socket, { registry: setup.registry, scope: this.#tlsScope(), handshakeTimeoutMs: setup.handshakeTimeoutMs }, signal);
  }

  get clearable(): boolean {
    return this.#clearable !== null && this.#transport !== this.#raw;
  }

  async clearControl(): Promise<void> {
    const secured = this.#transport;
    const clearable = this.#clearable;
    if (!(secured instanceof tls.TLSSocket) || !clearable) throw new Error('CCC is not available');
    secured.removeAllListeners('data');
    // From now on the TCP bytes are ours again: the client's next command comes in clear
    // text as soon as it has our close_notify, possibly before our write even completes.
    clearable.detach();
    this.#clearable = null;
    this.#transport = this.#raw;
    this.#reader = new LineReader({ maxLineBytes: this.#options.maxLineBytes });
    // A client may answer with its own close_notify (curl's "active" mode) or not (its
    // "passive" mode): skip up to one TLS record that arrives before the clear text.
    this.#tlsRecordsToSkip = 1;
    this.#listen(this.#raw);
    this.#raw.resume();
    // RFC 4217 §6: our close_notify follows the 200 reply; the TCP connection stays.
    await new Promise<void>((resolve) => secured.end(() => resolve()));
    secured.destroy();
    this.#logger.info({ event: 'tls.control-cleared' }, 'control connection returned to clear text (CCC)');
  }

  controlTlsInfo(): { version: string; cipher: string } | undefined {
    const socket = this.#transport;
    if (!(socket instanceof tls.TLSSocket) || !this.#protected) return undefined;
    return { version: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher()?.name ?? 'unknown' };
  }

  peerCommonName(): string | undefined {
    const socket = this.#transport;
    if (!(socket instanceof tls.TLSSocket) || !this.#peerVerified) return undefined;
    const cn = socket.getPeerCertificate().subject?.CN;
    return typeof cn === 'string' ? cn : Array.isArray(cn) ? cn[0] : undefined;
  }

  #setup(): ControlTlsSetup {
    const setup = this.#options.tls;
    if (!setup) throw new Error('TLS is not configured');
    return setup;
  }

  /** The connection's TLS scope: created on first use, kept for the connection's lifetime. */
  #tlsScope(): TlsScope {
    if (!this.#scope) {
      this.#scope = this.#setup().registry.open(this.remoteAddress);
      const user = this.#session?.userName;
      if (user !== undefined) this.#scope.user = user;
    }
    return this.#scope;
  }

  /** Control-connection options: a full handshake always (client certificates are checked). */
  #controlTlsOptions(): tls.TLSSocketOptions {
    const setup = this.#setup();
    const mode = setup.clientCertificates;
    const scope = this.#tlsScope();
    return {
      isServer: true,
      secureContext: scope.context ?? undefined,
      server: sessionIdCallbacks(setup.registry, scope, false),
      requestCert: mode !== 'off',
      rejectUnauthorized: mode === 'required',
    };
  }

  async #startTls(): Promise<void> {
    const setup = this.#setup();
    const below = setup.ccc ? (this.#clearable = new ClearableStream(this.#raw)) : this.#raw;
    const secured = new tls.TLSSocket(below as net.Socket, this.#controlTlsOptions());
    secured.on('error', (error) => this.#logger.debug({ event: 'control.tls-error', err: error }, 'control TLS error'));
    try {
      await serverHandshake(secured, setup.handshakeTimeoutMs);
      this.#checkClientCertificate(secured, setup.clientCertificates);
    } catch (error) {
      this.#options.onTlsHandshake?.(false);
      throw error;
    }
    this.#options.onTlsHandshake?.(true);
    this.#transport = secured;
    this.#protected = true;
    this.#upgrading = false;
    // Nothing typed before the handshake survives it (RFC 4217 §4; command injection).
    this.#reader = new LineReader({ maxLineBytes: this.#options.maxLineBytes });
    this.#logger.info(
      { event: 'tls.established', protocol: secured.getProtocol(), cipher: secured.getCipher().name, clientCertificate: this.peerCommonName() },
      'TLS established on the control connection',
    );
    this.#listen(secured);
  }

  /**
   * A TLSSocket built outside tls.Server neither rejects an unverified client certificate
   * nor sets `authorized` (tls.Server does both in its own 'secure' handler), so the
   * verification result is read and enforced here.
   */
  #checkClientCertificate(socket: tls.TLSSocket, mode: 'off' | 'optional' | 'required'): void {
    if (mode === 'off') return;
    const handle = (socket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
    // null means verified; a missing handle is treated as unverified.
    const verifyError = typeof handle?.verifyError === 'function' ? handle.verifyError() : new Error('no TLS handle');
    const presented = Object.keys(socket.getPeerCertificate()).length > 0;
    if (!verifyError && presented) {
      this.#peerVerified = true;
      return;
    }
    const reason = presented ? ((verifyError as Error & { code?: string }).code ?? verifyError?.message) : 'no certificate';
    if (mode === 'required') {
      this.#logger.warn({ event: 'tls.client-certificate-refused', reason }, 'client certificate refused');
      socket.destroy();
      throw new Error(`client certificate refused: ${reason}`);
    }
    if (presented) this.#logger.info({ event: 'tls.client-certificate-unverified', reason }, 'client certificate not verified');
  }

  #listen(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    // A socket accepted paused (PROXY protocol) does not start flowing by itself.
    socket.resume();
  }

  /** Drops whole TLS records at the start of the clear-text stream after CCC. */
  #skipTlsRecords(chunk: Buffer): Buffer {
    let rest = chunk;
    for (;;) {
      if (this.#skipBytes > 0) {
        const n = Math.min(this.#skipBytes, rest.length);
        this.#skipBytes -= n;
        rest = rest.subarray(n);
        if (this.#skipBytes > 0) return rest;
      }
      // A TLS record starts with its type (alert 0x15, or application data 0x17 carrying a
      // TLS 1.3 alert) and version 0x03 0x0N; an FTP command starts with a letter.
      if (this.#tlsRecordsToSkip === 0 || rest.length < 5) return rest;
      if ((rest[0] !== 0x15 && rest[0] !== 0x17) || rest[1] !== 0x03) {
        this.#tlsRecordsToSkip = 0;
        return rest;
      }
      this.#tlsRecordsToSkip--;
      this.#skipBytes = 5 + rest.readUInt16BE(3);
    }
  }

  #onData(input: Buffer): void {
    const session = this.session;
    const chunk = this.#tlsRecordsToSkip > 0 || this.#skipBytes > 0 ? this.#skipTlsRecords(input) : input;
    for (const event of this.#reader.push(chunk)) {
      if (event.type === 'too-long') session.receiveTooLong();
      else session.receiveLine(event.line);
      // After AUTH TLS the rest of this chunk was sent in clear text: drop it.
      if (session.closed || this.#upgrading) break;
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
    if (this.#scope) this.#options.tls?.registry.close(this.#scope);
    for (const handler of this.#closedHandlers) handler();
    this.#closedHandlers = [];
  }
}
