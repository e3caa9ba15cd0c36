/**
 * @module server
 * The facade an embedder and the CLI use: composes the protocol-neutral server runtime
 * (src/runtime/) with the protocol frontends (FTP always; SFTP with sftp.enabled) and owns
 * their lifecycle (start, drain, close). A library: it never calls process.exit or installs
 * signal handlers (the CLI does). Adding a frontend touches this file and its own folder,
 * never the FTP code.
 */
import type { Authenticator } from './auth/types.js';
import type { Config } from './config/schema.js';
import type { Clock } from './core/clock.js';
import type { Logger } from './core/logger.js';
import { FtpFrontend } from './ftp/ftp-frontend.js';
import type { ServerMetrics } from './observability/metrics.js';
import type { ProtocolFrontend } from './runtime/frontend.js';
import { ServerRuntime } from './runtime/server-runtime.js';
import type { Defender } from './security/defender.js';
import type { HostKey } from './sftp/host-keys.js';
import { SftpFrontend } from './sftp/sftp-frontend.js';
import type { StorageProvider } from './storage/types.js';

export interface FtpServerDeps {
  readonly logger: Logger;
  readonly authenticator?: Authenticator;
  readonly storage?: StorageProvider;
  readonly metrics?: ServerMetrics;
  readonly clock?: Clock;
}

export class FtpServer {
  readonly config: Readonly<Config>;
  readonly metrics: ServerMetrics;
  /** Abuse scoring and bans (security/defender.ts); listed and lifted through the admin listener. */
  readonly defender: Defender;
  /** This replica's share of the passive range. */
  readonly passiveSlice: { readonly index: number; readonly min: number; readonly max: number };
  readonly #runtime: ServerRuntime;
  readonly #ftp: FtpFrontend;
  readonly #sftp: SftpFrontend | null;
  readonly #frontends: readonly ProtocolFrontend[];

  constructor(config: Readonly<Config>, deps: FtpServerDeps) {
    this.#runtime = new ServerRuntime(config, deps);
    this.config = config;
    this.metrics = this.#runtime.metrics;
    this.defender = this.#runtime.defender;
    this.#ftp = new FtpFrontend(this.#runtime);
    this.passiveSlice = this.#ftp.passiveSlice;
    this.#sftp = config.sftp.enabled ? new SftpFrontend(this.#runtime) : null;
    this.#frontends = this.#sftp ? [this.#ftp, this.#sftp] : [this.#ftp];
  }

  /** Open sessions, every protocol together. */
  get sessionCount(): number {
    return this.#frontends.reduce((sum, f) => sum + f.liveSessions, 0);
  }

  /** Passive ports with a pending lease. */
  get passivePortsInUse(): number {
    return this.#ftp.passivePortsInUse;
  }

  /** Passive listening sockets bound (leased or kept idle for reuse). */
  get passivePortsBound(): number {
    return this.#ftp.passivePortsBound;
  }

  /** Set when a self-signed certificate is in use (the CLI prints its fingerprint). */
  get selfSigned(): { certFile: string; fingerprint: string } | null {
    return this.#ftp.selfSigned;
  }

  /** The SSH host keys in use (the CLI prints their fingerprints). */
  get hostKeys(): readonly HostKey[] {
    return this.#sftp?.hostKeys ?? [];
  }

  async start(): Promise<void> {
    await this.#runtime.start();
    for (const frontend of this.#frontends) await frontend.start();
    await this.#runtime.startAdmin(this.#frontends);
  }

  address(): { host: string; port: number } {
    return this.#ftp.address();
  }

  /** The implicit FTPS listener's address, when enabled. */
  implicitAddress(): { host: string; port: number } | null {
    return this.#ftp.implicitAddress();
  }

  /** The SFTP listener's address, when enabled. */
  sftpAddress(): { host: string; port: number } | null {
    return this.#sftp?.address() ?? null;
  }

  /** The admin listener's address, when enabled. */
  adminAddress(): { host: string; port: number } | null {
    return this.#runtime.adminAddress();
  }

  /**
   * Stops accepting, closes idle sessions, lets running transfers finish until
   * `drainTimeoutMs`, then closes whatever is left (runtime/drain).
   */
  close(options: { drainTimeoutMs?: number; readinessDelayMs?: number } = {}): Promise<void> {
    return this.#runtime.close(this.#frontends, options);
  }
}
