/**
 * @module data/data-connector
 * The data-channel manager: passive leases and active connections (PORT/EPRT). The only
 * module, with net/, that opens sockets. Passive listeners are kept bound across PASV/EPSV
 * commands (passive-listener.ts): a lease takes an idle listener of the control connection's
 * local address, oldest idle first (so connections spread over the ports already bound), and
 * only when none is free is a new port bound from the pool. A listener idle for
 * passive.listenerIdleMs is closed, so a burst does not hold its ports (one fd and ~12 KiB of
 * kernel and heap memory each, measured) forever; close() closes every listener.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { normalizeAddress } from '../protocol/address.js';
import {
  DataChannelError,
  type ActiveRequest,
  type DataConnector,
  type HeldUpload,
  type PassiveLease,
  type PassiveRequest,
} from '../session/ports.js';
import type { PassiveAddressResolver } from './passive-address.js';
import { PassiveListenerLease, PortListener, tune, type ListenerHooks, type ListenerOptions } from './passive-listener.js';
import type { PassivePortPool } from './passive-port-pool.js';
import type { NativeReceiver } from './native-receive.js';

export interface DataConnectorOptions extends ListenerOptions {
  readonly pool: PassivePortPool;
  /** Chooses the address (and port offset) announced in PASV/EPSV replies. */
  readonly resolver: PassiveAddressResolver;
  /** One port may wait for several different client addresses at once (small ranges). */
  readonly shareByClientAddress: boolean;
  /** A listener without a lease for this long is closed; 0: at once (a bind per PASV). */
  readonly listenerIdleMs: number;
  readonly connectTimeoutMs: number;
  /** Receives plain binary uploads natively (null: every upload streams through JavaScript). */
  readonly receiver?: NativeReceiver | null;
}

export class NetDataConnector implements DataConnector {
  readonly #options: DataConnectorOptions;
  /** Every bound passive listener. */
  readonly #listeners = new Set<PortListener>();
  /** Listeners without a pending lease, in the order they became idle (oldest first). */
  readonly #idle = new Set<PortListener>();
  #leased = 0;
  #sweep: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #hooks: ListenerHooks = {
    onBusy: () => {
      this.#leased++;
    },
    onIdle: (listener) => {
      this.#leased--;
      if (listener.closed) return;
      if (this.#closed || this.#options.listenerIdleMs === 0) {
        this.#drop(listener);
        return;
      }
      this.#idle.add(listener);
      this.#startSweep();
    },
  };

  constructor(options: DataConnectorOptions) {
    this.#options = options;
  }

  /** Passive ports with at least one pending lease (waiting for a client's data connection). */
  get portsLeased(): number {
    return this.#leased;
  }

  /** Passive listening sockets bound: leased or kept idle for the next PASV/EPSV. */
  get portsBound(): number {
    return this.#listeners.size;
  }

  async listenPassive(request: PassiveRequest): Promise<PassiveLease> {
    const local = normalizeAddress(request.controlLocalAddress);
    const client = normalizeAddress(request.controlRemoteAddress);
    let advertised: string;
    try {
      advertised = await this.#options.resolver.advertise({
        clientAddress: client,
        controlLocalAddress: local,
        ...(request.destinationAddress ? { proxyDestination: request.destinationAddress } : {}),
        family: request.family,
      });
    } catch (error) {
      throw new DataChannelError('ADDRESS_UNRESOLVED', 'cannot determine the passive address to advertise', { cause: error });
    }
    // Taking a listener and adding the lease happen in one tick: no other PASV can take the same share.
    const listener = this.#take(local, client) ?? (await this.#bind(local, client));
    // The client is told the balancer's port when it translates ports (passive.portOffset).
    return new PassiveListenerLease(listener, this.#options.resolver.advertisedPort(listener.port), advertised, client, this.#options);
  }

  /** Closes every passive listener (server shutdown); pending leases fail, later PASV gets 425. */
  close(): void {
    this.#closed = true;
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = null;
    for (const listener of [...this.#listeners]) this.#drop(listener);
  }

  /** A bound listener that can take a lease for `client` on `host`, or null. */
  #take(host: string, client: string): PortListener | null {
    if (this.#options.shareByClientAddress) {
      // Fill ports that already wait for other addresses before waking idle ones.
      for (const listener of this.#listeners) {
        if (listener.size > 0 && listener.host === host && !listener.has(client)) return listener;
      }
    }
    for (const listener of this.#idle) {
      if (listener.host === host) {
        this.#idle.delete(listener);
        return listener;
      }
    }
    return null;
  }

  async #bind(host: string, client: string): Promise<PortListener> {
    if (this.#closed) throw new DataChannelError('PASSIVE_EXHAUSTED', 'server shutting down');
    // With PROXY on, nothing is read before the header has been looked for.
    const pauseOnConnect = this.#options.proxy.mode !== 'off';
    // Half-open: the client's end of an upload does not end our side, so the session can still
    // tell a close from a reset (session/data-transfer, confirmNotReset); it closes the socket itself.
    const bound = await this.#options.pool.bind(host, () => net.createServer({ pauseOnConnect, allowHalfOpen: true }));
    if (!bound) {
      // While this bind searched, another lease may have freed a listener.
      const freed = this.#take(host, client);
      if (freed) return freed;
      throw new DataChannelError('PASSIVE_EXHAUSTED', 'passive port range exhausted');
    }
    if (this.#closed) {
      bound.server.close();
      throw new DataChannelError('PASSIVE_EXHAUSTED', 'server shutting down');
    }
    const listener = new PortListener(bound.server, bound.port, host, this.#options, this.#hooks);
    this.#listeners.add(listener);
    bound.server.once('close', () => this.#drop(listener));
    return listener;
  }

  #drop(listener: PortListener): void {
    this.#idle.delete(listener);
    this.#listeners.delete(listener);
    listener.close();
  }

  /** One timer for all listeners: closes those idle for listenerIdleMs (at most a quarter more). */
  #startSweep(): void {
    if (this.#sweep) return;
    const idleMs = this.#options.listenerIdleMs;
    const every = Math.max(1, Math.ceil(idleMs / 4));
    this.#sweep = setInterval(() => {
      const cutoff = Date.now() - idleMs;
      // #idle is in the order listeners became idle: stop at the first that is still young.
      for (const listener of this.#idle) {
        if (listener.idleSince > cutoff) break;
        this.#drop(listener);
      }
      if (this.#idle.size === 0 && this.#sweep) {
        clearInterval(this.#sweep);
        this.#sweep = null;
      }
    }, every);
    this.#sweep.unref();
  }

  holdUpload(socket: Duplex): HeldUpload | null {
    const held = this.#options.receiver?.hold(socket) ?? null;
    if (!held) return null;
    const logger = this.#options.logger;
    return {
      receive: (target, signal, moved) => {
        const received = held.receive(target, signal, moved);
        if (received) logger.debug({ event: 'data.native-receive', position: target.position }, 'upload received by the native receiver');
        return received;
      },
      release: () => held.release(),
    };
  }

  connectActive(request: ActiveRequest, signal: AbortSignal): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({
        host: request.host,
        port: request.port,
        localAddress: normalizeAddress(request.controlLocalAddress),
        allowHalfOpen: true,
      });
      const timer = setTimeout(() => fail(new DataChannelError('CONNECT_FAILED', 'active connect timed out')), this.#options.connectTimeoutMs);
      const onAbort = () => fail(new DataChannelError('ABORTED', 'aborted while connecting'));
      const fail = (error: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (error) => fail(new DataChannelError('CONNECT_FAILED', 'active connect failed', { cause: error })));
      socket.once('connect', () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        resolve(tune(socket));
      });
    });
  }
}
