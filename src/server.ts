/**
 * @module server
 * Composition root: builds storage, auth, the data-channel manager, metrics and the control
 * listener from one Config, and owns their lifecycle (start, drain, close). A library: it
 * never calls process.exit or installs signal handlers (the CLI does).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileAuthenticator } from './auth/file-authenticator.js';
import type { Authenticator } from './auth/types.js';
import type { Config } from './config/schema.js';
import { NetDataConnector } from './data/data-connector.js';
import { PassivePortPool } from './data/passive-port-pool.js';
import { ControlConnection, SocketControlChannel } from './net/control-connection.js';
import { ServerMetrics } from './observability/metrics.js';
import { normalizeAddress } from './protocol/address.js';
import { ReplyCode, formatReply } from './protocol/reply.js';
import type { Clock, Logger } from './session/ports.js';
import { Session } from './session/session.js';
import { LocalStorageProvider } from './storage/local/local-storage.js';
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
  readonly #logger: Logger;
  readonly #auth: Authenticator;
  readonly #storage: StorageProvider;
  readonly #clock: Clock;
  readonly #pool: PassivePortPool;
  readonly #data: NetDataConnector;
  readonly #connections = new Set<ControlConnection>();
  readonly #perAddress = new Map<string, number>();
  #listener: net.Server | null = null;
  #draining = false;

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
    this.#pool = new PassivePortPool({ min: config.passive.portMin, max: config.passive.portMax });
    this.#data = new NetDataConnector({
      pool: this.#pool,
      advertisedAddress: config.passive.address,
      acceptTimeoutMs: config.passive.acceptTimeoutMs,
      requireSameAddress: config.passive.requireSameAddress,
      connectTimeoutMs: config.active.connectTimeoutMs,
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
    const listener = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, (socket) => this.#onConnection(socket));
    listener.on('error', (error) => this.#logger.error({ event: 'listener.error', err: error }, 'control listener error'));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      // A deep backlog: connection storms must queue, not be refused (vsftpd's 32 is a bottleneck).
      listener.listen({ host: this.config.listen.host, port: this.config.listen.port, backlog: 1024 }, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.#listener = listener;
    const { port } = this.address();
    this.#logger.info({ event: 'server.listening', host: this.config.listen.host, port }, 'kftpd listening');
  }

  address(): { host: string; port: number } {
    const address = this.#listener?.address();
    if (!address || typeof address === 'string') throw new Error('server is not listening');
    return { host: address.address, port: address.port };
  }

  #onConnection(socket: net.Socket): void {
    const remote = normalizeAddress(socket.remoteAddress ?? '');
    const limits = this.config.limits;
    const fromAddress = this.#perAddress.get(remote) ?? 0;
    const reject = (reason: string, text: string) => {
      this.metrics.sessionsRejected.inc({ reason });
      this.#logger.warn({ event: 'session.rejected', remote, reason }, 'connection refused');
      socket.on('error', () => undefined);
      socket.end(formatReply(ReplyCode.ServiceNotAvailable, text));
      socket.setTimeout(5000, () => socket.destroy());
    };
    if (this.#draining) return reject('draining', 'Server shutting down, try again later.');
    if (this.#connections.size >= limits.maxSessions) return reject('max-sessions', 'Too many connections, try again later.');
    if (fromAddress >= limits.maxSessionsPerAddress) return reject('max-sessions-per-address', 'Too many connections from your address.');

    socket.setNoDelay(true);
    const sessionId = randomBytes(6).toString('hex');
    const logger = this.#logger.child({ session: sessionId, remote });
    const channel = new SocketControlChannel(socket, logger);
    const session = new Session({
      control: channel,
      data: this.#data,
      auth: this.#auth,
      storage: this.#storage,
      clock: this.#clock,
      logger,
      metrics: this.metrics,
      sessionId,
      settings: {
        serverName: this.config.serverName,
        hostNames: this.config.hostNames,
        activeEnabled: this.config.active.enabled,
        dataAcceptTimeoutMs: this.config.passive.acceptTimeoutMs,
        maxFailedLogins: limits.maxFailedLogins,
        failedLoginDelayMs: limits.failedLoginDelayMs,
      },
    });
    const connection = new ControlConnection(socket, session, channel, {
      maxLineBytes: limits.maxCommandLineBytes,
      timers: { loginTimeoutMs: limits.loginTimeoutMs, idleTimeoutMs: limits.idleTimeoutMs },
      logger,
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
    session.greet();
  }

  /**
   * Stops accepting, closes idle sessions with 421, lets running transfers finish until
   * `drainTimeoutMs`, then closes whatever is left.
   */
  async close(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    const drainTimeoutMs = options.drainTimeoutMs ?? this.config.shutdown.drainTimeoutMs;
    this.#draining = true;
    const listener = this.#listener;
    const listenerClosed = listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : Promise.resolve();
    this.#logger.info({ event: 'server.draining', sessions: this.#connections.size, drainTimeoutMs }, 'draining');
    const deadline = Date.now() + drainTimeoutMs;
    for (;;) {
      for (const connection of this.#connections) {
        if (!connection.session.transferring) connection.closeWith(ReplyCode.ServiceNotAvailable, 'Server shutting down, closing control connection.');
      }
      if (this.#connections.size === 0 || Date.now() >= deadline) break;
      await sleep(DRAIN_POLL_MS);
    }
    for (const connection of this.#connections) {
      connection.closeWith(ReplyCode.ServiceNotAvailable, 'Server shutting down, closing control connection.');
      connection.socket.destroy();
    }
    await listenerClosed;
    await this.#auth.close();
    this.#logger.info({ event: 'server.closed' }, 'closed');
  }
}
