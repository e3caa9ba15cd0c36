/**
 * @module test/helpers/ftps-support
 * Shared plumbing for the FTPS integration files: a test server configured with the test PKI,
 * a raw FTPS control client (explicit AUTH TLS upgrade in place, or implicit TLS from the first
 * byte) that keeps the control connection's TLS session so data connections can resume it, and
 * PROT P transfers over EPSV/PASV with the data-channel handshake started either right after
 * the TCP connect (curl, basic-ftp) or after the 150 reply (lftp, ftplib).
 * Every wait is bounded.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import type { ConfigInput } from '../../src/config/schema.js';
import type { TestPki } from './pki.js';
import { ReplyReader, type Reply } from './reply-reader.js';
import { mergeConfig, startTestServer, type TestServer, type TestUser } from './server.js';
import { withTimeout } from './integration.js';

export type { Reply } from './reply-reader.js';

/** How long any single protocol step may take before a test fails instead of hanging. */
export const STEP_MS = 8000;

/** A second, read-write user for the cross-session tests. */
export const BOB: TestUser = { name: 'bob', password: 'bob-password-2' };
export const ALICE: TestUser = { name: 'alice', password: 'secret-password' };

type Plain = Record<string, unknown>;

/**
 * A server using the test CA's server certificate (unless `config.tls` says otherwise), with
 * a 100 ms certificate reload interval. `tls` overrides are deep-merged.
 */
export function startFtpsServer(pki: TestPki, options: { config?: ConfigInput; users?: readonly TestUser[] } = {}): Promise<TestServer> {
  const tlsDefaults: Plain = { tls: { certFile: pki.serverCert, keyFile: pki.serverKey, reloadIntervalMs: 100 } };
  const config = mergeConfig(tlsDefaults, (options.config ?? {})) as ConfigInput;
  return startTestServer({ config, ...(options.users ? { users: options.users } : {}) });
}

/** The implicit FTPS listener's port (fails when it is not enabled). */
export function implicitPort(t: TestServer): number {
  const address = t.server.implicitAddress();
  if (!address) throw new Error('implicit TLS listener is not running');
  return address.port;
}

/** SHA-256 fingerprint of a PEM certificate file, in Node's `AA:BB:...` format. */
export async function fingerprintOf(pemFile: string): Promise<string> {
  return new X509Certificate(await readFile(pemFile)).fingerprint256;
}

/** The value of one labelled series of a Prometheus counter (0 when absent). */
export async function metricValue(t: TestServer, name: string, labels: string): Promise<number> {
  const text = await t.server.metrics.registry.getSingleMetricAsString(name);
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{${labels}}`)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Log records with the given `event`. */
export function events(t: TestServer, event: string): Record<string, unknown>[] {
  return t.logs.filter((record) => record.event === event);
}

/** Client-side TLS options for control and data connections. */
export interface ClientTls {
  /** PEM CA bundle the server certificate must chain to. */
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly minVersion?: tls.SecureVersion;
  readonly maxVersion?: tls.SecureVersion;
  /** Name checked against the certificate; default: the IP address connected to. */
  readonly servername?: string;
}

function tlsOptions(options: ClientTls, host: string): tls.ConnectionOptions {
  return {
    host,
    ...(options.servername ? { servername: options.servername } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.cert ? { cert: options.cert } : {}),
    ...(options.key ? { key: options.key } : {}),
    ...(options.minVersion ? { minVersion: options.minVersion } : {}),
    ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    rejectUnauthorized: true,
  };
}

/** Resolves on 'secureConnect'; rejects on an error or a close before it, or after `ms`. */
export function secured(socket: tls.TLSSocket, ms = STEP_MS): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve, reject) => {
      const onSecure = () => {
        cleanup();
        resolve();
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onClose = () => {
        cleanup();
        reject(new Error('connection closed during the TLS handshake'));
      };
      const cleanup = () => {
        socket.off('secureConnect', onSecure);
        socket.off('error', onError);
        socket.off('close', onClose);
      };
      socket.once('secureConnect', onSecure);
      socket.once('error', onError);
      socket.once('close', onClose);
    }),
    ms,
    'TLS handshake',
  );
}

/** Collects a socket's bytes until it closes; never rejects (errors are recorded). */
function collect(socket: net.Socket, ms: number): { done: Promise<Buffer>; error: () => Error | null } {
  let failure: Error | null = null;
  const done = withTimeout(
    new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', (error) => {
        failure ??= error;
      });
      socket.once('close', () => resolve(Buffer.concat(chunks)));
    }),
    ms,
    'data connection',
  );
  return { done, error: () => failure };
}

export interface TransferOptions {
  /** PROT P data connection (default true). */
  readonly secure?: boolean;
  /**
   * The TLS session to resume on the data connection: 'control' (the default) uses the
   * control connection's latest session; null starts a fresh one; a Buffer is used as is.
   */
  readonly session?: 'control' | Buffer | null;
  /** When the data-channel handshake starts (default 'connect'). */
  readonly handshake?: 'connect' | 'after-150';
  /** Passive command (default EPSV). */
  readonly passive?: 'EPSV' | 'PASV';
  /** Bytes to send (STOR/APPE); a download when absent. */
  readonly upload?: Buffer;
  /** Upload only: reset the TCP connection this long after queueing the bytes, instead of ending it (a cut-off upload). */
  readonly resetAfterMs?: number;
  /** TLS options for the data connection; default: those of the control connection. */
  readonly tls?: ClientTls;
  readonly timeoutMs?: number;
}

export interface TransferResult {
  /** 150 (or the only reply when the command failed before opening the data connection). */
  readonly first: Reply;
  readonly final?: Reply;
  readonly data: Buffer;
  /** Whether the data connection's TLS session was resumed (client view). */
  readonly resumed?: boolean;
  readonly protocol?: string | null;
  /** The data-channel TLS handshake error, if it failed on the client side. */
  readonly handshakeError?: Error;
}

/**
 * An FTP control connection that can be upgraded to TLS (AUTH TLS) or start in TLS
 * (implicit). Replies are parsed from whichever transport is current.
 */
export class FtpsClient {
  readonly raw: net.Socket;
  readonly host: string;
  #transport: net.Socket;
  #tls: tls.TLSSocket | null = null;
  #tlsOptions: ClientTls = {};
  #session: Buffer | undefined;
  readonly #reader = new ReplyReader();
  #closed = false;
  readonly #onData = (data: Buffer) => this.#reader.push(data.toString('utf8'));

  private constructor(raw: net.Socket, transport: net.Socket, host: string) {
    this.raw = raw;
    this.host = host;
    this.#transport = transport;
    raw.on('error', () => undefined);
    raw.on('close', () => this.#onClose());
    transport.on('data', this.#onData);
  }

  /** A clear-text control connection (the 220 greeting is left unread). */
  static async connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<FtpsClient> {
    const raw = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        raw.once('connect', resolve);
        raw.once('error', reject);
      }),
      STEP_MS,
      `connect ${host}:${port}`,
    );
    return new FtpsClient(raw, raw, host);
  }

  /** Implicit FTPS: TLS from the first byte (the 220 greeting is left unread). */
  static async connectImplicit(port: number, options: ClientTls, host = '127.0.0.1'): Promise<FtpsClient> {
    const socket = tls.connect({ ...tlsOptions(options, host), port });
    socket.on('error', () => undefined);
    const client = new FtpsClient(socket, socket, host);
    client.#adoptTls(socket, options);
    await secured(socket);
    return client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The control connection's TLS socket, once protected. */
  get tlsSocket(): tls.TLSSocket {
    if (!this.#tls) throw new Error('control connection is not protected');
    return this.#tls;
  }

  /** The latest TLS session of the control connection ('session' event, else getSession()). */
  get session(): Buffer | undefined {
    return this.#session ?? this.#tls?.getSession();
  }

  /** Waits until the control connection has received a resumable session (TLS 1.3 sends it after the handshake). */
  async waitSession(ms = STEP_MS): Promise<Buffer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const session = this.#session;
      if (session) return session;
      if (Date.now() > deadline) throw new Error('no TLS session from the control connection');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  #adoptTls(socket: tls.TLSSocket, options: ClientTls): void {
    this.#tls = socket;
    this.#tlsOptions = options;
    socket.on('session', (session: Buffer) => {
      this.#session = session;
    });
    socket.on('close', () => this.#onClose());
  }

  /** Replies received but not read yet. */
  get pendingReplies(): readonly Reply[] {
    return this.#reader.pending;
  }

  /** Fails every pending read once the connection is gone (no reply can come any more). */
  #onClose(): void {
    this.#closed = true;
    // Replies still in flight inside the TLS layer are delivered before 'close'.
    this.#reader.fail(new Error('control connection closed'));
  }

  /** The next reply, within `ms`; rejects at once when the connection has closed. */
  read(ms = STEP_MS): Promise<Reply> {
    return this.#reader.read(ms);
  }

  write(data: string | Buffer): void {
    this.#transport.write(data);
  }

  send(line: string, ms?: number): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read(ms);
  }

  /** Sends `line` and fails unless the reply has `code`. */
  async expect(line: string, code: number, ms?: number): Promise<Reply> {
    const reply = await this.send(line, ms);
    if (reply.code !== code) throw new Error(`${line.split(' ')[0] ?? line}: expected ${code}, got ${reply.text}`);
    return reply;
  }

  /** Reads the next reply and fails unless it has `code`. */
  async expectNext(code: number, ms?: number): Promise<Reply> {
    const reply = await this.read(ms);
    if (reply.code !== code) throw new Error(`expected ${code}, got ${reply.text}`);
    return reply;
  }

  /**
   * Starts the client side of the TLS handshake on the control connection (after a 234).
   * Anything received in clear text from now on would be fed to TLS and break it.
   */
  async startTls(options: ClientTls): Promise<tls.TLSSocket> {
    this.raw.off('data', this.#onData);
    const socket = tls.connect({ ...tlsOptions(options, this.host), socket: this.raw });
    socket.on('error', () => undefined);
    this.#adoptTls(socket, options);
    this.#transport = socket;
    socket.on('data', this.#onData);
    await secured(socket);
    return socket;
  }

  /** AUTH TLS (234) and the handshake. */
  async authTls(options: ClientTls, mechanism = 'TLS'): Promise<tls.TLSSocket> {
    await this.expect(`AUTH ${mechanism}`, 234);
    return this.startTls(options);
  }

  /** USER/PASS, then TYPE I (the server's default type is ASCII). */
  async login(user: string, password: string): Promise<void> {
    await this.expect(`USER ${user}`, 331);
    await this.expect(`PASS ${password}`, 230);
    await this.expect('TYPE I', 200);
  }

  /** Greeting, AUTH TLS, USER/PASS, TYPE I, PBSZ 0, PROT P; waits for the control session. */
  async secureLogin(user: string, password: string, options: ClientTls): Promise<void> {
    await this.expectNext(220);
    await this.authTls(options);
    await this.login(user, password);
    await this.expect('PBSZ 0', 200);
    await this.expect('PROT P', 200);
    await this.waitSession();
  }

  async #passive(kind: 'EPSV' | 'PASV'): Promise<{ host: string; port: number }> {
    const reply = await this.send(kind);
    if (kind === 'EPSV') {
      const match = /\(\|\|\|(\d+)\|\)/.exec(reply.text);
      if (reply.code !== 229 || !match) throw new Error(`EPSV: ${reply.text}`);
      return { host: this.host, port: Number(match[1]) };
    }
    const match = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(reply.text);
    if (reply.code !== 227 || !match) throw new Error(`PASV: ${reply.text}`);
    return { host: match.slice(1, 5).join('.'), port: Number(match[5]) * 256 + Number(match[6]) };
  }

  /**
   * One data command over a passive connection: RETR/LIST/NLST/MLSD (download) or STOR/APPE
   * (with `upload`). Returns both replies, the bytes received and the client's TLS view.
   */
  async transfer(line: string, options: TransferOptions = {}): Promise<TransferResult> {
    const ms = options.timeoutMs ?? 15_000;
    const secure = options.secure ?? true;
    const endpoint = await this.#passive(options.passive ?? 'EPSV');
    const tcp = net.connect(endpoint);
    tcp.on('error', () => undefined);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        tcp.once('connect', resolve);
        tcp.once('error', reject);
      }),
      STEP_MS,
      'data connect',
    );
    const choice = options.session === undefined ? 'control' : options.session;
    const session = choice === 'control' ? this.session : (choice ?? undefined);
    let socket: net.Socket = tcp;
    let handshake: Promise<Error | undefined> = Promise.resolve(undefined);
    let collected: ReturnType<typeof collect> | null = null;
    const wrap = () => {
      const secureSocket = tls.connect({ ...tlsOptions(options.tls ?? this.#tlsOptions, this.host), socket: tcp, ...(session ? { session } : {}) });
      secureSocket.on('error', () => undefined);
      socket = secureSocket;
      handshake = secured(secureSocket, ms).then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      if (options.upload === undefined) collected = collect(secureSocket, ms);
    };
    if (secure && (options.handshake ?? 'connect') === 'connect') wrap();
    else if (!secure && options.upload === undefined) collected = collect(tcp, ms);

    const first = await this.send(line, ms);
    if (first.code !== 150 && first.code !== 125) {
      socket.destroy();
      return { first, data: Buffer.alloc(0) };
    }
    if (secure && options.handshake === 'after-150') wrap();
    const handshakeError = await handshake;
    const tlsSocket = socket instanceof tls.TLSSocket ? socket : null;
    const view = tlsSocket && !handshakeError ? { resumed: tlsSocket.isSessionReused(), protocol: tlsSocket.getProtocol() } : {};
    let data: Buffer = Buffer.alloc(0);
    if (options.upload !== undefined) {
      if (handshakeError || socket.destroyed) socket.destroy();
      else if (options.resetAfterMs === undefined) socket.end(options.upload);
      else {
        socket.write(options.upload);
        await new Promise((resolve) => setTimeout(resolve, options.resetAfterMs));
        tcp.resetAndDestroy();
      }
    } else if (collected !== null) {
      data = await (collected).done;
    }
    const final = await this.read(ms);
    socket.destroy();
    return { first, final, data, ...view, ...(handshakeError ? { handshakeError } : {}) };
  }

  /** QUIT (best effort) and close. */
  async quit(): Promise<void> {
    if (!this.#closed) await this.send('QUIT', 2000).catch(() => undefined);
    this.close();
  }

  close(): void {
    this.#tls?.destroy();
    this.raw.destroy();
  }

  /** Resolves when the control connection has closed, within `ms`. */
  waitClosed(ms = STEP_MS): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return withTimeout(
      new Promise<void>((resolve) => {
        const done = () => resolve();
        this.raw.once('close', done);
        this.#tls?.once('close', done);
      }),
      ms,
      'control connection close',
    );
  }
}
