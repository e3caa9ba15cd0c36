/**
 * @module ftp/ftp-frontend
 * The FTP frontend on the server runtime: the control listeners (explicit FTP/FTPS on
 * listen.port, implicit FTPS on tls.implicit.port), PROXY headers on them, admission of
 * each connection through the runtime (refusals answered 421, or closed on the implicit
 * port), one ControlConnection and Session per admitted connection, the data-channel
 * manager and the FTPS material. Owns the FTP half of the drain: idle sessions get 421.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { NetDataConnector } from '../data/data-connector.js';
import { ControlConnection, type ControlSettings } from '../net/control-connection.js';
import { sweepTickMs, TimeoutSweep } from '../net/timeout-sweep.js';
import { normalizeAddress } from '../protocol/address.js';
import { formatReply, ReplyCode } from '../protocol/reply.js';
import type { FrontendAddress, ProtocolFrontend } from '../runtime/frontend.js';
import type { ServerRuntime } from '../runtime/server-runtime.js';
import type { SessionDeps, SessionSettings } from '../session/context.js';
import { Session } from '../session/session.js';
import { acceptProxyHeader } from '../transport/proxy-protocol.js';
import { AdmittedControl } from './admitted-control.js';
import { startControlTls, type ControlTls } from './control-tls-setup.js';
import { createDataConnector, passiveSliceOf, type PassiveSlice } from './data-wiring.js';
import { ftpSessionSettings } from './session-settings.js';
import { bindLogger } from '../core/bound-logger.js';

/** The SessionDeps fields that are each session's own. */
type OwnDeps = 'control' | 'tls' | 'logger' | 'audit' | 'sessionId' | 'guard';

interface Peer {
  readonly remote: string;
  readonly destination?: string;
  readonly balancer?: string;
}

export class FtpFrontend implements ProtocolFrontend {
  readonly name = 'ftp';
  /** This replica's share of the passive range. */
  readonly passiveSlice: PassiveSlice;
  readonly #runtime: ServerRuntime;
  readonly #data: NetDataConnector;
  readonly #settings: SessionSettings;
  /** Shared by every control connection (set at start, when the TLS material is known). */
  #control: ControlSettings | null = null;
  /**
   * The part of SessionDeps that is the same for every session (set at start, the log sinks
   * being open by then): the prototype of each session's own deps, which hold only what is
   * the session's (control, logger, guard, audit, id) rather than a copy of all (issue 14).
   */
  #sharedDeps: Omit<SessionDeps, OwnDeps> | null = null;
  readonly #sweep: TimeoutSweep;
  /** One 'error' listener for every control socket, not a closure per socket. */
  readonly #onSocketError: (error: Error) => void;
  /** The audit trail's clock, one function for every session. */
  readonly #auditNow: () => Date;
  readonly #connections = new Set<ControlConnection>();
  #listener: net.Server | null = null;
  #implicitListener: net.Server | null = null;
  #listenersClosed: Promise<unknown> = Promise.resolve();
  #tls: ControlTls | null = null;

  constructor(runtime: ServerRuntime) {
    this.#runtime = runtime;
    this.passiveSlice = passiveSliceOf(runtime);
    this.#data = createDataConnector(runtime, this.passiveSlice);
    this.#settings = ftpSessionSettings(runtime.config, this.passiveSlice);
    const { loginTimeoutMs, idleTimeoutMs } = runtime.config.limits;
    this.#sweep = new TimeoutSweep(sweepTickMs([loginTimeoutMs, idleTimeoutMs]));
    this.#auditNow = () => runtime.clock.now();
    this.#onSocketError = (error) => runtime.logger.debug({ event: 'control.error', err: error }, 'control socket error');
  }

  /** Set when a self-signed certificate is in use (the CLI prints its fingerprint). */
  get selfSigned(): { certFile: string; fingerprint: string } | null {
    return this.#tls?.selfSigned ?? null;
  }

  get liveSessions(): number {
    return this.#connections.size;
  }

  get passivePortsInUse(): number {
    return this.#data.portsLeased;
  }

  get passivePortsBound(): number {
    return this.#data.portsBound;
  }

  get listening(): boolean {
    return this.#listener?.listening === true && (!this.#runtime.config.tls.implicit.enabled || this.#implicitListener?.listening === true);
  }

  async start(): Promise<void> {
    const { config, logger } = this.#runtime;
    const tls = await startControlTls(config, logger);
    this.#tls = tls;
    const { metrics } = this.#runtime;
    this.#control = Object.freeze({
      maxLineBytes: config.limits.maxCommandLineBytes,
      timers: Object.freeze({ loginTimeoutMs: config.limits.loginTimeoutMs, idleTimeoutMs: config.limits.idleTimeoutMs }),
      sweep: this.#sweep,
      tls: tls?.setup ?? null,
      onTlsHandshake: (ok: boolean) => metrics.tlsHandshake('control', ok),
    });
    const runtime = this.#runtime;
    const transferLog = runtime.sinks.transferLog;
    this.#sharedDeps = Object.freeze({
      data: this.#data,
      auth: runtime.auth,
      storage: runtime.storage,
      clock: runtime.clock,
      metrics,
      ...(transferLog ? { transferLog } : {}),
      hashSlots: runtime.hashSlots,
      userSessions: runtime.userSlots,
      settings: this.#settings,
    });
    this.#listener = await this.#listen(config.listen.port, false);
    logger.info({ event: 'server.listening', host: config.listen.host, port: this.address().port, passiveSlice: this.passiveSlice }, 'kftpd listening');
    if (config.tls.implicit.enabled) {
      this.#implicitListener = await this.#listen(config.tls.implicit.port, true);
      logger.info({ event: 'server.listening', host: config.listen.host, port: this.implicitAddress()?.port, implicitTls: true }, 'implicit FTPS listening');
    }
  }

  address(): { host: string; port: number } {
    const address = this.#listener?.address();
    if (!address || typeof address === 'string') throw new Error('server is not listening');
    return { host: address.address, port: address.port };
  }

  implicitAddress(): { host: string; port: number } | null {
    const address = this.#implicitListener?.address();
    if (!address || typeof address === 'string') return null;
    return { host: address.address, port: address.port };
  }

  addresses(): readonly FrontendAddress[] {
    const out: FrontendAddress[] = [];
    if (this.#listener?.listening) out.push({ listener: 'control', ...this.address() });
    const implicit = this.implicitAddress();
    if (implicit) out.push({ listener: 'implicit', ...implicit });
    return out;
  }

  stopAccepting(): void {
    const listeners = [this.#listener, this.#implicitListener].filter((l): l is net.Server => l !== null);
    // close() calls back once every connection it accepted has ended: awaited in close().
    this.#listenersClosed = Promise.all(listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))));
  }

  drain(idleMs: number): void {
    for (const connection of this.#connections) connection.session.drain(idleMs);
  }

  async close(): Promise<void> {
    for (const connection of this.#connections) {
      this.#runtime.logger.warn({ event: 'session.drain-deadline', user: connection.session.userName }, 'drain deadline reached; closing a session with a running transfer');
      connection.closeWith(ReplyCode.ServiceNotAvailable, 'Server shutting down, closing control connection.');
      connection.socket.destroy();
    }
    // Passive listeners are kept bound between commands: they go with the last session.
    this.#data.close();
    await this.#listenersClosed;
    this.#tls?.certificates.close();
  }

  async #listen(port: number, implicit: boolean): Promise<net.Server> {
    const { config, logger } = this.#runtime;
    const { keepAliveMs } = config.limits;
    const proxied = (implicit ? config.proxy.implicit : config.proxy.control) !== 'off';
    const listener = net.createServer(
      // TCP keepalive below the balancer's idle timeout keeps a control connection that is
      // silent during a long transfer from being dropped by the balancer. With PROXY on,
      // nothing is read before the header has been looked for.
      { noDelay: true, keepAlive: keepAliveMs > 0, keepAliveInitialDelay: keepAliveMs, pauseOnConnect: proxied },
      (socket) => this.#onConnection(socket, implicit),
    );
    listener.on('error', (error) => logger.error({ event: 'listener.error', err: error }, 'control listener error'));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      // A deep backlog: connection storms must queue, not be refused (vsftpd's 32 is a bottleneck).
      listener.listen({ host: config.listen.host, port, backlog: 1024 }, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    return listener;
  }

  #onConnection(socket: net.Socket, implicit: boolean): void {
    const { config, logger } = this.#runtime;
    socket.on('error', this.#onSocketError);
    const mode = implicit ? config.proxy.implicit : config.proxy.control;
    if (mode === 'off') {
      this.#admit(socket, implicit, { remote: socket.remoteAddress ?? '' });
      return;
    }
    // The balancer's PROXY header carries the real client (and the address it connected to).
    void acceptProxyHeader(socket, { mode, trusted: this.#runtime.trustedProxies, timeoutMs: config.proxy.headerTimeoutMs })
      .then((outcome) => {
        if (!outcome.ok) {
          this.#runtime.proxyRefused(implicit ? 'implicit' : 'control', socket.remoteAddress ?? '', outcome.reason, outcome.detail);
          socket.destroy();
          return;
        }
        const fromHeader = outcome.header?.command === 'PROXY';
        this.#admit(socket, implicit, { remote: outcome.remoteAddress, ...(fromHeader ? { destination: outcome.localAddress, balancer: socket.remoteAddress ?? '' } : {}) });
      })
      .catch((error: unknown) => {
        // Never an unhandled rejection from a hostile peer: drop the connection, keep serving.
        logger.error({ event: 'control.accept-failed', err: error }, 'connection set-up failed');
        socket.destroy();
      });
  }

  /** Admits the connection (runtime admission, on the real client address) and starts a session. */
  #admit(socket: net.Socket, implicit: boolean, peer: Peer): void {
    const runtime = this.#runtime;
    const { config } = runtime;
    const settings = this.#control;
    const sharedDeps = this.#sharedDeps;
    if (!settings || !sharedDeps) throw new Error('FTP frontend not started');
    const remote = normalizeAddress(peer.remote);
    const admitted = new AdmittedControl(remote, this.#connections);
    const admission = runtime.admission.admit(admitted, 'ftp');
    if (!admission.ok) {
      socket.on('error', () => undefined);
      // An implicit-TLS client cannot read a clear-text reply.
      if (implicit) socket.destroy();
      else socket.end(formatReply(ReplyCode.ServiceNotAvailable, admission.text));
      socket.setTimeout(5000, () => socket.destroy());
      return;
    }
    admitted.slot = admission.slot;
    socket.setNoDelay(true);
    const sessionId = randomBytes(6).toString('hex');
    const via = peer.balancer ? { via: normalizeAddress(peer.balancer) } : {};
    const logger = bindLogger(runtime.logger, { session: sessionId, remote, ...via });
    const control = new ControlConnection(socket, settings, {
      remoteAddress: remote,
      ...(peer.destination ? { destinationAddress: peer.destination } : {}),
      logger,
      implicit,
      watcher: admitted,
    });
    admitted.control = control;
    const audit = runtime.sinks.sessionAudit({ session: sessionId, protocol: 'ftp', remote, ...via, replica: runtime.replicaIndex }, { sha256: config.log.auditSha256, now: this.#auditNow });
    const own: Pick<SessionDeps, OwnDeps> = { control, tls: control.tls, logger, ...(audit ? { audit } : {}), sessionId, guard: runtime.guard(remote) };
    const session = new Session(Object.assign(Object.create(sharedDeps) as Omit<SessionDeps, OwnDeps>, own));
    this.#connections.add(control);
    logger.info({ event: 'session.open', local: socket.localAddress }, 'session opened');
    control.attach(session);
  }
}
