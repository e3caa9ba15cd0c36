/**
 * @module sftp/ssh-frontend
 * The SFTP frontend: an SSH listener (the `ssh2` library for the transport and user
 * authentication) that serves the "sftp" subsystem and nothing else. Admission (bans, access
 * lists, caps), logins (one users file, defender, per-user slots) and the file rules come
 * from the runtime through SshRuntime, so SFTP and FTP share every rule. Shell, exec
 * (including legacy `scp -t`), port forwarding, agent and X11 requests are refused.
 */
import net from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ServerChannel } from 'ssh2';
import type { Principal } from '../core/principal.js';
import { logIn, type LoginPorts } from '../files/login-service.js';
import type { UserFiles } from '../files/user-files.js';
import { acceptProxyHeader, type ProxyOptions } from '../transport/proxy-protocol.js';
import type { StorageBackend } from '../storage/types.js';
import { SftpChannel, type SubsystemChannel } from './sftp-channel.js';
import { SftpSession } from './sftp-session.js';
import type { HostKey } from './host-keys.js';
import { bindLogger } from '../core/bound-logger.js';

export interface SshLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): SshLog;
}

/** What the frontend needs from the server runtime (sftp/sftp-frontend.ts implements it). */
export interface SshRuntime {
  readonly logger: SshLog;
  /**
   * Admission of a new socket's real client address, before the SSH handshake: null when
   * refused (the runtime counts and logs it), else the connection's place, which counts as
   * waiting to log in until `loggedIn` (access.maxUnauthenticated) and is freed on close.
   */
  admit(remote: string, socket: net.Socket): SshAdmission | null;
  loginPorts(remote: string, sessionId: string, log: SshLog): Omit<LoginPorts, 'log'>;
  userFiles(principal: Principal, storage: StorageBackend, remote: string, sessionId: string, log: SshLog): UserFiles;
  /** A PROXY header refused (metrics, defender). */
  proxyRefused(peer: string, reason: string): void;
}

/** An admitted SSH connection's place in the runtime. */
export interface SshAdmission {
  readonly sessionId: string;
  /** The SSH session behind the socket has started (its version exchange is done): the drain goes through it. */
  opened(connection: SshConnectionHandle): void;
  /** The user logged in: the connection no longer counts as waiting to log in. */
  loggedIn(): void;
}

export interface SshFrontendSettings {
  readonly host: string;
  readonly port: number;
  readonly hostKeys: readonly HostKey[];
  readonly algorithms: { readonly kex: readonly string[]; readonly cipher: readonly string[]; readonly hmac: readonly string[] };
  readonly proxy: ProxyOptions;
  /** TCP keepalive (limits.keepAliveMs, as FTP's control connections). */
  readonly keepAliveMs: number;
  readonly loginTimeoutMs: number;
  /** A logged-in connection without an SFTP channel, or with an idle one, is closed after this (0: never). */
  readonly idleTimeoutMs: number;
  /** SSH keepalive (keepalive@openssh.com) after this much client silence; 0: none. */
  readonly keepAliveIntervalMs: number;
  /** Unanswered SSH keepalives before the connection is closed. */
  readonly keepAliveCountMax: number;
  readonly maxFailedLogins: number;
  readonly maxPacketBytes: number;
  readonly maxReadBytes: number;
  readonly maxOpenHandles: number;
  readonly banner: string;
}

/** One SSH connection as the runtime sees it, for the drain. */
export interface SshConnectionHandle {
  /** The real client address (after PROXY). */
  readonly remote: string;
  readonly busy: boolean;
  drain(idleMs: number): void;
  destroy(): void;
}

export class SshFrontend {
  readonly #settings: SshFrontendSettings;
  readonly #runtime: SshRuntime;
  readonly #ssh: ssh2.Server;
  readonly #peers = new WeakMap<net.Socket, { remote: string; via?: string; admission: SshAdmission }>();
  /**
   * Admitted sockets whose SSH session has not started, by their TCP peer ("address|port"):
   * ssh2's 'connection' event names the peer, not the socket, and a peer's address and port
   * are unique among one listener's live connections.
   */
  readonly #unclaimed = new Map<string, net.Socket[]>();
  #listener: net.Server | null = null;

  constructor(settings: SshFrontendSettings, runtime: SshRuntime) {
    this.#settings = settings;
    this.#runtime = runtime;
    this.#ssh = new ssh2.Server(
      {
        hostKeys: settings.hostKeys.map((k) => k.pem),
        algorithms: { kex: [...settings.algorithms.kex], cipher: [...settings.algorithms.cipher], hmac: [...settings.algorithms.hmac], compress: ['none'] } as ssh2.Algorithms,
        ident: settings.banner,
        // OpenSSH's ClientAliveInterval/ClientAliveCountMax: ssh2 pings after this much
        // silence from the client and ends the connection after the count goes unanswered.
        ...(settings.keepAliveIntervalMs > 0 ? { keepaliveInterval: settings.keepAliveIntervalMs, keepaliveCountMax: settings.keepAliveCountMax } : {}),
      },
      (client, info) => this.#onClient(client, info),
    );
  }

  async listen(): Promise<void> {
    const { keepAliveMs, proxy } = this.#settings;
    const listener = net.createServer({ noDelay: true, keepAlive: keepAliveMs > 0, keepAliveInitialDelay: keepAliveMs, pauseOnConnect: proxy.mode !== 'off' }, (socket) => this.#onSocket(socket));
    listener.on('error', (error) => this.#runtime.logger.error({ event: 'sftp.listener-error', err: error }, 'SFTP listener error'));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host: this.#settings.host, port: this.#settings.port, backlog: 1024 }, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.#listener = listener;
  }

  address(): { host: string; port: number } | null {
    const address = this.#listener?.address();
    return address && typeof address !== 'string' ? { host: address.address, port: address.port } : null;
  }

  /** Stops accepting (the drain of running sessions is the runtime's). */
  closeListener(): Promise<void> {
    const listener = this.#listener;
    return listener ? new Promise((resolve) => listener.close(() => resolve())) : Promise.resolve();
  }

  #onSocket(socket: net.Socket): void {
    socket.on('error', () => undefined);
    // ssh2 writes every SSH packet separately: without NoDelay a small reply waits for the
    // peer's delayed ACK (a 16 MiB curl upload: 11 s instead of 0.25 s).
    socket.setNoDelay(true);
    const { proxy } = this.#settings;
    if (proxy.mode === 'off') return this.#admit(socket, socket.remoteAddress ?? '');
    void acceptProxyHeader(socket, proxy)
      .then((outcome) => {
        if (!outcome.ok) {
          this.#runtime.proxyRefused(socket.remoteAddress ?? '', outcome.reason);
          socket.destroy();
          return;
        }
        this.#admit(socket, outcome.remoteAddress, outcome.header?.command === 'PROXY' ? socket.remoteAddress : undefined);
      })
      .catch(() => socket.destroy());
  }

  #admit(socket: net.Socket, remote: string, via?: string): void {
    const admission = this.#runtime.admit(remote, socket);
    if (!admission) {
      // SSH has no pre-banner refusal text: the connection is closed.
      socket.destroy();
      return;
    }
    this.#peers.set(socket, { remote, ...(via ? { via } : {}), admission });
    const key = peerKey(socket.remoteAddress, socket.remotePort);
    this.#unclaimed.set(key, [...(this.#unclaimed.get(key) ?? []), socket]);
    socket.once('close', () => this.#release(key, socket));
    this.#ssh.injectSocket(socket);
  }

  #release(key: string, socket: net.Socket): void {
    const rest = (this.#unclaimed.get(key) ?? []).filter((s) => s !== socket);
    if (rest.length > 0) this.#unclaimed.set(key, rest);
    else this.#unclaimed.delete(key);
  }

  /** The admitted socket behind an SSH session that has just started (the PROXY peer was recorded for it in #admit). */
  #claim(client: Connection, info: { ip?: string; port?: number }): net.Socket | undefined {
    const key = peerKey(info.ip, info.port);
    const candidates = this.#unclaimed.get(key) ?? [];
    // Two live sockets with one peer (a listener on several local addresses): ssh2 1.x's own
    // reference to its socket tells them apart.
    const own = (client as unknown as { _sock?: unknown })._sock;
    const socket = candidates.length > 1 && own instanceof net.Socket ? candidates.find((s) => s === own) : candidates[0];
    if (socket) this.#release(key, socket);
    return socket;
  }

  #onClient(client: Connection, info: { ip: string; port?: number; header: { identRaw: string } }): void {
    const socket = this.#claim(client, info);
    const peer = socket ? this.#peers.get(socket) : undefined;
    if (!socket || !peer) {
      // Not a socket this frontend admitted.
      client.end();
      return;
    }
    const { sessionId } = peer.admission;
    const log = bindLogger(this.#runtime.logger, { session: sessionId, remote: peer.remote, protocol: 'sftp', ...(peer.via ? { via: peer.via } : {}) });
    const channels = new Set<SftpChannel>();
    let closeWhenIdle: number | null = null;
    // Logged in but no SFTP channel (never opened, or closed by the client): closed after
    // idleTimeoutMs, as an idle FTP session is. An open channel has its own idle timer.
    let idleTimer: NodeJS.Timeout | null = null;
    let ending = false;
    const armIdle = (): void => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = null;
      const { idleTimeoutMs } = this.#settings;
      if (idleTimeoutMs <= 0 || channels.size > 0 || ending) return;
      idleTimer = setTimeout(() => {
        log.info({ event: 'session.idle-timeout', idleMs: idleTimeoutMs, channel: false }, 'SSH connection idle without an SFTP channel; closing');
        ending = true;
        client.end();
      }, idleTimeoutMs);
      idleTimer.unref();
    };
    const handle: SshConnectionHandle = {
      remote: peer.remote,
      get busy() {
        return [...channels].some((c) => c.busy);
      },
      drain: (idleMs) => {
        closeWhenIdle = idleMs;
        if (channels.size === 0) client.end();
        for (const c of channels) c.drain(idleMs);
      },
      destroy: () => socket.destroy(),
    };
    peer.admission.opened(handle);
    const openedAt = Date.now();
    log.info({ event: 'session.open', client: info.header.identRaw.slice(0, 120) }, 'SSH session opened');
    let files: UserFiles | null = null;
    let failures = 0;
    const loginTimer = setTimeout(() => {
      log.info({ event: 'session.login-timeout' }, 'no SSH login in time');
      client.end();
    }, this.#settings.loginTimeoutMs);
    loginTimer.unref();
    client.on('error', (error: Error & { level?: string }) => {
      if (error.level === 'client-timeout') log.info({ event: 'session.keepalive-timeout', count: this.#settings.keepAliveCountMax }, 'SSH keepalives unanswered; closing');
      else log.debug({ event: 'ssh.error', err: error }, 'SSH connection error');
    });
    client.on('close', () => {
      ending = true;
      clearTimeout(loginTimer);
      if (idleTimer) clearTimeout(idleTimer);
      log.info({ event: 'session.close', user: files?.principal.name, durationMs: Date.now() - openedAt }, 'SSH session closed');
      files?.release();
    });
    client.on('authentication', (ctx) => {
      void this.#authenticate(ctx, peer.remote, sessionId, log).then(
        (outcome) => {
          if (outcome.files) {
            files = outcome.files;
            clearTimeout(loginTimer);
            peer.admission.loggedIn();
            armIdle();
            return ctx.accept();
          }
          if (outcome.pkOk) return ctx.accept();
          if (outcome.counted && ++failures >= this.#settings.maxFailedLogins) {
            log.warn({ event: 'session.too-many-failures', failures }, 'too many failed SSH logins');
            client.end();
            return;
          }
          ctx.reject(['publickey', 'password']);
        },
        (error: unknown) => {
          log.error({ event: 'ssh.auth-error', err: error }, 'SSH authentication failed with an error');
          ctx.reject(['publickey', 'password']);
        },
      );
    });
    client.on('session', (accept) => {
      const session = accept();
      const refuse = (what: string) => (reject?: () => void) => {
        log.info({ event: 'sftp.refused-request', request: what }, `SSH ${what} request refused (SFTP only)`);
        reject?.();
      };
      session.on('shell', (_accept, reject) => refuse('shell')(reject));
      session.on('exec', (_accept, reject) => refuse('exec')(reject));
      session.on('pty', (_accept, reject) => refuse('pty')(reject));
      session.on('x11', (_accept, reject) => refuse('x11')(reject));
      session.on('auth-agent', (_accept, reject) => refuse('auth-agent')(reject));
      session.on('subsystem', (acceptSubsystem, reject, request) => {
        if (request.name !== 'sftp' || files === null) return refuse(`subsystem ${request.name.slice(0, 40)}`)(reject);
        const channel = acceptSubsystem() as unknown as ServerChannel & SubsystemChannel;
        const sftp = new SftpChannel(channel, new SftpSession(files, this.#settings, (event, detail) => log.warn({ event, ...detail })), {
          maxPacketBytes: this.#settings.maxPacketBytes,
          idleTimeoutMs: this.#settings.idleTimeoutMs,
          socket,
          onProtocolError: (reason) => log.warn({ event: 'sftp.protocol-error', reason }, 'SFTP protocol error; closing'),
          // The channel was idle for its whole timeout: the connection is (nothing else is served on it).
          onIdle: () => {
            if (closeWhenIdle === null) log.info({ event: 'session.idle-timeout', idleMs: this.#settings.idleTimeoutMs, channel: true }, 'SFTP session idle; closing');
            ending = true;
            sftp.close();
            client.end();
          },
          onClosed: () => {
            channels.delete(sftp);
            if (closeWhenIdle !== null && channels.size === 0) client.end();
            else armIdle();
          },
        });
        channels.add(sftp);
        armIdle();
        if (closeWhenIdle !== null) sftp.drain(closeWhenIdle);
      });
    });
    client.on('tcpip', (_accept, reject) => {
      log.info({ event: 'sftp.refused-request', request: 'direct-tcpip' }, 'SSH port forwarding refused (SFTP only)');
      reject();
    });
    client.on('request', (_accept, reject, name) => {
      log.info({ event: 'sftp.refused-request', request: name }, 'SSH global request refused (SFTP only)');
      reject?.();
    });
  }

  async #authenticate(ctx: AuthContext, remote: string, sessionId: string, log: SshLog): Promise<{ files?: UserFiles; pkOk?: boolean; counted?: boolean }> {
    const ports: LoginPorts = { ...this.#runtime.loginPorts(remote, sessionId, log), log };
    const base = { username: ctx.username, remoteAddress: remote, secure: true } as const;
    if (ctx.method === 'password') {
      const outcome = await logIn(ports, { ...base, password: ctx.password });
      return outcome.ok ? { files: this.#runtime.userFiles(outcome.principal, outcome.storage, remote, sessionId, log) } : { counted: outcome.reason === 'failed' };
    }
    if (ctx.method === 'publickey') {
      const key = ctx.key.data;
      if (!ctx.signature || !ctx.blob) {
        // The query phase (RFC 4252 §7): say whether this key would do, without a login.
        const check = await ports.auth.authenticate({ username: ctx.username, password: '', remoteAddress: remote, tls: true, publicKey: key });
        if (check.ok) return { pkOk: true };
        await logIn(ports, { ...base, password: '', refusal: 'bad-key' });
        return { counted: true };
      }
      const parsed = ssh2.utils.parseKey(key);
      const valid = !(parsed instanceof Error) && parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
      const outcome = await logIn(ports, { ...base, password: '', publicKey: key, ...(valid ? {} : { refusal: 'bad-signature' }) });
      return outcome.ok ? { files: this.#runtime.userFiles(outcome.principal, outcome.storage, remote, sessionId, log) } : { counted: outcome.reason === 'failed' };
    }
    // "none" (the client asking which methods exist) is not a failed login.
    return {};
  }
}

function peerKey(address: string | undefined, port: number | undefined): string {
  return `${address ?? ''}|${port ?? 0}`;
}
