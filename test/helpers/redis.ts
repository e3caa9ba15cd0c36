/**
 * @module test/helpers/redis
 * Starts a real redis-server (Debian package redis-server; .ci/run installs it) on a free
 * loopback port, without persistence, in its own temporary directory; it can be killed and
 * started again on the same port (an outage, then a store that comes back empty).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { unavailableReason } from './integration.js';

export const REDIS_MISSING = (): string | null => unavailableReason('redis-server', ['--version']);

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** A plain client for looking at keys (closed by stop()). */
  readonly client: Redis;
  /** SIGKILL: the store vanishes at once, as a crashed pod does. */
  kill(): Promise<void>;
  /** Starts again on the same port, empty. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a store that hangs with its connections open. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

export interface TestRedisOptions {
  /** requirepass: clients must AUTH. */
  readonly password?: string;
  /** TLS only (no plain port), server certificate and key (PEM files); clients not asked for one. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
}

async function launch(port: number, dir: string, options: TestRedisOptions): Promise<ChildProcess> {
  const listen = options.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.certFile, '--tls-key-file', options.tls.keyFile, '--tls-ca-cert-file', options.tls.caFile, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const auth = options.password === undefined ? [] : ['--requirepass', options.password];
  const child = spawn('redis-server', [...listen, ...auth, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = options.tls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        socket.write('PING\r\n');
        socket.once('data', (data) => {
          socket.destroy();
          // Without AUTH a password-protected server answers NOAUTH: it is up all the same.
          resolve(/^(\+PONG|-NOAUTH)/.test(data.toString()));
        });
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on ${port}: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function killChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || (child.signalCode !== null && child.signalCode !== 'SIGSTOP')) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = await launch(port, dir, options);
  const url = `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}/0`;
  const client = new Redis(url, {
    maxRetriesPerRequest: 1,
    retryStrategy: () => 200,
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.tls ? { tls: { rejectUnauthorized: false } } : {}),
  });
  client.on('error', () => undefined);
  return {
    port,
    url,
    client,
    async kill() {
      await killChild(child);
      child = null;
    },
    async restart() {
      await killChild(child);
      child = await launch(port, dir, options);
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async stop() {
      client.disconnect();
      await killChild(child);
      child = null;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
