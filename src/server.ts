/**
 * @module server
 * Composition root: builds storage, auth, the data-channel manager, metrics and the control
 * listener from one Config, and owns their lifecycle (start, drain, close). A library: it
 * never calls process.exit or installs signal handlers (the CLI does).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileAuthenticator } from './auth/file-authenticator.js';
import type { Authenticator } from './auth/types.js';
import type { Config } from './config/schema.js';
import { NetDataConnector } from './data/data-connector.js';
import { PassiveAddressResolver } from './data/passive-address.js';
import { PassivePortPool } from './data/passive-port-pool.js';
import { computePassiveSlice, resolveReplicaIndex } from './data/passive-slices.js';
import { ControlConnection, type ControlTlsSetup } from './net/control-connection.js';
import { acceptProxyHeader } from './net/proxy-protocol.js';
import { CidrList } from './core/cidr.js';
import { AdminServer } from './observability/admin-http.js';
import { ServerMetrics } from './observability/metrics.js';
import { XferlogWriter } from './observability/xferlog.js';
import { normalizeAddress } from './protocol/address.js';
import { ReplyCode, formatReply } from './protocol/reply.js';
import type { Clock, Logger, TransferLogEntry } from './session/ports.js';
import { Session } from './session/session.js';
import { LocalStorageProvider } from './storage/local/local-storage.js';
import { CertificateStore } from './tls/certificate-store.js';
import { ensureSelfSignedCertificate } from './tls/self-signed.js';
import type { StorageProvider } from './storage/types.js';

export interface FtpServerDeps {
  readonly logger: Logger;
  readonly authenticator?: Authenticator;
  readonly storage?: StorageProvider;
  readonly metrics?: ServerMetrics;
  readonly clock?: Clock;
}

const SYSTEM_CLOCK: Clock = {
  now: () => new Date(),
  sleep: (ms) => (ms > 0 ? sleep(ms) : Promise.resolve()),
};

/** How often a draining server checks whether its running transfers have finished. */
const DRAIN_POLL_MS = 100;

export class FtpServer {
  readonly config: Readonly<Config>;
  readonly metrics: ServerMetrics;
  /** This replica's share of the passive range. */
  readonly passiveSlice: { readonly index: number; readonly min: number; readonly max: number };
  readonly #logger: Logger;
  readonly #auth: Authenticator;
  readonly #storage: StorageProvider;
  readonly #clock: Clock;
  readonly #pool: PassivePortPool;
  readonly #data: NetDataConnector;
  readonly #connections = new Set<ControlConnection>();
  readonly #perAddress = new Map<string, number>();
  #listener: net.Server | null = null;
  #implicitListener: net.Server | null = null;
  #certificates: CertificateStore | null = null;
  #tlsSetup: ControlTlsSetup | null = null;
  #draining = false;
  #listenersClosed = false;
  #admin: AdminServer | null = null;
  readonly #trustedProxies: CidrList;
  #xferlog: { write(entry: TransferLogEntry): void; close(): Promise<void> } | null = null;
  #storageReady: { at: number; ok: boolean } = { at: 0, ok: false };
  /** Set when a self-signed certificate is in use (the CLI prints its fingerprint). */
  selfSigned: { certFile: string; fingerprint: string } | null = null;

  constructor(config: Readonly<Config>, deps: FtpServerDeps) {
    this.config = config;
    this.#logger = deps.logger;
    this.metrics = deps.metrics ?? new ServerMetrics();
    this.#clock = deps.clock ?? SYSTEM_CLOCK;
    this.#storage = deps.storage ?? new LocalStorageProvider({ root: config.storage.root });
    this.#auth =
      deps.authenticator ??
      new FileAuthenticator({
        file: config.users.file,
        reloadIntervalMs: config.users.reloadIntervalMs,
        anonymous: config.anonymous,
        onReload: (event) => {
          if (event.ok) this.#logger.info({ event: 'users.reloaded', users: event.users }, 'users file reloaded');
          else this.#logger.error({ event: 'users.reload-failed', err: event.error }, 'users file reload failed; keeping previous users');
        },
      });
    // Each replica hands out only its own slice of the passive range, so the balancer can
    // route a slice's ports to the one replica that announced them.
    const passive = config.passive;
    const replicaIndex = resolveReplicaIndex({ configured: passive.replicaIndex, hostname: os.hostname(), replicas: passive.replicas });
    this.passiveSlice = { index: replicaIndex, ...computePassiveSlice({ portMin: passive.portMin, portMax: passive.portMax, replicas: passive.replicas, index: replicaIndex }) };
    this.#pool = new PassivePortPool({ min: this.passiveSlice.min, max: this.passiveSlice.max });
    this.#trustedProxies = new CidrList(config.proxy.trustedCidrs);
    this.metrics.observePassivePorts(() => this.#pool.inUse);
    this.#data = new NetDataConnector({
      pool: this.#pool,
      resolver: new PassiveAddressResolver(
        {
          address: passive.address,
          overrides: passive.overrides,
          useDestination: passive.useDestination,
          dnsCacheMs: passive.dnsCacheMs,
          portOffset: passive.portOffset,
        },
        { onError: (error, host) => this.#logger.warn({ event: 'passive.dns-error', host, err: error }, 'passive address lookup failed') },
      ),
      acceptTimeoutMs: config.passive.acceptTimeoutMs,
      requireSameAddress: config.passive.requireSameAddress,
      shareByClientAddress: config.passive.shareByClientAddress,
      connectTimeoutMs: config.active.connectTimeoutMs,
      proxy: { mode: config.proxy.passive, trusted: this.#trustedProxies, timeoutMs: config.proxy.headerTimeoutMs },
      onProxyError: (reason) => this.metrics.proxyErrors.inc({ listener: 'passive', reason }),
      logger: this.#logger,
    });
  }

  get sessionCount(): number {
    return this.#connections.size;
  }

  get passivePortsInUse(): number {
    return this.#pool.inUse;
  }

  async start(): Promise<void> {
    if (this.#auth instanceof FileAuthenticator) await this.#auth.start();
    await this.#storage.ping();
    await this.#startTls();
    if (this.config.log.xferlog) {
      const writer = new XferlogWriter(this.config.log.xferlog, (error) => this.#logger.error({ event: 'xferlog.error', err: error }, 'xferlog write failed'));
      this.#xferlog = {
        write: (entry) =>
          writer.write({
            endedAt: entry.endedAt,
            durationMs: entry.durationMs,
            remoteAddress: normalizeAddress(entry.remoteAddress),
            bytes: entry.bytes,
            path: entry.path,
            ascii: entry.ascii,
            direction: entry.direction === 'upload' ? 'upload' : 'download',
            anonymous: entry.anonymous,
            user: entry.user,
            complete: entry.result === 'ok',
          }),
        close: () => writer.close(),
      };
    }
    this.#listener = await this.#listen(this.config.listen.port, false);
    const { port } = this.address();
    this.#logger.info({ event: 'server.listening', host: this.config.listen.host, port, passiveSlice: this.passiveSlice }, 'kftpd listening');
    if (this.config.admin.enabled) await this.#startAdmin();
    if (this.config.tls.implicit.enabled) {
      this.#implicitListener = await this.#listen(this.config.tls.implicit.port, true);
      this.#logger.info({ event: 'server.listening', host: this.config.listen.host, port: this.implicitAddress()?.port, implicitTls: true }, 'implicit FTPS listening');
    }
  }

  async #startAdmin(): Promise<void> {
    const admin = new AdminServer({
      host: this.config.admin.host,
      port: this.config.admin.port,
      registry: this.metrics.registry,
      readiness: [
        { name: 'listeners', check: () => this.#listener?.listening === true && (!this.config.tls.implicit.enabled || this.#implicitListener?.listening === true) },
        { name: 'storage', check: () => this.#storageReachable() },
        { name: 'users', check: () => this.#auth.ready() },
        { name: 'not-draining', check: () => !this.#draining },
      ],
      onCheckError: (name, error) => this.#logger.warn({ event: 'readiness.check-failed', check: name, err: error }, 'readiness check failed'),
    });
    const address = await admin.start();
    this.#admin = admin;
    this.#logger.info({ event: 'admin.listening', ...address }, 'admin HTTP listening');
  }

  /** Storage ping, cached for a second so frequent probes do not hammer a network volume. */
  async #storageReachable(): Promise<boolean> {
    const now = Date.now();
    if (now - this.#storageReady.at < 1000) return this.#storageReady.ok;
    const ok = await this.#storage.ping().then(
      () => true,
      (error: unknown) => {
        this.#logger.warn({ event: 'storage.unreachable', err: error }, 'storage ping failed');
        return false;
      },
    );
    this.#storageReady = { at: now, ok };
    return ok;
  }

  /** The admin listener's address, when enabled. */
  adminAddress(): { host: string; port: number } | null {
    return this.#admin?.address() ?? null;
  }

  /** Loads (or, with no certificate configured, creates) the certificate and watches it. */
  async #startTls(): Promise<void> {
    const tlsConfig = this.config.tls;
    if (tlsConfig.control === 'off') return;
    let { certFile, keyFile } = tlsConfig;
    if (certFile === '') {
      const generated = await ensureSelfSignedCertificate(path.join(this.config.stateDir, 'tls'));
      ({ certFile, keyFile } = generated);
      this.selfSigned = { certFile, fingerprint: generated.fingerprint };
      this.#logger.warn(
        { event: 'tls.self-signed', certFile, fingerprint: generated.fingerprint, created: generated.created },
        'no tls.certFile configured: using a self-signed certificate',
      );
    }
    const caFile = tlsConfig.clientCertificates.mode === 'off' ? undefined : tlsConfig.clientCertificates.caFile;
    const store = new CertificateStore({
      certFile,
      keyFile,
      ...(caFile ? { caFile } : {}),
      reloadIntervalMs: tlsConfig.reloadIntervalMs,
      onReload: (event) => {
        if (event.ok) this.#logger.info({ event: 'tls.reloaded', fingerprint: event.fingerprint }, 'certificate reloaded');
        else this.#logger.error({ event: 'tls.reload-failed', err: event.error }, 'certificate reload failed; keeping the previous certificate');
      },
    });
    await store.start();
    this.#certificates = store;
    this.#tlsSetup = {
      material: () => store.current(),
      contextOptions: { minVersion: tlsConfig.minVersion, ciphers: tlsConfig.ciphers },
      handshakeTimeoutMs: tlsConfig.handshakeTimeoutMs,
      clientCertificates: tlsConfig.clientCertificates.mode,
      ccc: tlsConfig.ccc,
    };
  }

  async #listen(port: number, implicit: boolean): Promise<net.Server> {
    const { keepAliveMs } = this.config.limits;
    // TCP keepalive below the balancer's idle timeout keeps a control connection that is
    // silent during a long transfer from being dropped by the balancer.
    const proxied = (implicit ? this.config.proxy.implicit : this.config.proxy.control) !== 'off';
    const listener = net.createServer(
      // With PROXY on, nothing is read before the header has been looked for.
      { noDelay: true, keepAlive: keepAliveMs > 0, keepAliveInitialDelay: keepAliveMs, pauseOnConnect: proxied },
      (socket) => this.#onConnection(socket, implicit),
    );
    listener.on('error', (error) => this.#logger.error({ event: 'listener.error', err: error }, 'control listener error'));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      // A deep backlog: connection storms must queue, not be refused (vsftpd's 32 is a bottleneck).
      listener.listen({ host: this.config.listen.host, port, backlog: 1024 }, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    return listener;
  }

  /** The implicit FTPS listener's address, when enabled. */
  implicitAddress(): { host: string; port: number } | null {
    const address = this.#implicitListener?.address();
    if (!address || typeof address === 'string') return null;
    return { host: address.address, port: address.port };
  }

  address(): { host: string; port: number } {
    const address = this.#listener?.address();
    if (!address || typeof address === 'string') throw new Error('server is not listening');
    return { host: address.address, port: address.port };
  }

  #onConnection(socket: net.Socket, implicit: boolean): void {
    socket.on('error', (error) => this.#logger.debug({ event: 'control.error', err: error }, 'control socket error'));
    const { proxy } = this.config;
    const mode = implicit ? proxy.implicit : proxy.control;
    if (mode === 'off') {
      this.#admit(socket, implicit, { remote: socket.remoteAddress ?? '' });
      return;
    }
    // The balancer's PROXY header carries the real client (and the address it connected to).
    void acceptProxyHeader(socket, { mode, trusted: this.#trustedProxies, timeoutMs: proxy.headerTimeoutMs }).then((outcome) => {
      if (!outcome.ok) {
        const listener = implicit ? 'implicit' : 'control';
        this.metrics.proxyErrors.inc({ listener, reason: outcome.reason });
        this.#logger.warn({ event: 'proxy.refused', listener, peer: socket.remoteAddress, reason: outcome.reason, detail: outcome.detail }, 'PROXY header refused');
        socket.destroy();
        return;
      }
      const fromHeader = outcome.header?.command === 'PROXY';
      this.#admit(socket, implicit, { remote: outcome.remoteAddress, ...(fromHeader ? { destination: outcome.localAddress, balancer: socket.remoteAddress ?? '' } : {}) });
    }).catch((error: unknown) => {
      // Never an unhandled rejection from a hostile peer: drop the connection, keep serving.
      this.#logger.error({ event: 'control.accept-failed', err: error }, 'connection set-up failed');
      socket.destroy();
    });
  }

  /** Applies the connection limits (to the real client address) and starts a session. */
  #admit(socket: net.Socket, implicit: boolean, peer: { remote: string; destination?: string; balancer?: string }): void {
    const remote = normalizeAddress(peer.remote);
    const limits = this.config.limits;
    const fromAddress = this.#perAddress.get(remote) ?? 0;
    const reject = (reason: string, text: string) => {
      this.metrics.sessionsRejected.inc({ reason });
      this.#logger.warn({ event: 'session.rejected', remote, reason }, 'connection refused');
      socket.on('error', () => undefined);
      // An implicit-TLS client cannot read a clear-text reply.
      if (implicit) socket.destroy();
      else socket.end(formatReply(ReplyCode.ServiceNotAvailable, text));
      socket.setTimeout(5000, () => socket.destroy());
    };
    if (this.#listenersClosed) return reject('draining', 'Server shutting down, try again later.');
    if (this.#connections.size >= limits.maxSessions) return reject('max-sessions', 'Too many connections, try again later.');
    if (fromAddress >= limits.maxSessionsPerAddress) return reject('max-sessions-per-address', 'Too many connections from your address.');

    socket.setNoDelay(true);
    const sessionId = randomBytes(6).toString('hex');
    const logger = this.#logger.child({ session: sessionId, remote, ...(peer.balancer ? { via: normalizeAddress(peer.balancer) } : {}) });
    const connection = new ControlConnection(socket, {
      remoteAddress: remote,
      ...(peer.destination ? { destinationAddress: peer.destination } : {}),
      maxLineBytes: limits.maxCommandLineBytes,
      timers: { loginTimeoutMs: limits.loginTimeoutMs, idleTimeoutMs: limits.idleTimeoutMs },
      logger,
      tls: this.#tlsSetup,
      implicit,
      onTlsHandshake: (ok) => this.metrics.tlsHandshake('control', ok),
    });
    const tlsConfig = this.config.tls;
    const session = new Session({
      control: connection,
      tls: connection,
      data: this.#data,
      auth: this.#auth,
      storage: this.#storage,
      clock: this.#clock,
      logger,
      metrics: this.metrics,
      ...(this.#xferlog ? { transferLog: this.#xferlog } : {}),
      sessionId,
      settings: {
        serverName: this.config.serverName,
        hostNames: this.config.hostNames,
        activeEnabled: this.config.active.enabled,
        dataAcceptTimeoutMs: this.config.passive.acceptTimeoutMs,
        maxFailedLogins: limits.maxFailedLogins,
        failedLoginDelayMs: limits.failedLoginDelayMs,
        tlsControl: tlsConfig.control,
        tlsData: tlsConfig.data,
        tlsSessionReuse: tlsConfig.sessionReuse,
        usernameFromCertificate: tlsConfig.clientCertificates.usernameFrom,
        cccEnabled: tlsConfig.ccc,
        replica: { ...this.passiveSlice, replicas: this.config.passive.replicas, portOffset: this.config.passive.portOffset },
      },
    });
    this.#connections.add(connection);
    this.#perAddress.set(remote, fromAddress + 1);
    this.metrics.sessions.inc();
    logger.info({ event: 'session.open', local: socket.localAddress }, 'session opened');
    const openedAt = Date.now();
    connection.onClosed(() => {
      this.#connections.delete(connection);
      const left = (this.#perAddress.get(remote) ?? 1) - 1;
      if (left <= 0) this.#perAddress.delete(remote);
      else this.#perAddress.set(remote, left);
      this.metrics.sessions.dec();
      logger.info({ event: 'session.close', user: session.userName, durationMs: Date.now() - openedAt }, 'session closed');
    });
    connection.attach(session);
  }

  /**
   * Stops accepting, closes idle sessions with 421, lets running transfers finish until
   * `drainTimeoutMs`, then closes whatever is left.
   */
  async close(options: { drainTimeoutMs?: number; readinessDelayMs?: number } = {}): Promise<void> {
    const { shutdown } = this.config;
    const drainTimeoutMs = options.drainTimeoutMs ?? shutdown.drainTimeoutMs;
    // The delay only helps when something watches /readyz (the admin listener is on).
    const readinessDelayMs = options.readinessDelayMs ?? (this.config.admin.enabled ? shutdown.readinessDelayMs : 0);
    // 1. Readiness fails at once; the listeners keep accepting for a moment so the load
    //    balancer marks this replica down before anyone is refused.
    this.#draining = true;
    this.metrics.draining.set(1);
    this.#logger.info({ event: 'server.draining', sessions: this.#connections.size, readinessDelayMs, drainTimeoutMs }, 'draining');
    if (readinessDelayMs > 0) await sleep(readinessDelayMs);
    // 2. Stop accepting.
    this.#listenersClosed = true;
    const listenersClosed = Promise.all(
      [this.#listener, this.#implicitListener].map((listener) => (listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : undefined)),
    );
    // 3. Idle sessions get 421 now; a session with a running transfer gets it as soon as
    //    the transfer ends (before any next command), or at the deadline, so its client
    //    reconnects to another replica.
    const deadline = Date.now() + drainTimeoutMs;
    for (const connection of this.#connections) connection.session.drain();
    for (;;) {
      this.metrics.drainingSessions.set(this.#connections.size);
      if (this.#connections.size === 0 || Date.now() >= deadline) break;
      await sleep(DRAIN_POLL_MS);
    }
    for (const connection of this.#connections) {
      this.#logger.warn({ event: 'session.drain-deadline', user: connection.session.userName }, 'drain deadline reached; closing a session with a running transfer');
      connection.closeWith(ReplyCode.ServiceNotAvailable, 'Server shutting down, closing control connection.');
      connection.socket.destroy();
    }
    this.metrics.drainingSessions.set(0);
    await listenersClosed;
    await this.#auth.close();
    this.#certificates?.close();
    await this.#admin?.close();
    await this.#xferlog?.close();
    this.#logger.info({ event: 'server.closed' }, 'closed');
  }
}
