/**
 * @module observability/admin-http
 * The admin HTTP listener, on its own port: /healthz (the process is alive and its event loop
 * answers), /readyz (every readiness check passes: listeners bound, storage reachable, users
 * loaded, not draining) and /metrics (Prometheus text format), plus operator routes that
 * authenticate themselves (/bans, runtime/admin-bans.ts). Nothing else is served, and
 * no check's internal error text reaches the response (the log has it).
 */
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves true when ready; false or a rejection means not ready. */
  readonly check: () => boolean | Promise<boolean>;
}

/** An extra endpoint tree (e.g. /bans, runtime/admin-bans.ts) that does its own auth. */
export interface AdminRoute {
  /** Serves this path and everything below it ("/bans", "/bans/..."). */
  readonly prefix: string;
  handle(request: http.IncomingMessage, response: http.ServerResponse, path: string): Promise<void>;
}

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: readonly ReadinessCheck[];
  readonly onCheckError?: (name: string, error: unknown) => void;
  readonly routes?: readonly AdminRoute[];
}

/** A check that hangs must not hang the probe: the kubelet's own timeout is usually 1 s. */
const CHECK_TIMEOUT_MS = 800;

async function runCheck(check: ReadinessCheck, onError?: (name: string, error: unknown) => void): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
    });
    return await Promise.race([Promise.resolve(check.check()), timeout]);
  } catch (error) {
    onError?.(check.name, error);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export class AdminServer {
  readonly #options: AdminServerOptions;
  readonly #server: http.Server;

  constructor(options: AdminServerOptions) {
    this.#options = options;
    this.#server = http.createServer((request, response) => {
      this.#handle(request, response).catch(() => {
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    });
    // Probes and scrapes are short; never keep idle admin connections around.
    this.#server.keepAliveTimeout = 1000;
  }

  async start(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: this.#options.host, port: this.#options.port }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return this.address();
  }

  address(): { host: string; port: number } {
    const address = this.#server.address();
    if (!address || typeof address === 'string') throw new Error('admin listener is not listening');
    return { host: address.address, port: address.port };
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const route = this.#options.routes?.find((r) => path === r.prefix || path.startsWith(`${r.prefix}/`));
    if (route) {
      await route.handle(request, response, path);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/healthz':
        send(response, 200, 'ok\n');
        return;
      case '/readyz': {
        const results = await Promise.all(this.#options.readiness.map(async (check) => [check.name, await runCheck(check, this.#options.onCheckError)] as const));
        const ready = results.every(([, ok]) => ok);
        send(response, ready ? 200 : 503, results.map(([name, ok]) => `${ok ? '[+]' : '[-]'} ${name}`).join('\n') + `\n${ready ? 'ready' : 'not ready'}\n`);
        return;
      }
      case '/metrics': {
        const body = await this.#options.registry.metrics();
        response.writeHead(200, { 'content-type': this.#options.registry.contentType });
        response.end(body);
        return;
      }
      default:
        send(response, 404, 'not found\n');
    }
  }
}

function send(response: http.ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(body);
}
