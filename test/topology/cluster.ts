/**
 * @module test/topology/cluster
 * The moving parts of the topology suite on top of the namespaces of ./netns.ts: HAProxy in
 * TCP mode on the balancer host (control :21 and implicit :990 round-robin with /readyz health
 * checks, one frontend per replica for its passive slice, PROXY v2 towards every replica),
 * three kftpd replicas started from dist/src/cli/main.js with a config file each and one
 * shared storage directory, and curl running on the client host.
 * Every wait is bounded; every process started here is tracked by its own pid and stopped by
 * it.
 */
import { type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/auth/password-hash.js';
import { upsertUserInFile } from '../../src/auth/users-file.js';
import { withTimeout, type RunResult } from '../helpers/integration.js';
import { ADDR, type HostName, type Network } from './netns.js';
import type { TopologyPki } from './pki.js';

export const USER = { name: 'alice', password: 'topology-password-1' } as const;
export const PASSIVE = { portMin: 50000, portMax: 50299, replicas: 3 } as const;
export const SLICE = (PASSIVE.portMax - PASSIVE.portMin + 1) / PASSIVE.replicas;
export const ADMIN_PORT = 9090;
/** The SFTP listener of every replica and the balancer's SFTP virtual. */
export const SFTP_PORT = 22;
/** The bearer token of every replica's /bans endpoints (admin.tokenFile). */
export const ADMIN_TOKEN = 'topology-admin-token-0123456789';
export const REDIS_PORT = 6379;
export const READINESS_DELAY_MS = 1500;
export const DRAIN_TIMEOUT_MS = 20_000;
/** shutdown.drainIdleMs (the default, spelled out because the tests measure against it). */
export const DRAIN_IDLE_MS = 2000;

/** dist/src/cli/main.js, found from this compiled file (dist/test/topology/cluster.js). */
export const KFTPD_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** The replica that owns a passive port (its slice), or -1 outside the range. */
export function replicaOfPort(port: number): number {
  if (port < PASSIVE.portMin || port > PASSIVE.portMax) return -1;
  return Math.floor((port - PASSIVE.portMin) / SLICE);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends a signal to a child we started, by its pid; false when it is already gone. */
function signalChild(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return false;
  try {
    process.kill(child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return withTimeout(new Promise<void>((resolve) => child.once('exit', () => resolve())), ms, `pid ${String(child.pid)} exit`);
}

export interface LogRecord {
  readonly [key: string]: unknown;
  readonly event?: string;
}

export class Replica {
  readonly index: number;
  readonly host: HostName;
  readonly address: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly xferlogFile: string;
  #child: ChildProcess | null = null;
  /** How many times this replica was started (each start appends to the same log file). */
  starts = 0;

  constructor(
    private readonly net: Network,
    index: number,
    dir: string,
  ) {
    this.index = index;
    this.host = `r${index}` as HostName;
    this.address = ADDR.replicas[index] as string;
    this.configFile = path.join(dir, `replica-${index}.json`);
    this.logFile = path.join(dir, `replica-${index}.log`);
    this.xferlogFile = path.join(dir, `replica-${index}.xferlog`);
  }

  get running(): boolean {
    const child = this.#child;
    return child !== null && child.exitCode === null && child.signalCode === null;
  }

  get child(): ChildProcess | null {
    return this.#child;
  }

  async writeConfig(options: { pki: TopologyPki; usersFile: string; storageRoot: string; stateDir: string; tokenFile: string; hostKeyFiles: readonly string[] }): Promise<void> {
    // JSON is YAML: the config loader reads it as is.
    const config = {
      listen: { host: this.address, port: 21 },
      passive: { ...PASSIVE, replicaIndex: this.index, address: ADDR.vip, acceptTimeoutMs: 15_000 },
      proxy: { control: 'required', implicit: 'required', passive: 'required', sftp: 'required', trustedCidrs: [`${ADDR.lbInside}/32`] },
      // SFTP beside FTP; every replica presents the same host keys (one Secret in Kubernetes).
      sftp: { enabled: true, port: SFTP_PORT, hostKeyFiles: [...options.hostKeyFiles] },
      tls: {
        control: 'required',
        data: 'required',
        certFile: options.pki.certFile,
        keyFile: options.pki.keyFile,
        implicit: { enabled: true, port: 990 },
      },
      admin: { enabled: true, host: this.address, port: ADMIN_PORT, tokenFile: options.tokenFile },
      // Defender scores, bans and per-user counts shared by the three replicas.
      cluster: { redis: { url: `redis://${ADDR.redis}:${REDIS_PORT}/0` } },
      shutdown: { readinessDelayMs: READINESS_DELAY_MS, drainTimeoutMs: DRAIN_TIMEOUT_MS, drainIdleMs: DRAIN_IDLE_MS },
      users: { file: options.usersFile },
      storage: { root: options.storageRoot },
      stateDir: path.join(options.stateDir, `replica-${this.index}`),
      limits: { failedLoginDelayMs: 0 },
      log: { level: 'info', xferlog: this.xferlogFile },
      serverName: `kftpd-${this.index}`,
    };
    await writeFile(this.configFile, `${JSON.stringify(config, null, 2)}\n`);
  }

  /** Starts the replica and waits (bounded) until its /readyz answers 200. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.running) throw new Error(`replica ${this.index} is already running`);
    const fd = openSync(this.logFile, 'a');
    try {
      this.#child = this.net.spawn(this.host, process.execPath, [KFTPD_MAIN, 'serve', '--config', this.configFile], ['ignore', fd, fd]);
    } finally {
      closeSync(fd);
    }
    this.#child.on('error', () => undefined);
    this.starts++;
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 400 && Date.now() < deadline; i++) {
      if (!this.running) throw new Error(`replica ${this.index} exited at start:\n${this.logText().slice(-3000)}`);
      if ((await this.readyz()).status === 200) return;
      await sleep(100);
    }
    throw new Error(`replica ${this.index} not ready within ${timeoutMs} ms:\n${this.logText().slice(-3000)}`);
  }

  signal(signal: NodeJS.Signals): boolean {
    return this.#child ? signalChild(this.#child, signal) : false;
  }

  async waitExit(ms: number): Promise<void> {
    if (this.#child) await exited(this.#child, ms);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; waits for the exit. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.#child;
    if (!child) return;
    if (signalChild(child, 'SIGTERM')) {
      try {
        await exited(child, graceMs);
      } catch {
        signalChild(child, 'SIGKILL');
        await exited(child, 5000).catch(() => undefined);
      }
    }
  }

  /** GET /readyz from the balancer host (as its health check does); status 0 when unreachable. */
  async readyz(): Promise<{ status: number; body: string }> {
    return this.admin('/readyz');
  }

  async admin(urlPath: string): Promise<{ status: number; body: string }> {
    const result = await this.net.exec(
      'lb',
      'curl',
      ['-sS', '--max-time', '2', '-o', '-', '-w', '\n%{http_code}', `http://${this.address}:${ADMIN_PORT}${urlPath}`],
      { timeoutMs: 5000 },
    );
    const cut = result.stdout.lastIndexOf('\n');
    const status = Number(result.stdout.slice(cut + 1)) || 0;
    return { status, body: cut >= 0 ? result.stdout.slice(0, cut) : '' };
  }

  logText(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Every JSON log record this replica wrote (all starts). */
  logs(): LogRecord[] {
    const records: LogRecord[] = [];
    for (const line of this.logText().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        records.push(JSON.parse(line) as LogRecord);
      } catch {
        // a line cut by SIGKILL
      }
    }
    return records;
  }

  xferlogLines(): string[] {
    try {
      return readFileSync(this.xferlogFile, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '');
    } catch {
      return [];
    }
  }
}

/** The HAProxy configuration of the balancer host. */
export function haproxyConfig(): string {
  const lines = [
    'global',
    '  maxconn 4000',
    '  log stdout format raw local0 info',
    '',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option tcplog',
    '  option redispatch',
    '  retries 3',
    '  timeout connect 2s',
    '  timeout client 5m',
    '  timeout server 5m',
    '  timeout check 1s',
    '',
  ];
  for (const [name, port] of [
    ['control', 21],
    ['implicit', 990],
    ['sftp', SFTP_PORT],
  ] as const) {
    lines.push(`frontend ${name}`, `  bind ${ADDR.vip}:${port}`, `  default_backend ${name}_replicas`, '');
    lines.push(
      `backend ${name}_replicas`,
      '  balance roundrobin',
      // The replicas' readiness, as a Kubernetes Service would use it: a draining replica gets
      // no new control connections.
      '  option httpchk GET /readyz',
      `  default-server send-proxy-v2 check port ${ADMIN_PORT} inter 250 fall 1 rise 2`,
    );
    ADDR.replicas.forEach((address, index) => lines.push(`  server kftpd${index} ${address}:${port}`));
    lines.push('');
  }
  // One frontend per passive slice, to its replica only (no port: the client's port is kept).
  // No health check here: a draining replica still serves the data connections it announced.
  ADDR.replicas.forEach((address, index) => {
    const first = PASSIVE.portMin + index * SLICE;
    lines.push(`frontend passive${index}`, `  bind ${ADDR.vip}:${first}-${first + SLICE - 1}`, `  default_backend passive${index}_replica`, '');
    lines.push(`backend passive${index}_replica`, `  server kftpd${index} ${address} send-proxy-v2`, '');
  });
  return `${lines.join('\n')}\n`;
}

export class Balancer {
  readonly configFile: string;
  readonly logFile: string;
  #child: ChildProcess | null = null;

  constructor(
    private readonly net: Network,
    dir: string,
  ) {
    this.configFile = path.join(dir, 'haproxy.cfg');
    this.logFile = path.join(dir, 'haproxy.log');
  }

  async start(): Promise<void> {
    await writeFile(this.configFile, haproxyConfig());
    const check = await this.net.exec('lb', 'haproxy', ['-c', '-f', this.configFile], { timeoutMs: 10_000 });
    if (check.code !== 0) throw new Error(`haproxy config invalid:\n${check.stdout}${check.stderr}`);
    const fd = openSync(this.logFile, 'a');
    try {
      this.#child = this.net.spawn('lb', 'haproxy', ['-db', '-f', this.configFile], ['ignore', fd, fd]);
    } finally {
      closeSync(fd);
    }
    this.#child.on('error', () => undefined);
    await sleep(200);
    if (this.#child.exitCode !== null) throw new Error(`haproxy exited:\n${this.logText()}`);
  }

  logText(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    if (signalChild(child, 'SIGTERM')) {
      try {
        await exited(child, 5000);
      } catch {
        signalChild(child, 'SIGKILL');
        await exited(child, 5000).catch(() => undefined);
      }
    }
  }

  killSync(): void {
    if (this.#child) signalChild(this.#child, 'SIGKILL');
  }
}

/** Writes the users file (one read-write user with home "/", who may also log in over SFTP with `publicKey`). */
export async function writeUsersFile(file: string, publicKey: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await upsertUserInFile(file, { name: USER.name, passwordHash: await hashPassword(USER.password, { logN: 10 }), home: '/', publicKeys: [publicKey] });
}

/**
 * OpenSSH's sftp on the client host in batch mode: key login, and the balancer's address
 * checked against `knownHosts` (the replicas' shared host keys) with StrictHostKeyChecking:
 * a replica with another key fails the run ("host key verification failed").
 */
export function sftpArgs(options: { identity: string; knownHosts: string; batch: string; extra?: readonly string[] }): string[] {
  return [
    '-b', options.batch,
    '-P', String(SFTP_PORT),
    '-F', '/dev/null',
    '-i', options.identity,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${options.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'ConnectTimeout=5',
    ...(options.extra ?? []),
    `${USER.name}@${ADDR.vip}`,
  ];
}

/** curl on the client host, explicit FTPS through the balancer, verbose (to see the replies). */
export function curlArgs(caFile: string, extra: readonly string[]): string[] {
  return ['-sS', '-v', '--ssl-reqd', '--cacert', caFile, '-u', `${USER.name}:${USER.password}`, '--connect-timeout', '5', ...extra];
}

export function ftpUrlAt(relativePath: string): string {
  return `ftp://${ADDR.vip}/${relativePath.split('/').map(encodeURIComponent).join('/')}`;
}

/** Passive ports curl was told about (EPSV 229 or PASV 227 replies) in its verbose output. */
export function announcedPorts(result: RunResult): number[] {
  const ports: number[] = [];
  for (const line of result.stderr.split('\n')) {
    const epsv = /^< 229 .*\(\|\|\|(\d+)\|\)/.exec(line);
    if (epsv) ports.push(Number(epsv[1]));
    const pasv = /^< 227 .*\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(line);
    if (pasv) ports.push(Number(pasv[5]) * 256 + Number(pasv[6]));
  }
  return ports;
}

/** FTP reply codes curl received, in order. */
export function replyCodes(result: RunResult): number[] {
  const codes: number[] = [];
  for (const line of result.stderr.split('\n')) {
    const match = /^< (\d{3})[ -]/.exec(line);
    if (match) codes.push(Number(match[1]));
  }
  return codes;
}

export interface PoolResult<T> {
  readonly value?: T;
  readonly error?: unknown;
}

/** Runs `tasks` with at most `limit` at a time. */
export async function pool<T>(limit: number, tasks: readonly (() => Promise<T>)[]): Promise<PoolResult<T>[]> {
  const results: PoolResult<T>[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      const task = tasks[index];
      if (task === undefined) return;
      try {
        results[index] = { value: await task() };
      } catch (error) {
        results[index] = { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** redis-server on its own host: the replicas' shared protection store (no persistence). */
export class RedisHost {
  #child: ChildProcess | null = null;

  constructor(private readonly net: Network) {}

  /** Starts it and waits (bounded) until it answers PING. */
  async start(): Promise<void> {
    this.#child = this.net.spawn('redis', 'redis-server', ['--bind', ADDR.redis, '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], 'ignore');
    this.#child.on('error', () => undefined);
    for (let i = 0; i < 100; i++) {
      const ping = await this.net.exec('redis', 'redis-cli', ['-h', ADDR.redis, '-p', String(REDIS_PORT), 'ping'], { timeoutMs: 5000 });
      if (ping.stdout.trim() === 'PONG') return;
      await sleep(100);
    }
    throw new Error('redis-server did not answer PING within 10 s');
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child && signalChild(child, 'SIGTERM')) await exited(child, 5000).catch(() => signalChild(child, 'SIGKILL'));
  }

  killSync(): void {
    if (this.#child) signalChild(this.#child, 'SIGKILL');
  }
}
