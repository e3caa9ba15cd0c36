/**
 * @module net/control-tls
 * Owns TLS on one control connection: the upgrade in place after AUTH TLS (RFC 4217 §4),
 * implicit TLS from the first byte, client-certificate checks, CCC (RFC 4217 §6: TLS ends,
 * TCP stays, over a ClearableStream) with the skipping of the client's last TLS record,
 * the connection's TLS scope (its own context, ticket keys and session IDs, from
 * tls/resumption-registry) and the data-connection handshakes resumed from it. Implements
 * the session's SessionTls port; the control connection only reads lines from whichever
 * socket this module says is current.
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Logger, SecuredData, SessionTls } from '../session/ports.js';
import { secureDataSocket, sessionIdCallbacks } from '../tls/data-tls.js';
import { serverHandshake } from '../tls/handshake.js';
import type { TlsResumptionRegistry, TlsScope } from '../tls/resumption-registry.js';
import { ClearableStream } from './clearable-stream.js';

/** What a connection needs to speak TLS; null when TLS is off. */
export interface ControlTlsSetup {
  /** Contexts per control connection, and which sessions a data connection may resume. */
  readonly registry: TlsResumptionRegistry;
  readonly handshakeTimeoutMs: number;
  readonly clientCertificates: 'off' | 'optional' | 'required';
  /** CCC allowed: the control TLS runs over a ClearableStream so it can be removed later. */
  readonly ccc: boolean;
}

/**
 * What the TLS layer needs from its connection. Methods, not closures: the control connection
 * is this object itself, so an idle session holds no functions for it (issue 14).
 */
export interface ControlTlsOptions {
  /** The real client address (the scope's owner, for sibling resumption). */
  readonly remoteAddress: string;
  readonly logger: Logger;
  /** Counts control-connection handshakes (metrics). */
  onHandshake(ok: boolean): void;
  /** The logged-in user, if any (the scope's owner). */
  user(): string | undefined;
  /**
   * Lines come from `socket` from now on, read by a fresh line reader: nothing typed before
   * a TLS change survives it (RFC 4217 §4; command injection).
   */
  readFrom(socket: net.Socket): void;
}

export class ControlTls implements SessionTls {
  readonly #raw: net.Socket;
  readonly #setup: ControlTlsSetup | null;
  readonly #options: ControlTlsOptions;
  #transport: net.Socket | tls.TLSSocket;
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

  constructor(raw: net.Socket, setup: ControlTlsSetup | null, options: ControlTlsOptions) {
    this.#raw = raw;
    this.#transport = raw;
    this.#setup = setup;
    this.#options = options;
  }

  /** The socket replies are written to and lines are read from (the TLS socket while protected). */
  get transport(): net.Socket {
    return this.#transport;
  }

  /** AUTH TLS accepted, handshake not done: whatever else arrived in clear text is dropped. */
  get upgrading(): boolean {
    return this.#upgrading;
  }

  get available(): boolean {
    return this.#setup !== null;
  }

  get controlProtected(): boolean {
    return this.#protected;
  }

  get clearable(): boolean {
    return this.#clearable !== null && this.#transport !== this.#raw;
  }

  /** The session logged in or out: a data connection's sibling TLS session must belong to this user. */
  userChanged(): void {
    const user = this.#options.user();
    if (user !== undefined && this.#scope) this.#scope.user = user;
  }

  async upgradeControl(): Promise<void> {
    // Stop reading clear text at once (synchronously, inside the AUTH handler): bytes that
    // arrive from now on are the client's TLS handshake and stay buffered for the TLS socket.
    this.#upgrading = true;
    this.#raw.pause();
    this.#raw.removeAllListeners('data');
    if (this.#raw.writableLength > 0) await new Promise((resolve) => this.#raw.once('drain', resolve));
    await this.start();
  }

  /** The server handshake on the control connection (implicit TLS, or after AUTH TLS). */
  async start(): Promise<void> {
    const setup = this.#required();
    const secured = new tls.TLSSocket(setup.ccc ? (this.#clearable = new ClearableStream(this.#raw)) : this.#raw, this.#handshakeOptions(setup));
    secured.on('error', (error: Error) => this.#options.logger.debug({ event: 'control.tls-error', err: error }, 'control TLS error'));
    try {
      await serverHandshake(secured, setup.handshakeTimeoutMs);
      this.#checkClientCertificate(secured, setup.clientCertificates);
    } catch (error) {
      this.#options.onHandshake(false);
      throw error;
    }
    this.#options.onHandshake(true);
    this.#transport = secured;
    this.#protected = true;
    this.#upgrading = false;
    this.#options.logger.info(
      { event: 'tls.established', protocol: secured.getProtocol(), cipher: secured.getCipher().name, clientCertificate: this.peerCommonName() },
      'TLS established on the control connection',
    );
    this.#options.readFrom(secured);
  }

  secureData(socket: Duplex, signal: AbortSignal, clientReads: boolean): Promise<SecuredData> {
    const setup = this.#required();
    return secureDataSocket(socket, { registry: setup.registry, scope: this.#tlsScope(setup), handshakeTimeoutMs: setup.handshakeTimeoutMs, renewTicket: clientReads }, signal);
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
    // A client may answer with its own close_notify (curl's "active" mode) or not (its
    // "passive" mode): skip up to one TLS record that arrives before the clear text.
    this.#tlsRecordsToSkip = 1;
    this.#options.readFrom(this.#raw);
    // RFC 4217 §6: our close_notify follows the 200 reply; the TCP connection stays.
    await new Promise<void>((resolve) => secured.end(() => resolve()));
    secured.destroy();
    this.#options.logger.info({ event: 'tls.control-cleared' }, 'control connection returned to clear text (CCC)');
  }

  controlTlsInfo(): { version: string; cipher: string } | undefined {
    const socket = this.#transport;
    if (!(socket instanceof tls.TLSSocket) || !this.#protected) return undefined;
    return { version: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher()?.name ?? 'unknown' };
  }

  peerCommonName(): string | undefined {
    const socket = this.#transport;
    if (!(socket instanceof tls.TLSSocket) || !this.#peerVerified) return undefined;
    const cn: unknown = socket.getPeerCertificate().subject?.CN;
    return typeof cn === 'string' ? cn : Array.isArray(cn) && typeof cn[0] === 'string' ? cn[0] : undefined;
  }

  /** The clear text of a chunk read after CCC: whole TLS records at its start are dropped. */
  clearText(chunk: Buffer): Buffer {
    if (this.#tlsRecordsToSkip === 0 && this.#skipBytes === 0) return chunk;
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

  /** The connection has closed: its scope keeps its keys for the data connections still to come. */
  dispose(): void {
    if (this.#scope) this.#setup?.registry.close(this.#scope);
  }

  #required(): ControlTlsSetup {
    if (!this.#setup) throw new Error('TLS is not configured');
    return this.#setup;
  }

  /** The connection's TLS scope: created on first use, kept for the connection's lifetime. */
  #tlsScope(setup: ControlTlsSetup): TlsScope {
    if (!this.#scope) {
      this.#scope = setup.registry.open(this.#options.remoteAddress);
      const user = this.#options.user();
      if (user !== undefined) this.#scope.user = user;
    }
    return this.#scope;
  }

  /** Control-connection options: a full handshake always (client certificates are checked). */
  #handshakeOptions(setup: ControlTlsSetup): tls.TLSSocketOptions {
    const mode = setup.clientCertificates;
    const scope = this.#tlsScope(setup);
    return {
      isServer: true,
      secureContext: scope.context ?? undefined,
      server: sessionIdCallbacks(setup.registry, scope, false),
      requestCert: mode !== 'off',
      rejectUnauthorized: mode === 'required',
    };
  }

  /**
   * A TLSSocket built outside tls.Server neither rejects an unverified client certificate
   * nor sets `authorized` (tls.Server does both in its own 'secure' handler), so the
   * verification result is read and enforced here.
   */
  #checkClientCertificate(socket: tls.TLSSocket, mode: 'off' | 'optional' | 'required'): void {
    if (mode === 'off') return;
    const handle = (socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
    // null means verified; a missing handle is treated as unverified.
    const verifyError: (Error & { code?: string }) | null = typeof handle?.verifyError === 'function' ? handle.verifyError() : new Error('no TLS handle');
    const presented = Object.keys(socket.getPeerCertificate()).length > 0;
    if (!verifyError && presented) {
      this.#peerVerified = true;
      return;
    }
    const reason = presented ? (verifyError?.code ?? verifyError?.message) : 'no certificate';
    if (mode === 'required') {
      this.#options.logger.warn({ event: 'tls.client-certificate-refused', reason }, 'client certificate refused');
      socket.destroy();
      throw new Error(`client certificate refused: ${reason}`);
    }
    if (presented) this.#options.logger.info({ event: 'tls.client-certificate-unverified', reason }, 'client certificate not verified');
  }
}
