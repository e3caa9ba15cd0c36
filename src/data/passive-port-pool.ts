/**
 * @module data/passive-port-pool
 * Leases passive ports by binding them. A port is taken by a successful listen() and nothing
 * else: there is no "probe, close, then bind" window another process or session could race
 * into (the ftp-srv bug). When every port of the range fails to bind, the pool is exhausted.
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
    // A small backlog: one connection is expected per lease.
    server.listen({ host, port, backlog: 8, exclusive: true });
  });
}

export class PassivePortPool {
  readonly #range: PortRange;
  #next: number;
  #inUse = 0;

  constructor(range: PortRange) {
    this.#range = range;
    const size = range.max - range.min + 1;
    // Start at a random offset so restarted replicas do not all collide on the first port.
    this.#next = range.min + Math.floor(Math.random() * size);
  }

  get inUse(): number {
    return this.#inUse;
  }

  get size(): number {
    return this.#range.min === 0 ? Number.POSITIVE_INFINITY : this.#range.max - this.#range.min + 1;
  }

  /**
   * Binds a listening server on the next free port of the range, on `host`.
   * Returns null when the whole range is in use.
   */
  async bind(host: string, createServer: () => net.Server): Promise<BoundPort | null> {
    const { min, max } = this.#range;
    if (min === 0) {
      const server = createServer();
      await listen(server, host, 0);
      return this.#track(server);
    }
    const size = max - min + 1;
    for (let attempt = 0; attempt < size; attempt++) {
      const port = this.#next;
      this.#next = port >= max ? min : port + 1;
      const server = createServer();
      if (await listen(server, host, port)) return this.#track(server);
    }
    return null;
  }

  #track(server: net.Server): BoundPort {
    this.#inUse++;
    let released = false;
    server.once('close', () => {
      if (!released) {
        released = true;
        this.#inUse--;
      }
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('passive listener has no port');
    return { server, port: address.port };
  }
}
