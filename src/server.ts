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
import { computePassiveSlice, resolveReplicaIndex } from './core/passive-slices.js';
import { ControlConnection, type ControlTlsSetup } from './net/control-connection.js';
import { TlsResumptionRegistry } from './tls/resumption-registry.js';
import { acceptProxyHeader } from './transport/proxy-protocol.js';
import { CidrList } from './core/cidr.js';
import { AddressPolicy } from './core/address-policy.js';
import { AdminServer } from './observability/admin-http.js';
import { bansRoute } from './observability/admin-bans.js';
import { AdminToken } from './observability/admin-token.js';
import type { Defender, DefenderEvent } from './security/defender.js';
import { createDefender, sessionGuard } from './security/defender-wiring.js';
import { joinCluster } from './cluster/cluster-wiring.js';
import type { SharedProtection } from './cluster/shared-protection.js';
import { PendingLogins } from './security/pending-logins.js';
import { ServerMetrics } from './observability/metrics.js';
import { XferlogWriter } from './observability/xferlog.js';
import { AuditFileSink, AuditLoggerSink, sessionAuditLog, type AuditSink } from './observability/audit-log.js';
import { Semaphore } from './core/semaphore.js';
import { normalizeAddress } from './protocol/address.js';
import { ReplyCode, formatReply } from './protocol/reply.js';
import type { Clock } from './core/clock.js';
import type { Logger } from './core/logger.js';
import type { TransferLogEntry } from './core/transfer-record.js';
import type { SessionSettings } from './session/context.js';
import { Session } from './session/session.js';
import { LocalStorageProvider } from './storage/local/local-storage.js';
import { CertificateStore } from './tls/certificate-store.js';
import { ensureSelfSignedCertificate } from './tls/self-signed.js';
import type { StorageBackend, StorageProvider } from './storage/types.js';
import type { Principal } from './core/principal.js';
import { UserFiles } from './files/user-files.js';
import { loadHostKeys, type HostKey } from './sftp/host-keys.js';
import { accountTransfer } from './files/transfer-accounting.js';
import { SshFrontend, type SshConnectionHandle, type SshLog } from './sftp/ssh-frontend.js';

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
  #settings: SessionSettings | null = null;
  #draining = false;
  #listenersClosed = false;
  #admin: AdminServer | null = null;
  readonly #trustedProxies: CidrList;
  #xferlog: { write(entry: TransferLogEntry): void; close(): Promise<void> } | null = null;
  #storageReady: { at: number; ok: boolean } = { at: 0, ok: false };
  /** log.audit: the audit trail's sink, opened in start() and flushed in close(). */
  #audit: AuditSink | null = null;
  /** limits.maxConcurrentHashes, shared by every session. */
  readonly #hashSlots: Semaphore;
  /** Logged-in sessions per user name (limits.maxSessionsPerUser). */
  readonly #userSessions = new Map<string, number>();
  /** Abuse scoring and bans (security/defender.ts); listed and lifted through the admin listener. */
  readonly defender: Defender;
  readonly #access: AddressPolicy;
  /** Connections that have not logged in yet, oldest first (slow-loris defence). */
  readonly #pending = new PendingLogins<ControlConnection>();
  /** Connections told to go (421) to make room, still flushing: they no longer count. */
  readonly #evicting = new Set<ControlConnection>();
  #defenderSweep: NodeJS.Timeout | null = null;
  /** With cluster.redis.url: scores, bans and per-user counts shared by every replica. */
  #shared: SharedProtection | null = null;
  /** The SFTP frontend (sftp.enabled) and its connections, counted with the FTP sessions. */
  #sftp: SshFrontend | null = null;
  readonly #sshConnections = new Set<SshConnectionHandle>();
  /** Per-user slot releases of SSH sessions, by session id. */
  readonly #sshSlots = new Map<string, () => void>();
  /** The SSH host keys in use (the CLI prints their fingerprints). */
  hostKeys: readonly HostKey[] = [];
  /** Set when a self-signed certificate is in use (the CLI prints its fingerprint). */
  selfSigned: { certFile: string; fingerprint: string } | null = null;

  constructor(config: Readonly<Config>, deps: FtpServerDeps) {
    this.config = config;
    this.#logger = deps.logger;
    this.metrics = deps.metrics ?? new ServerMetrics();
    this.#clock = deps.clock ?? SYSTEM_CLOCK;
    this.#storage = deps.storage ?? new LocalStorageProvider({ root: config.storage.root, uploadMode: config.storage.uploadMode, fsync: config.storage.fsync });
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
    this.#hashSlots = new Semaphore(config.limits.maxConcurrentHashes);
    this.#access = new AddressPolicy(config.access.allow, config.access.deny);
    this.defender = createDefender(config, { logger: this.#logger, metrics: this.metrics, onBan: (ban) => this.#closeBanned(ban.address) });
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
      onProxyError: (reason, peer) => {
        this.metrics.proxyErrors.inc({ listener: 'passive', reason });
        this.#score(peer, 'proxy-refused');
      },
      onForeignPeer: (peer) => this.#score(peer, 'data-refused'),
      listenerIdleMs: config.passive.listenerIdleMs,
      logger: this.#logger,
    });
    const data = this.#data;
    this.metrics.observePassivePorts(() => data.portsLeased, () => data.portsBound);
  }

  get sessionCount(): number {
    return this.#connections.size;
  }

  /** Passive ports with a pending lease. */
  get passivePortsInUse(): number {
    return this.#data.portsLeased;
  }

  /** Passive listening sockets bound (leased or kept idle for reuse). */
  get passivePortsBound(): number {
    return this.#data.portsBound;
  }

  async start(): Promise<void> {
    if (this.#auth instanceof FileAuthenticator) await this.#auth.start();
    await this.#storage.ping();
    await this.#startTls();
    this.#shared = await joinCluster(this.config, this.defender, { logger: this.#logger, metrics: this.metrics });
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
    // Expired bans end (and are logged) even when their address never comes back.
    this.#defenderSweep = setInterval(() => this.defender.sweep(), 5000);
    this.#defenderSweep.unref();
    const auditTarget = this.config.log.audit;
    if (auditTarget === 'stdout') this.#audit = new AuditLoggerSink(this.#logger);
    else if (auditTarget !== '') {
      this.#audit = new AuditFileSink(auditTarget, (error) => this.#logger.error({ event: 'audit.error', err: error }, 'audit log write failed'));
    }
    this.#listener = await this.#listen(this.config.listen.port, false);
    const { port } = this.address();
    this.#logger.info({ event: 'server.listening', host: this.config.listen.host, port, passiveSlice: this.passiveSlice }, 'kftpd listening');
    if (this.config.admin.enabled) await this.#startAdmin();
    if (this.config.tls.implicit.enabled) {
      this.#implicitListener = await this.#listen(this.config.tls.implicit.port, true);
      this.#logger.info({ event: 'server.listening', host: this.config.listen.host, port: this.implicitAddress()?.port, implicitTls: true }, 'implicit FTPS listening');
    }
    if (this.config.sftp.enabled) await this.#startSftp();
  }

  /** The SFTP listener's address, when enabled. */
  sftpAddress(): { host: string; port: number } | null {
    return this.#sftp?.address() ?? null;
  }

  /** The SSH listener, wired to the same admission, logins, file rules and drain as FTP. */
  async #startSftp(): Promise<void> {
    const { sftp, limits, proxy } = this.config;
    const { keys, generated } = await loadHostKeys(sftp.hostKeyFiles, this.config.stateDir);
    this.hostKeys = keys;
    for (const key of keys) this.#logger.info({ event: 'sftp.host-key', file: key.file, type: key.type, fingerprint: key.fingerprint, generated: generated.includes(key.file) }, 'SSH host key');
    const logger: SshLog = this.#logger;
    const frontend = new SshFrontend(
      {
        host: sftp.host === '' ? this.config.listen.host : sftp.host,
        port: sftp.port,
        hostKeys: keys,
        algorithms: sftp.algorithms,
        proxy: { mode: proxy.sftp, trusted: this.#trustedProxies, timeoutMs: proxy.headerTimeoutMs },
        keepAliveMs: limits.keepAliveMs,
        loginTimeoutMs: limits.loginTimeoutMs,
        idleTimeoutMs: sftp.idleTimeoutMs,
        keepAliveIntervalMs: sftp.keepAliveIntervalMs,
        keepAliveCountMax: sftp.keepAliveCountMax,
        maxFailedLogins: limits.maxFailedLogins,
        maxPacketBytes: sftp.maxPacketBytes,
        maxReadBytes: sftp.maxReadBytes,
        maxOpenHandles: sftp.maxOpenHandles,
        banner: 'kftpd',
      },
      {
        logger,
        admit: (remote) => {
          const refusal = this.#refusal(normalizeAddress(remote));
          if (!refusal) return null;
          this.metrics.sessionsRejected.inc({ reason: refusal.reason });
          if (refusal.refused > 0) this.#logger.warn({ event: 'session.rejected', remote, protocol: 'sftp', reason: refusal.reason }, 'connection refused');
          return refusal.reason;
        },
        opened: (remote, sessionId, connection) => {
          const address = normalizeAddress(remote);
          this.#sshConnections.add(connection);
          this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
          this.metrics.sessions.inc();
          return () => {
            if (!this.#sshConnections.delete(connection)) return;
            this.#sshSlots.get(sessionId)?.();
            this.#sshSlots.delete(sessionId);
            const left = (this.#perAddress.get(address) ?? 1) - 1;
            if (left <= 0) this.#perAddress.delete(address);
            else this.#perAddress.set(address, left);
            this.metrics.sessions.dec();
          };
        },
        loginPorts: (remote, sessionId) => {
          const address = normalizeAddress(remote);
          const audit = this.#sshAudit(address, sessionId);
          return {
            auth: this.#auth,
            storage: this.#storage,
            metrics: this.metrics,
            guard: this.#shared ? this.#shared.guard(address) : sessionGuard(this.defender, address),
            failedLoginDelayMs: limits.failedLoginDelayMs,
            sleep: (ms) => this.#clock.sleep(ms),
            claimSlot: async (user) => {
              const release = await (this.#shared && limits.maxSessionsPerUser > 0 ? this.#shared.claimSession(user, sessionId) : this.#claimUserSession(user));
              if (!release) return false;
              this.#sshSlots.get(sessionId)?.();
              this.#sshSlots.set(sessionId, release);
              return true;
            },
            audit: (user, result, code) => audit?.record({ event: 'login', result, user, tls: true, ...(code ? { code } : {}) }),
          };
        },
        userFiles: (principal, storage, remote, sessionId, log) => this.#sshFiles(principal, storage, normalizeAddress(remote), sessionId, log),
        proxyRefused: (peer, reason) => {
          this.metrics.proxyErrors.inc({ listener: 'sftp', reason });
          this.#logger.warn({ event: 'proxy.refused', listener: 'sftp', peer, reason }, 'PROXY header refused');
          this.#score(peer, 'proxy-refused');
        },
      },
    );
    await frontend.listen();
    this.#sftp = frontend;
    this.#logger.info({ event: 'server.listening', protocol: 'sftp', ...frontend.address() }, 'SFTP listening');
  }

  #sshAudit(remote: string, sessionId: string) {
    return this.#audit ? sessionAuditLog(this.#audit, { session: sessionId, remote, replica: this.passiveSlice.index }, { sha256: false, now: () => this.#clock.now() }) : null;
  }

  #sshFiles(principal: Principal, storage: StorageBackend, remote: string, sessionId: string, log: SshLog): UserFiles {
    const { maxPathBytes, maxPathDepth } = this.config.limits;
    const audit = this.#sshAudit(remote, sessionId);
    const user = { user: principal.name, tls: true } as const;
    return new UserFiles(principal, storage, { maxPathBytes, maxPathDepth }, {
      refused: (event, detail) => log.warn({ event, user: principal.name, ...detail }, event),
      changed: (event, result, detail) => audit?.record({ event, result, ...user, ...detail }),
      // The same accounting as FTP transfers: metric, log record, xferlog line, audit record.
      transferred: (record, code) =>
        accountTransfer(
          {
            metrics: this.metrics,
            log,
            ...(this.#xferlog ? { transferLog: this.#xferlog } : {}),
            audit: (event, result, detail) => audit?.record({ event, result, ...user, ...detail }),
          },
          record,
          { user: principal.name, anonymous: principal.anonymous, remoteAddress: remote, ascii: false },
          { endedAt: this.#clock.now(), ...(code ? { code } : {}) },
        ),
    });
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
      routes: [
        bansRoute({
          bans: this.#shared ?? this.defender,
          token: new AdminToken(this.config.admin.tokenFile),
          onAction: (action, detail) => this.#logger.warn({ event: `admin.${action}`, ...detail }, 'admin /bans request'),
        }),
      ],
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
      registry: new TlsResumptionRegistry({
        material: () => store.current(),
        contextOptions: { minVersion: tlsConfig.minVersion, maxVersion: tlsConfig.maxVersion, ciphers: tlsConfig.ciphers },
      }),
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
        this.#score(socket.remoteAddress ?? '', 'proxy-refused');
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
    const reject = (reason: string, text: string, refused = 1) => {
      this.metrics.sessionsRejected.inc({ reason });
      // A banned client hammering us gets one line per second with the count, not one per try.
      if (refused > 0) this.#logger.warn({ event: 'session.rejected', remote, reason, ...(refused > 1 ? { refused } : {}) }, 'connection refused');
      socket.on('error', () => undefined);
      // An implicit-TLS client cannot read a clear-text reply.
      if (implicit) socket.destroy();
      else socket.end(formatReply(ReplyCode.ServiceNotAvailable, text));
      socket.setTimeout(5000, () => socket.destroy());
    };
    const refusal = this.#refusal(remote);
    if (refusal) return reject(refusal.reason, refusal.text, refusal.refused);
    // Full of connections waiting to log in: the one that has waited longest makes room rather
    // than the newcomer being refused (slow-loris). With access.maxUnauthenticated below
    // limits.maxSessions, waiting connections can never take the slots of logged-in users.
    if (this.#pending.size >= this.config.access.maxUnauthenticated) this.#evictOldestPending();

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
      onLoginChanged: (loggedIn) => (loggedIn ? this.#pending.delete(connection) : this.#pending.add(connection, remote)),
    });
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
      ...(this.#audit
        ? {
            audit: sessionAuditLog(
              this.#audit,
              { session: sessionId, remote, ...(peer.balancer ? { via: normalizeAddress(peer.balancer) } : {}), replica: this.passiveSlice.index },
              { sha256: this.config.log.auditSha256, now: () => this.#clock.now() },
            ),
          }
        : {}),
      hashSlots: this.#hashSlots,
      userSessions: { claim: (user) => (this.#shared && limits.maxSessionsPerUser > 0 ? this.#shared.claimSession(user, sessionId) : this.#claimUserSession(user)) },
      sessionId,
      guard: this.#shared ? this.#shared.guard(remote) : sessionGuard(this.defender, remote),
      settings: this.#sessionSettings(),
    });
    this.#connections.add(connection);
    this.#perAddress.set(remote, fromAddress + 1);
    this.#pending.add(connection, remote);
    this.metrics.sessions.inc();
    logger.info({ event: 'session.open', local: socket.localAddress }, 'session opened');
    const openedAt = Date.now();
    connection.onClosed(() => {
      this.#connections.delete(connection);
      this.#pending.delete(connection);
      this.#evicting.delete(connection);
      const left = (this.#perAddress.get(remote) ?? 1) - 1;
      if (left <= 0) this.#perAddress.delete(remote);
      else this.#perAddress.set(remote, left);
      this.metrics.sessions.dec();
      logger.info({ event: 'session.close', user: session.userName, durationMs: Date.now() - openedAt }, 'session closed');
    });
    connection.attach(session);
  }

  /**
   * The admission rules every listener applies to a new connection's real address: draining,
   * bans, access lists, the session caps (FTP and SFTP sessions count together). Null: admitted.
   */
  #refusal(remote: string): { reason: string; text: string; refused: number } | null {
    const limits = this.config.limits;
    const refuse = (reason: string, text: string, refused = 1) => ({ reason, text, refused });
    if (this.#listenersClosed) return refuse('draining', 'Server shutting down, try again later.');
    // Bans first, at the cost of one Map lookup (none at all while nobody is banned).
    const ban = this.defender.banFor(remote);
    if (ban) return refuse('banned', 'Too many failed attempts from your address, try again later.', this.defender.refusalsToLog(ban));
    if (!this.#access.open && !this.#access.allows(remote)) return refuse('access-denied', 'Access denied.');
    // Connections told to go (evicted, banned) are only flushing their 421: they do not count.
    if (this.#connections.size + this.#sshConnections.size - this.#evicting.size >= limits.maxSessions) return refuse('max-sessions', 'Too many connections, try again later.');
    if ((this.#perAddress.get(remote) ?? 0) >= limits.maxSessionsPerAddress) {
      this.#score(remote, 'too-many-connections');
      return refuse('max-sessions-per-address', 'Too many connections from your address.');
    }
    if (this.#pending.countFor(remote) >= this.config.access.maxUnauthenticatedPerAddress) {
      this.#score(remote, 'too-many-connections');
      return refuse('max-unauthenticated-per-address', 'Too many connections waiting to log in from your address.');
    }
    return null;
  }

  /** Closes the connection that has waited longest to log in, to make room for a new one. */
  #evictOldestPending(): void {
    const oldest = this.#pending.oldest();
    if (!oldest) return;
    this.#pending.delete(oldest);
    this.#evicting.add(oldest);
    this.metrics.sessionsRejected.inc({ reason: 'pre-login-evicted' });
    this.#logger.info({ event: 'session.evicted', remote: oldest.remoteAddress, reason: 'max-unauthenticated' }, 'closed the connection waiting longest to log in, to make room');
    oldest.closeWith(ReplyCode.ServiceNotAvailable, 'Too many connections waiting to log in, closing control connection.');
  }

  /** A new ban also ends the banned address's open sessions (ProFTPD's mod_ban does the same). */
  #closeBanned(key: string): void {
    for (const connection of this.#connections) {
      if (this.#evicting.has(connection) || this.defender.keyOf(connection.remoteAddress) !== key) continue;
      this.#evicting.add(connection);
      this.#pending.delete(connection);
      connection.closeWith(ReplyCode.ServiceNotAvailable, 'Too many failed attempts from your address, closing control connection.');
    }
    for (const connection of this.#sshConnections) {
      if (this.defender.keyOf(normalizeAddress(connection.remote)) === key) connection.destroy();
    }
  }

  /** A hostile event, scored through the shared store when there is one. */
  #score(address: string, event: DefenderEvent): void {
    if (this.#shared) this.#shared.record(address, event);
    else this.defender.record(address, event);
  }

  /** A slot of limits.maxSessionsPerUser for `user`, or null when the user has them all. */
  #claimUserSession(user: string): (() => void) | null {
    const max = this.config.limits.maxSessionsPerUser;
    const count = this.#userSessions.get(user) ?? 0;
    if (max > 0 && count >= max) return null;
    this.#userSessions.set(user, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#userSessions.get(user) ?? 1) - 1;
      if (left <= 0) this.#userSessions.delete(user);
      else this.#userSessions.set(user, left);
    };
  }

  /** The settings every session shares (the config is frozen): one object, not one per session. */
  #sessionSettings(): SessionSettings {
    if (this.#settings) return this.#settings;
    const { limits } = this.config;
    const tlsConfig = this.config.tls;
    this.#settings = {
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
      maxCommandsBeforeLogin: this.config.defender.maxCommandsBeforeLogin,
      replica: { ...this.passiveSlice, replicas: this.config.passive.replicas, portOffset: this.config.passive.portOffset },
      commandsPerSecond: limits.commandsPerSecond,
      commandBurst: limits.commandBurst,
      maxPathBytes: limits.maxPathBytes,
      maxPathDepth: limits.maxPathDepth,
      maxListEntries: limits.maxListEntries,
    };
    return this.#settings;
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
    if (this.#defenderSweep) clearInterval(this.#defenderSweep);
    this.#logger.info({ event: 'server.draining', sessions: this.#connections.size, readinessDelayMs, drainTimeoutMs }, 'draining');
    if (readinessDelayMs > 0) await sleep(readinessDelayMs);
    // 2. Stop accepting.
    this.#listenersClosed = true;
    const listenersClosed = Promise.all(
      [this.#listener, this.#implicitListener].map((listener) => (listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : undefined)).concat(this.#sftp?.closeListener()),
    );
    // 3. Sessions go on while their clients keep them busy and get 421 once idle for
    //    drainIdleMs, so a short session (STOR, RETR, QUIT) finishes here. From half the
    //    drain time on, every session gets 421 as soon as its running command ends, so a
    //    client with an endless queue moves to another replica at a command boundary
    //    instead of losing a transfer at the deadline.
    const started = Date.now();
    const deadline = started + drainTimeoutMs;
    const closeBetweenCommandsAt = started + drainTimeoutMs / 2;
    let betweenCommands = shutdown.drainIdleMs === 0;
    for (const connection of this.#connections) connection.session.drain(shutdown.drainIdleMs);
    // SFTP sessions the same way: running requests are answered, idle sessions are closed.
    for (const connection of this.#sshConnections) connection.drain(shutdown.drainIdleMs);
    for (;;) {
      const open = this.#connections.size + this.#sshConnections.size;
      this.metrics.drainingSessions.set(open);
      if (open === 0 || Date.now() >= deadline) break;
      if (!betweenCommands && Date.now() >= closeBetweenCommandsAt) {
        betweenCommands = true;
        for (const connection of this.#connections) connection.session.drain(0);
        for (const connection of this.#sshConnections) connection.drain(0);
      }
      await sleep(DRAIN_POLL_MS);
    }
    for (const connection of this.#connections) {
      this.#logger.warn({ event: 'session.drain-deadline', user: connection.session.userName }, 'drain deadline reached; closing a session with a running transfer');
      connection.closeWith(ReplyCode.ServiceNotAvailable, 'Server shutting down, closing control connection.');
      connection.socket.destroy();
    }
    for (const connection of this.#sshConnections) connection.destroy();
    this.metrics.drainingSessions.set(0);
    // Passive listeners are kept bound between commands: they go with the last session.
    this.#data.close();
    await listenersClosed;
    await this.#auth.close();
    this.#certificates?.close();
    await this.#admin?.close();
    await this.#xferlog?.close();
    // Every session is gone: the audit trail is complete; flush it before reporting closed.
    await this.#audit?.close();
    await this.#shared?.close();
    this.#logger.info({ event: 'server.closed' }, 'closed');
  }
}
