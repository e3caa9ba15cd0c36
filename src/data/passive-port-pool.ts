/**
 * @module data/passive-port-pool
 * Takes passive ports by binding them. A port is taken by a successful listen() and nothing
 * else: there is no "probe, close, then bind" window another process or session could race
 * into (the ftp-srv bug). The listeners it binds are kept by the data connector across
 * PASV/EPSV commands; the pool remembers which ports it holds so a search for a new port never
 * retries one of its own, and it is exhausted when every other port of the range fails to bind.
 */
import net from 'node:net';

export interface PortRange {
  /** 0 with max 0: let the kernel choose (tests, laptops). */
  readonly min: number;
  readonly max: number;
}

export interface BoundPort {
  readonly server: net.Server;
  readonly port: number;
}

function listen(server: net.Server, host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // A small backlog: a port has at most a few pending leases (one per client address).
    server.listen({ host, port, backlog: 8, exclusive: true });
  });
}

export class PassivePortPool {
  readonly #range: PortRange;
  #next: number;
  /** Ports this pool holds bound, by host ("host port"). */
  readonly #held = new Set<string>();

  constructor(range: PortRange) {
    this.#range = range;
    const size = range.max - range.min + 1;
    // Start at a random offset so restarted replicas do not all collide on the first port.
    this.#next = range.min + Math.floor(Math.random() * size);
  }

  /** Listening sockets currently bound by this pool (leased or kept idle). */
  get bound(): number {
    return this.#held.size;
  }

  get size(): number {
    return this.#range.min === 0 ? Number.POSITIVE_INFINITY : this.#range.max - this.#range.min + 1;
  }

  /**
   * Binds a listening server on a free port of the range that this pool does not hold yet, on
   * `host`. Returns null when the whole range is in use. The port is held until the server closes.
   */
  async bind(host: string, createServer: () => net.Server): Promise<BoundPort | null> {
    const { min, max } = this.#range;
    if (min === 0) {
      const server = createServer();
      await listen(server, host, 0);
      return this.#track(server, host);
    }
    const size = max - min + 1;
    for (let attempt = 0; attempt < size; attempt++) {
      const port = this.#next;
      this.#next = port >= max ? min : port + 1;
      if (this.#held.has(`${host} ${port}`)) continue;
      const server = createServer();
      if (await listen(server, host, port)) return this.#track(server, host);
    }
    return null;
  }

  #track(server: net.Server, host: string): BoundPort {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('passive listener has no port');
    const key = `${host} ${address.port}`;
    this.#held.add(key);
    server.once('close', () => this.#held.delete(key));
    return { server, port: address.port };
  }
}
