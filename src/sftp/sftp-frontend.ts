/**
 * @module sftp/sftp-frontend
 * The SFTP frontend on the server runtime: loads the host keys, runs the SSH listener
 * (sftp/ssh-frontend) and gives it the runtime's rules: admission of every socket before
 * the SSH handshake (bans, access lists, caps; counted as waiting to log in until its
 * login succeeds), logins through the file service with the defender and the per-user
 * slots FTP uses, the audit and transfer logs, and the SFTP half of the drain.
 */
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type { Principal } from '../core/principal.js';
import { accountTransfer } from '../files/transfer-accounting.js';
import { UserFiles } from '../files/user-files.js';
import { normalizeAddress } from '../protocol/address.js';
import type { AdmittedConnection } from '../runtime/admission.js';
import type { FrontendAddress, ProtocolFrontend } from '../runtime/frontend.js';
import type { ServerRuntime } from '../runtime/server-runtime.js';
import type { StorageBackend } from '../storage/types.js';
import { loadHostKeys, type HostKey } from './host-keys.js';
import { sshCryptoBindingLoaded } from './ssh-crypto-binding.js';
import { SshFrontend, type SshAdmission, type SshConnectionHandle, type SshLog, type SshRuntime } from './ssh-frontend.js';

interface SshConnection {
  readonly socket: net.Socket;
  /** Set once the SSH session has started; before that a drain just closes the socket. */
  handle: SshConnectionHandle | null;
}

export class SftpFrontend implements ProtocolFrontend, SshRuntime {
  readonly name = 'sftp';
  readonly logger: SshLog;
  readonly #runtime: ServerRuntime;
  readonly #connections = new Set<SshConnection>();
  /** Per-user slot releases of logged-in sessions, by session id. */
  readonly #userSlots = new Map<string, () => void>();
  #ssh: SshFrontend | null = null;
  #listenerClosed: Promise<void> = Promise.resolve();
  /** The SSH host keys in use (the CLI prints their fingerprints). */
  hostKeys: readonly HostKey[] = [];

  constructor(runtime: ServerRuntime) {
    this.#runtime = runtime;
    this.logger = runtime.logger;
  }

  get liveSessions(): number {
    return this.#connections.size;
  }

  get listening(): boolean {
    return this.#ssh?.address() != null;
  }

  async start(): Promise<void> {
    const { config, logger, trustedProxies } = this.#runtime;
    const { sftp, limits, proxy } = config;
    const { keys, generated } = await loadHostKeys(sftp.hostKeyFiles, config.stateDir);
    this.hostKeys = keys;
    for (const key of keys) logger.info({ event: 'sftp.host-key', file: key.file, type: key.type, fingerprint: key.fingerprint, generated: generated.includes(key.file) }, 'SSH host key');
    if (!sshCryptoBindingLoaded()) {
      logger.warn(
        { event: 'sftp.crypto-binding-missing' },
        "ssh2's native crypto binding is not built (no C++ toolchain when npm installed it): SFTP runs, at about two thirds of its throughput; reinstall with python3, make and g++ present",
      );
    }
    const ssh = new SshFrontend(
      {
        host: sftp.host === '' ? config.listen.host : sftp.host,
        port: sftp.port,
        hostKeys: keys,
        algorithms: sftp.algorithms,
        proxy: { mode: proxy.sftp, trusted: trustedProxies, timeoutMs: proxy.headerTimeoutMs },
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
      this,
    );
    await ssh.listen();
    this.#ssh = ssh;
    logger.info({ event: 'server.listening', protocol: 'sftp', ...ssh.address() }, 'SFTP listening');
  }

  address(): { host: string; port: number } | null {
    return this.#ssh?.address() ?? null;
  }

  addresses(): readonly FrontendAddress[] {
    const address = this.address();
    return address ? [{ listener: 'sftp', ...address }] : [];
  }

  stopAccepting(): void {
    if (this.#ssh) this.#listenerClosed = this.#ssh.closeListener();
  }

  drain(idleMs: number): void {
    // Running requests are answered, idle sessions are closed.
    for (const connection of this.#connections) {
      if (connection.handle) connection.handle.drain(idleMs);
      else connection.socket.destroy();
    }
  }

  async close(): Promise<void> {
    for (const connection of this.#connections) connection.socket.destroy();
    await this.#listenerClosed;
  }

  // ---- SshRuntime ----

  admit(remote: string, socket: net.Socket): SshAdmission | null {
    if (socket.destroyed) return null;
    const address = normalizeAddress(remote);
    // SSH has no way to say why before its handshake: a dismissed connection is closed.
    const admitted: AdmittedConnection = { remoteAddress: address, dismiss: () => socket.destroy() };
    const result = this.#runtime.admission.admit(admitted, 'sftp');
    if (!result.ok) return null;
    const { slot } = result;
    const sessionId = randomBytes(6).toString('hex');
    const connection: SshConnection = { socket, handle: null };
    this.#connections.add(connection);
    // ssh-frontend's login timer starts with the SSH session, after the client's version
    // line: a socket that never sends one is closed on the same timeout from here.
    const { loginTimeoutMs } = this.#runtime.config.limits;
    const silent = loginTimeoutMs > 0 ? setTimeout(() => {
      if (connection.handle) return;
      this.#runtime.logger.info({ event: 'session.login-timeout', remote: address, protocol: 'sftp' }, 'no SSH version exchange in time');
      socket.destroy();
    }, loginTimeoutMs) : null;
    silent?.unref();
    socket.once('close', () => {
      if (silent) clearTimeout(silent);
      this.#connections.delete(connection);
      this.#userSlots.get(sessionId)?.();
      this.#userSlots.delete(sessionId);
      slot.leave();
    });
    return {
      sessionId,
      opened: (handle) => {
        connection.handle = handle;
      },
      loggedIn: () => slot.loginChanged(true),
    };
  }

  loginPorts(remote: string, sessionId: string): ReturnType<SshRuntime['loginPorts']> {
    const runtime = this.#runtime;
    const address = normalizeAddress(remote);
    const audit = this.#audit(address, sessionId);
    return {
      auth: runtime.auth,
      storage: runtime.storage,
      metrics: runtime.metrics,
      protocol: 'sftp',
      guard: runtime.guard(address),
      failedLoginDelayMs: runtime.config.limits.failedLoginDelayMs,
      sleep: (ms) => runtime.clock.sleep(ms),
      claimSlot: async (user) => {
        const release = await runtime.userSlots.claim(user, sessionId);
        if (!release) return false;
        this.#userSlots.get(sessionId)?.();
        this.#userSlots.set(sessionId, release);
        return true;
      },
      audit: (user, result, code) => audit?.record({ event: 'login', result, user, tls: true, ...(code ? { code } : {}) }),
    };
  }

  userFiles(principal: Principal, storage: StorageBackend, remote: string, sessionId: string, log: SshLog): UserFiles {
    const runtime = this.#runtime;
    const address = normalizeAddress(remote);
    const { maxPathBytes, maxPathDepth } = runtime.config.limits;
    const audit = this.#audit(address, sessionId);
    const user = { user: principal.name, tls: true } as const;
    const transferLog = runtime.sinks.transferLog;
    return new UserFiles(principal, storage, { maxPathBytes, maxPathDepth }, {
      refused: (event, detail) => log.warn({ event, user: principal.name, ...detail }, event),
      changed: (event, result, detail) => audit?.record({ event, result, ...user, ...detail }),
      // The same accounting as FTP transfers: metric, log record, xferlog line, audit record.
      transferred: (record, code) =>
        accountTransfer(
          {
            metrics: runtime.metrics,
            log,
            ...(transferLog ? { transferLog } : {}),
            audit: (event, result, detail) => audit?.record({ event, result, ...user, ...detail }),
          },
          record,
          { user: principal.name, anonymous: principal.anonymous, remoteAddress: address, ascii: false },
          { endedAt: runtime.clock.now(), ...(code ? { code } : {}) },
        ),
    });
  }

  proxyRefused(peer: string, reason: string): void {
    this.#runtime.proxyRefused('sftp', peer, reason);
  }

  #audit(remote: string, sessionId: string) {
    const runtime = this.#runtime;
    return runtime.sinks.sessionAudit({ session: sessionId, protocol: 'sftp', remote, replica: runtime.replicaIndex }, { sha256: false, now: () => runtime.clock.now() });
  }
}
