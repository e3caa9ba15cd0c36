/**
 * @module data/data-connector
 * The data-channel manager: passive leases (one listener per PASV/EPSV, bound atomically
 * from the pool, accepting exactly one connection from the allowed peer within a timeout)
 * and active connections (PORT/EPRT). The only module, with net/, that opens sockets.
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
import { acceptProxyHeader, type ProxyMode } from '../net/proxy-protocol.js';
import type { PassiveAddressResolver } from './passive-address.js';
import type { PassivePortPool } from './passive-port-pool.js';

export interface DataConnectorOptions {
  readonly pool: PassivePortPool;
  /** Chooses the address (and port offset) announced in PASV/EPSV replies. */
  readonly resolver: PassiveAddressResolver;
  readonly acceptTimeoutMs: number;
  readonly requireSameAddress: boolean;
  readonly connectTimeoutMs: number;
  /** PROXY protocol on passive data connections (from the balancer in front of them). */
  readonly proxy: { readonly mode: ProxyMode; readonly trusted: CidrList; readonly timeoutMs: number };
  readonly onProxyError?: (reason: string) => void;
  readonly logger: Logger;
}

/** Socket options every data connection gets: no Nagle delay on the last segment of a file. */
function tune(socket: net.Socket): net.Socket {
  socket.setNoDelay(true);
  return socket;
}

class PassiveListenerLease implements PassiveLease {
  readonly port: number;
  readonly advertisedHost: string;
  readonly #server: net.Server;
  readonly #options: DataConnectorOptions;
  readonly #allowedPeer: string;
  #pending: net.Socket | null = null;
  #waiter: { resolve: (socket: Duplex) => void; reject: (error: Error) => void } | null = null;
  #closed = false;
  #peerGone = false;
  /** Until accept() is called or the client connects; a forgotten PASV must not hold a port. */
  #idleTimer: NodeJS.Timeout;

  constructor(server: net.Server, port: number, advertisedHost: string, allowedPeer: string, options: DataConnectorOptions) {
    this.#server = server;
    this.port = port;
    this.advertisedHost = advertisedHost;
    this.#allowedPeer = allowedPeer;
    this.#options = options;
    this.#idleTimer = setTimeout(() => this.close(), options.acceptTimeoutMs);
    server.on('connection', (socket) => this.#onConnection(socket));
    server.on('error', (error) => options.logger.warn({ event: 'passive.error', port, err: error }, 'passive listener error'));
  }

  #onConnection(socket: net.Socket): void {
    socket.on('error', () => undefined);
    const proxy = this.#options.proxy;
    if (proxy.mode === 'off') {
      this.#onPeer(socket, socket.remoteAddress ?? '');
      return;
    }
    void acceptProxyHeader(socket, proxy).then((outcome) => {
      if (!outcome.ok) {
        this.#options.onProxyError?.(outcome.reason);
        this.#options.logger.warn({ event: 'proxy.refused', listener: 'passive', port: this.port, reason: outcome.reason, detail: outcome.detail }, 'PROXY header refused on a data connection');
        socket.destroy();
        return;
      }
      // The anti-hijack check below compares the real client address, from the header.
      this.#onPeer(socket, outcome.remoteAddress);
    });
  }

  #onPeer(socket: net.Socket, remoteAddress: string): void {
    const peer = normalizeAddress(remoteAddress);
    if (this.#pending || this.#closed) {
      socket.destroy();
      return;
    }
    if (this.#options.requireSameAddress && peer !== this.#allowedPeer) {
      // Another host raced for the port (data-connection hijacking): refuse it and keep
      // waiting for the real client.
      this.#options.logger.warn(
        { event: 'passive.foreign-peer', port: this.port, peer, expected: this.#allowedPeer },
        'data connection from a foreign address refused',
      );
      socket.destroy();
      return;
    }
    tune(socket);
    clearTimeout(this.#idleTimer);
    // Nothing else may connect: the port returns to the pool as soon as we have our peer.
    this.#server.close();
    if (this.#waiter) {
      this.#waiter.resolve(socket);
      this.#waiter = null;
    } else {
      // The client connected before RETR/STOR (the usual order): hold the socket, and
      // catch an early reset so it does not become an unhandled error.
      this.#pending = socket;
      socket.on('error', () => undefined);
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
    if (this.#server.listening) this.#server.close();
    this.#pending?.destroy();
    this.#pending = null;
    this.#waiter?.reject(new DataChannelError('ABORTED', 'passive port closed'));
  }
}

export class NetDataConnector implements DataConnector {
  readonly #options: DataConnectorOptions;

  constructor(options: DataConnectorOptions) {
    this.#options = options;
  }

  async listenPassive(request: PassiveRequest): Promise<PassiveLease> {
    const local = normalizeAddress(request.controlLocalAddress);
    // With PROXY on, nothing is read before the header has been looked for.
    const pauseOnConnect = this.#options.proxy.mode !== 'off';
    const bound = await this.#options.pool.bind(local, () => net.createServer({ pauseOnConnect }));
    if (!bound) throw new DataChannelError('PASSIVE_EXHAUSTED', 'passive port range exhausted');
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
      bound.server.close();
      throw new DataChannelError('ADDRESS_UNRESOLVED', 'cannot determine the passive address to advertise', { cause: error });
    }
    // The client is told the balancer's port when it translates ports (passive.portOffset).
    return new PassiveListenerLease(bound.server, this.#options.resolver.advertisedPort(bound.port), advertised, client, this.#options);
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
