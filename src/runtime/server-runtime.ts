/**
 * @module runtime/server-runtime
 * The protocol-neutral server runtime every frontend runs on. Owns, from one Config: the
 * authenticator, the storage provider (runtime/storage-adapters), the defender and, with
 * cluster.redis.url, the protection shared by replicas, admission (runtime/admission), the
 * per-user session slots (runtime/user-slots), the log sinks (runtime/log-sinks), the admin
 * listener (runtime/admin-wiring) and the drain (runtime/drain). It knows no protocol: the
 * frontends (src/ftp/, src/sftp/) own their listeners and connections and reach the
 * runtime through this object.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileAuthenticator } from '../auth/file-authenticator.js';
import type { Authenticator } from '../auth/types.js';
import type { SharedProtection } from '../cluster/shared-protection.js';
import type { Config } from '../config/schema.js';
import { CidrList } from '../core/cidr.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { resolveReplicaIndex } from '../core/passive-slices.js';
import { Semaphore } from '../core/semaphore.js';
import type { SessionGuard } from '../core/session-guard.js';
import type { AdminServer } from '../observability/admin-http.js';
import { ServerMetrics } from '../observability/metrics.js';
import type { Defender, DefenderEvent } from '../security/defender.js';
import type { StorageProvider } from '../storage/types.js';
import { startAdmin } from './admin-wiring.js';
import { Admission } from './admission.js';
import { joinCluster } from './cluster-wiring.js';
import { createDefender, sessionGuard } from './defender-wiring.js';
import { drainFrontends } from './drain.js';
import type { ProtocolFrontend } from './frontend.js';
import { LogSinks } from './log-sinks.js';
import { createStorage, storageAdapterName } from './storage-adapters.js';
import { UserSlots } from './user-slots.js';

export interface ServerRuntimeDeps {
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

export class ServerRuntime {
  readonly config: Readonly<Config>;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly clock: Clock;
  readonly auth: Authenticator;
  readonly storage: StorageProvider;
  /** Abuse scoring and bans (security/defender.ts); listed and lifted through the admin listener. */
  readonly defender: Defender;
  readonly admission: Admission;
  /** limits.maxSessionsPerUser, FTP and SFTP sessions together. */
  readonly userSlots: UserSlots;
  readonly sinks: LogSinks;
  /** proxy.trustedCidrs: the balancers allowed to send PROXY headers. */
  readonly trustedProxies: CidrList;
  /** limits.maxConcurrentHashes, shared by every session. */
  readonly hashSlots: Semaphore;
  /** This replica's index among passive.replicas (its passive slice; the audit records' `replica`). */
  readonly replicaIndex: number;
  /** With cluster.redis.url: scores, bans and per-user counts shared by every replica. */
  #shared: SharedProtection | null = null;
  #admin: AdminServer | null = null;
  #defenderSweep: NodeJS.Timeout | null = null;
  #draining = false;
  /** The registered adapter's name, or `embedder` for a provider given by the embedder. */
  readonly #storageAdapter: string;

  constructor(config: Readonly<Config>, deps: ServerRuntimeDeps) {
    this.config = config;
    this.logger = deps.logger;
    this.metrics = deps.metrics ?? new ServerMetrics();
    this.clock = deps.clock ?? SYSTEM_CLOCK;
    this.storage = deps.storage ?? createStorage(config);
    this.#storageAdapter = deps.storage ? 'embedder' : storageAdapterName(config);
    this.auth =
      deps.authenticator ??
      new FileAuthenticator({
        file: config.users.file,
        reloadIntervalMs: config.users.reloadIntervalMs,
        cacheVerifications: config.users.verificationCache,
        anonymous: config.anonymous,
        onReload: (event) => {
          if (event.ok) this.logger.info({ event: 'users.reloaded', users: event.users }, 'users file reloaded');
          else this.logger.error({ event: 'users.reload-failed', err: event.error }, 'users file reload failed; keeping previous users');
        },
      });
    const { passive } = config;
    this.replicaIndex = resolveReplicaIndex({ configured: passive.replicaIndex, hostname: os.hostname(), replicas: passive.replicas });
    this.trustedProxies = new CidrList(config.proxy.trustedCidrs);
    this.hashSlots = new Semaphore(config.limits.maxConcurrentHashes);
    this.defender = createDefender(config, { logger: this.logger, metrics: this.metrics, onBan: (ban) => this.admission.dismissBanned(ban.address) });
    this.admission = new Admission(config, { defender: this.defender, metrics: this.metrics, logger: this.logger, score: (address, event) => this.score(address, event) });
    this.userSlots = new UserSlots(config.limits.maxSessionsPerUser, () => this.#shared);
    this.sinks = new LogSinks(config.log, this.logger);
  }

  /** Loads users, checks storage, joins the cluster, opens the log sinks. Before any frontend starts. */
  async start(): Promise<void> {
    if (this.auth instanceof FileAuthenticator) await this.auth.start();
    await this.storage.ping();
    this.logger.info({ event: 'storage.ready', adapter: this.#storageAdapter, capabilities: this.storage.capabilities }, 'storage ready');
    this.#shared = await joinCluster(this.config, this.defender, { logger: this.logger, metrics: this.metrics });
    this.sinks.open();
    // Expired bans end (and are logged) even when their address never comes back.
    this.#defenderSweep = setInterval(() => this.defender.sweep(), 5000);
    this.#defenderSweep.unref();
  }

  /** The admin listener (admin.enabled), once the frontends are listening. */
  async startAdmin(frontends: readonly ProtocolFrontend[]): Promise<void> {
    if (!this.config.admin.enabled) return;
    this.#admin = await startAdmin(this.config, {
      metrics: this.metrics,
      logger: this.logger,
      frontends,
      storage: this.storage,
      auth: this.auth,
      draining: () => this.#draining,
      bans: this.#shared ?? this.defender,
    });
  }

  adminAddress(): { host: string; port: number } | null {
    return this.#admin?.address() ?? null;
  }

  /** The defender as one session sees it, bound to the session's client address. */
  guard(remote: string): SessionGuard {
    return this.#shared ? this.#shared.guard(remote) : sessionGuard(this.defender, remote);
  }

  /** A hostile event, scored through the shared store when there is one. */
  score(address: string, event: DefenderEvent): void {
    if (this.#shared) this.#shared.record(address, event);
    else this.defender.record(address, event);
  }

  /** A PROXY header refused on one of the listeners: counted, logged, scored. */
  proxyRefused(listener: string, peer: string, reason: string, detail?: string): void {
    this.metrics.proxyErrors.inc({ listener, reason });
    this.logger.warn({ event: 'proxy.refused', listener, peer, reason, ...(detail === undefined ? {} : { detail }) }, 'PROXY header refused');
    this.score(peer, 'proxy-refused');
  }

  /**
   * Drains the frontends (runtime/drain), then closes what the runtime owns. The audit trail
   * is flushed last: every session is gone, so it is complete.
   */
  async close(frontends: readonly ProtocolFrontend[], options: { drainTimeoutMs?: number; readinessDelayMs?: number }): Promise<void> {
    const { shutdown } = this.config;
    this.#draining = true;
    this.metrics.draining.set(1);
    if (this.#defenderSweep) clearInterval(this.#defenderSweep);
    await drainFrontends(
      frontends,
      {
        drainTimeoutMs: options.drainTimeoutMs ?? shutdown.drainTimeoutMs,
        drainIdleMs: shutdown.drainIdleMs,
        // The delay only helps when something watches /readyz (the admin listener is on).
        readinessDelayMs: options.readinessDelayMs ?? (this.config.admin.enabled ? shutdown.readinessDelayMs : 0),
      },
      { metrics: this.metrics, logger: this.logger, stopAdmission: () => this.admission.stopAccepting() },
    );
    await this.auth.close();
    await this.#admin?.close();
    await this.sinks.close();
    await this.#shared?.close();
    this.logger.info({ event: 'server.closed' }, 'closed');
  }
}
