/**
 * @module data/passive-listener
 * One bound passive port and the leases it serves. The listening socket outlives its leases:
 * the data connector keeps it bound across PASV/EPSV commands and hands it to the next lease,
 * so a queue of small files costs no bind/listen/close per file (issue 14). Without sharing a
 * port serves one pending lease at a time; with passive.shareByClientAddress one pending lease
 * per client address, and each accepted connection goes to the lease of the address it comes
 * from (the real one, after the PROXY protocol).
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { normalizeAddress } from '../protocol/address.js';
import { DataChannelError, type Logger, type PassiveLease } from '../session/ports.js';
import type { CidrList } from '../core/cidr.js';
import { acceptProxyHeader, type ProxyMode } from '../transport/proxy-protocol.js';

/** What a passive listener and its leases need from the data connector's options. */
export interface ListenerOptions {
  readonly acceptTimeoutMs: number;
  readonly requireSameAddress: boolean;
  /** PROXY protocol on passive data connections (from the balancer in front of them). */
  readonly proxy: { readonly mode: ProxyMode; readonly trusted: CidrList; readonly timeoutMs: number };
  /** A PROXY header was refused; `peer` is the direct peer that sent (or failed to send) it. */
  readonly onProxyError?: (reason: string, peer: string) => void;
  /** A data connection from an address other than its session's client was refused (scored by the defender). */
  readonly onForeignPeer?: (peer: string) => void;
  readonly logger: Logger;
}

/** Socket options every data connection gets: no Nagle delay on the last segment of a file. */
export function tune(socket: net.Socket): net.Socket {
  socket.setNoDelay(true);
  return socket;
}

export interface ListenerHooks {
  /** The first pending lease arrived on an idle listener. */
  readonly onBusy: (listener: PortListener) => void;
  /** The last pending lease is gone: the listener may serve another one. */
  readonly onIdle: (listener: PortListener) => void;
}

export class PortListener {
  readonly server: net.Server;
  readonly port: number;
  readonly host: string;
  /** When the last lease went (Date.now()); for closing listeners idle too long. */
  idleSince = 0;
  readonly #leases = new Map<string, PassiveListenerLease>();
  readonly #options: ListenerOptions;
  readonly #hooks: ListenerHooks;
  #closed = false;

  constructor(server: net.Server, port: number, host: string, options: ListenerOptions, hooks: ListenerHooks) {
    this.server = server;
    this.port = port;
    this.host = host;
    this.#options = options;
    this.#hooks = hooks;
    server.on('connection', (socket) => this.#onConnection(socket));
    server.on('error', (error) => options.logger.warn({ event: 'passive.error', port, err: error }, 'passive listener error'));
  }

  get size(): number {
    return this.#leases.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  has(client: string): boolean {
    return this.#leases.has(client);
  }

  add(client: string, lease: PassiveListenerLease): void {
    this.#leases.set(client, lease);
    if (this.#leases.size === 1) this.#hooks.onBusy(this);
  }

  release(client: string, lease: PassiveListenerLease): void {
    if (this.#leases.get(client) !== lease) return;
    this.#leases.delete(client);
    if (this.#leases.size === 0) {
      this.idleSince = Date.now();
      this.#hooks.onIdle(this);
    }
  }

  /** Stops listening; pending leases fail (their sessions answer 425). Data connections already handed out go on. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const lease of [...this.#leases.values()]) lease.close();
    if (this.server.listening) this.server.close();
  }

  #onConnection(socket: net.Socket): void {
    socket.on('error', () => undefined);
    if (this.#leases.size === 0) {
      // Nobody is waiting on this port (a late or repeated connection, a scan): what a closed
      // port would have answered before listeners were kept, so it is not scored either.
      socket.destroy();
      return;
    }
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
      if (this.#leases.size === 0) {
        // The lease ended while the PROXY header was read.
        socket.destroy();
        return;
      }
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

export class PassiveListenerLease implements PassiveLease {
  readonly port: number;
  readonly advertisedHost: string;
  readonly #listener: PortListener;
  readonly #client: string;
  readonly #options: ListenerOptions;
  #pending: net.Socket | null = null;
  #waiter: { resolve: (socket: Duplex) => void; reject: (error: Error) => void } | null = null;
  #closed = false;
  #delivered = false;
  #peerGone = false;
  /** Until accept() is called or the client connects; a forgotten PASV must not hold a port. */
  #idleTimer: NodeJS.Timeout;

  constructor(listener: PortListener, port: number, advertisedHost: string, client: string, options: ListenerOptions) {
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
