/**
 * @module data/data-connector
 * The data-channel manager: passive leases (a port bound atomically from the pool, accepting
 * exactly one connection from the allowed peer within a timeout; optionally shared between
 * different client addresses) and active connections (PORT/EPRT). The only module, with net/,
 * that opens sockets.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { normalizeAddress } from '../protocol/address.js';
import {
  DataChannelError,
  type ActiveRequest,
  type DataConnector,
  type Logger,
  type PassiveLease,
  type PassiveRequest,
} from '../session/ports.js';
import type { CidrList } from '../core/cidr.js';
import { acceptProxyHeader, type ProxyMode } from '../transport/proxy-protocol.js';
import type { PassiveAddressResolver } from './passive-address.js';
import type { PassivePortPool } from './passive-port-pool.js';

export interface DataConnectorOptions {
  readonly pool: PassivePortPool;
  /** Chooses the address (and port offset) announced in PASV/EPSV replies. */
  readonly resolver: PassiveAddressResolver;
  readonly acceptTimeoutMs: number;
  readonly requireSameAddress: boolean;
  /** One port may wait for several different client addresses at once (small ranges). */
  readonly shareByClientAddress: boolean;
  readonly connectTimeoutMs: number;
  /** PROXY protocol on passive data connections (from the balancer in front of them). */
  readonly proxy: { readonly mode: ProxyMode; readonly trusted: CidrList; readonly timeoutMs: number };
  /** A PROXY header was refused; `peer` is the direct peer that sent (or failed to send) it. */
  readonly onProxyError?: (reason: string, peer: string) => void;
  /** A data connection from an address other than its session's client was refused (scored by the defender). */
  readonly onForeignPeer?: (peer: string) => void;
  readonly logger: Logger;
}

/** Socket options every data connection gets: no Nagle delay on the last segment of a file. */
function tune(socket: net.Socket): net.Socket {
  socket.setNoDelay(true);
  return socket;
}

/**
 * One bound passive port. Without sharing it serves a single lease; with
 * passive.shareByClientAddress it serves one pending lease per client address at a time, and
 * each accepted connection goes to the lease of the address it comes from (the real one, after
 * the PROXY protocol). The port returns to the pool when its last lease is gone.
 */
class PortListener {
  readonly server: net.Server;
  readonly port: number;
  readonly host: string;
  readonly #leases = new Map<string, PassiveListenerLease>();
  readonly #options: DataConnectorOptions;
  readonly #onEmpty: (listener: PortListener) => void;

  constructor(server: net.Server, port: number, host: string, options: DataConnectorOptions, onEmpty: (listener: PortListener) => void) {
    this.server = server;
    this.port = port;
    this.host = host;
    this.#options = options;
    this.#onEmpty = onEmpty;
    server.on('connection', (socket) => this.#onConnection(socket));
    server.on('error', (error) => options.logger.warn({ event: 'passive.error', port, err: error }, 'passive listener error'));
  }

  get size(): number {
    return this.#leases.size;
  }

  has(client: string): boolean {
    return this.#leases.has(client);
  }

  add(client: string, lease: PassiveListenerLease): void {
    this.#leases.set(client, lease);
  }

  release(client: string, lease: PassiveListenerLease): void {
    if (this.#leases.get(client) !== lease) return;
    this.#leases.delete(client);
    if (this.#leases.size === 0) {
      if (this.server.listening) this.server.close();
      this.#onEmpty(this);
    }
  }

  #onConnection(socket: net.Socket): void {
    socket.on('error', () => undefined);
    const proxy = this.#options.proxy;
    if (proxy.mode === 'off') {
      this.#route(socket, socket.remoteAddress ?? '');
      return;
    }
    void acceptProxyHeader(socket, proxy).then((outcome) => {
      if (!outcome.ok) {
        this.#options.onProxyError?.(outcome.reason, socket.remoteAddress ?? '');
        this.#options.logger.warn({ event: 'proxy.refused', listener: 'passive', port: this.port, reason: outcome.reason, detail: outcome.detail }, 'PROXY header refused on a data connection');
        socket.destroy();
        return;
      }
      // The anti-hijack check compares the real client address, from the header.
      this.#route(socket, outcome.remoteAddress);
    }).catch((error: unknown) => {
      this.#options.logger.error({ event: 'passive.accept-failed', port: this.port, err: error }, 'data connection set-up failed');
      socket.destroy();
    });
  }

  #route(socket: net.Socket, remoteAddress: string): void {
    const peer = normalizeAddress(remoteAddress);
    const lease = this.#options.requireSameAddress ? this.#leases.get(peer) : this.#leases.values().next().value;
    if (!lease) {
      // Another host raced for the port (data-connection hijacking): refuse it and keep
      // waiting for the real client.
      this.#options.logger.warn(
        { event: 'passive.foreign-peer', port: this.port, peer, expected: [...this.#leases.keys()] },
        'data connection from a foreign address refused',
      );
      this.#options.onForeignPeer?.(peer);
      socket.destroy();
      return;
    }
    lease.deliver(socket);
  }
}

class PassiveListenerLease implements PassiveLease {
  readonly port: number;
  readonly advertisedHost: string;
  readonly #listener: PortListener;
  readonly #client: string;
  readonly #options: DataConnectorOptions;
  #pending: net.Socket | null = null;
  #waiter: { resolve: (socket: Duplex) => void; reject: (error: Error) => void } | null = null;
  #closed = false;
  #delivered = false;
  #peerGone = false;
  /** Until accept() is called or the client connects; a forgotten PASV must not hold a port. */
  #idleTimer: NodeJS.Timeout;

  constructor(listener: PortListener, port: number, advertisedHost: string, client: string, options: DataConnectorOptions) {
    this.#listener = listener;
    this.port = port;
    this.advertisedHost = advertisedHost;
    this.#client = client;
    this.#options = options;
    this.#idleTimer = setTimeout(() => this.close(), options.acceptTimeoutMs);
    listener.add(client, this);
  }

  /** The listener routed this client's connection here. */
  deliver(socket: net.Socket): void {
    if (this.#delivered || this.#closed) {
      socket.destroy();
      return;
    }
    this.#delivered = true;
    tune(socket);
    clearTimeout(this.#idleTimer);
    // Nothing else may connect for this lease: the port (or its share) goes back at once.
    this.#listener.release(this.#client, this);
    if (this.#waiter) {
      this.#waiter.resolve(socket);
      this.#waiter = null;
    } else {
      // The client connected before RETR/STOR (the usual order): hold the socket, and
      // catch an early reset so it does not become an unhandled error.
      this.#pending = socket;
      socket.pause();
      // Reset by the client before the transfer command: forget it, so the command gets 425
      // instead of streaming into a dead socket.
      socket.once('close', () => {
        if (this.#pending === socket) this.#pending = null;
        this.#peerGone = true;
      });
    }
  }

  accept(signal: AbortSignal): Promise<Duplex> {
    clearTimeout(this.#idleTimer);
    if (this.#pending) {
      const socket = this.#pending;
      this.#pending = null;
      return Promise.resolve(socket);
    }
    if (this.#peerGone) return Promise.reject(new DataChannelError('CONNECT_FAILED', 'data connection closed by the client before the transfer'));
    if (this.#closed) return Promise.reject(new DataChannelError('ACCEPT_TIMEOUT', 'passive port closed'));
    return new Promise<Duplex>((resolve, reject) => {
      const timer = setTimeout(() => fail(new DataChannelError('ACCEPT_TIMEOUT', 'no data connection within the timeout')), this.#options.acceptTimeoutMs);
      const onAbort = () => fail(new DataChannelError('ABORTED', 'aborted while waiting for the data connection'));
      const fail = (error: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#waiter = null;
        this.close();
        reject(error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiter = {
        resolve: (socket) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(socket);
        },
        reject: fail,
      };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#listener.release(this.#client, this);
    this.#pending?.destroy();
    this.#pending = null;
    this.#waiter?.reject(new DataChannelError('ABORTED', 'passive port closed'));
  }
}

export class NetDataConnector implements DataConnector {
  readonly #options: DataConnectorOptions;
  /** Ports open for sharing (passive.shareByClientAddress), by bind host and port. */
  readonly #shared = new Set<PortListener>();

  constructor(options: DataConnectorOptions) {
    this.#options = options;
  }

  async listenPassive(request: PassiveRequest): Promise<PassiveLease> {
    const local = normalizeAddress(request.controlLocalAddress);
    const client = normalizeAddress(request.controlRemoteAddress);
    const listener = this.#sharedListenerFor(local, client) ?? (await this.#bind(local));
    let advertised: string;
    try {
      advertised = await this.#options.resolver.advertise({
        clientAddress: client,
        controlLocalAddress: local,
        ...(request.destinationAddress ? { proxyDestination: request.destinationAddress } : {}),
        family: request.family,
      });
    } catch (error) {
      if (listener.size === 0) {
        listener.server.close();
        this.#shared.delete(listener);
      }
      throw new DataChannelError('ADDRESS_UNRESOLVED', 'cannot determine the passive address to advertise', { cause: error });
    }
    // The client is told the balancer's port when it translates ports (passive.portOffset).
    return new PassiveListenerLease(listener, this.#options.resolver.advertisedPort(listener.port), advertised, client, this.#options);
  }

  /** With sharing on: an open port where this client has no pending lease yet. */
  #sharedListenerFor(host: string, client: string): PortListener | null {
    if (!this.#options.shareByClientAddress) return null;
    for (const listener of this.#shared) {
      if (listener.host === host && listener.server.listening && !listener.has(client)) return listener;
    }
    return null;
  }

  async #bind(host: string): Promise<PortListener> {
    // With PROXY on, nothing is read before the header has been looked for.
    const pauseOnConnect = this.#options.proxy.mode !== 'off';
    const bound = await this.#options.pool.bind(host, () => net.createServer({ pauseOnConnect }));
    if (!bound) throw new DataChannelError('PASSIVE_EXHAUSTED', 'passive port range exhausted');
    const listener = new PortListener(bound.server, bound.port, host, this.#options, (empty) => this.#shared.delete(empty));
    if (this.#options.shareByClientAddress) this.#shared.add(listener);
    return listener;
  }

  connectActive(request: ActiveRequest, signal: AbortSignal): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({
        host: request.host,
        port: request.port,
        localAddress: normalizeAddress(request.controlLocalAddress),
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
