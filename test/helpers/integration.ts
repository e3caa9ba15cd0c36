/**
 * @module test/helpers/integration
 * Shared plumbing for the integration suite: external-client detection, bounded child
 * processes, sha256 of files and buffers, random client-side fixture files, temp directories
 * and small socket helpers. Server-side files are seeded and read through the storage port
 * (test/helpers/storage). Everything here is bounded by a timeout so a broken server fails a test
 * instead of hanging the run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

export const MiB = 1024 * 1024;

/** Awkward names every client must handle: spaces, UTF-8, a double quote, a leading dash. */
export const AWKWARD_NAMES: readonly string[] = ['résumé 2024 "q".txt', '-dash.txt', 'ünïcödé ✓ 名前.bin'];

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
}

/** Runs a program (no shell), killing it (and only it) after `timeoutMs`. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Formats a RunResult for assertion messages. */
export function describeRun(result: RunResult): string {
  return `exit=${String(result.code)} signal=${String(result.signal)} timedOut=${result.timedOut}\n--- stdout ---\n${result.stdout.slice(-4000)}\n--- stderr ---\n${result.stderr.slice(-6000)}`;
}

const availability = new Map<string, string | null>();

/**
 * Null when `command args` runs and exits 0, else the reason it is unavailable (for t.skip).
 * Cached per process.
 */
export function unavailableReason(command: string, args: readonly string[]): string | null {
  const key = [command, ...args].join('\0');
  const cached = availability.get(key);
  if (cached !== undefined) return cached;
  const result = spawnSync(command, args, { timeout: 10_000, stdio: 'ignore' });
  const reason =
    result.error !== undefined
      ? `${command} not available: ${result.error.message}`
      : result.status !== 0
        ? `${command} ${args.join(' ')} exited with ${String(result.status)}`
        : null;
  availability.set(key, reason);
  return reason;
}

export const CURL_MISSING = (): string | null => unavailableReason('curl', ['--version']);
export const LFTP_MISSING = (): string | null => unavailableReason('lftp', ['--version']);

/** Quotes one argument for lftp's command parser. */
export function lftpQuote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The settings every lftp test script starts with: fail on the first error, no prompts, bounded retries and timeouts. */
export const LFTP_SCRIPT_SETTINGS: readonly string[] = [
  'set cmd:fail-exit yes',
  'set cmd:interactive no',
  'set net:max-retries 1',
  'set net:timeout 10',
  'set xfer:clobber on',
  'set cache:enable no',
];

/** lftp settings for FTPS with PROT P on data and listings, the server certificate verified against `caFile`. */
export function lftpTlsSettings(caFile: string): string[] {
  return [
    'set ftp:ssl-force true',
    'set ftp:ssl-protect-data true',
    'set ftp:ssl-protect-list true',
    `set ssl:ca-file ${lftpQuote(caFile)}`,
    'set ssl:verify-certificate true',
  ];
}
export const PYTHON_FTPLIB_MISSING = (): string | null => unavailableReason('python3', ['-c', 'import ftplib']);
export const RCLONE_MISSING = (): string | null => unavailableReason('rclone', ['version']);
export const WGET_MISSING = (): string | null => unavailableReason('wget', ['--version']);

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const stream = createReadStream(file, { highWaterMark: MiB });
    stream.on('data', (chunk) => hash.update(chunk));
    stream.once('error', reject);
    stream.once('end', () => resolve(hash.digest('hex')));
  });
}

/** Writes `size` random bytes to `file` in 1 MiB chunks; returns their sha256. */
export async function writeRandomFile(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'w');
  try {
    const chunk = Buffer.allocUnsafe(Math.min(size, MiB));
    let left = size;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      const part = chunk.subarray(0, n);
      randomFillSync(part);
      hash.update(part);
      await handle.write(part);
      left -= n;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** `size` random bytes. */
export function randomBuffer(size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  randomFillSync(buf);
  return buf;
}

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `kftpd-it-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Writes a tree of files under `dir`: relative path (with "/") to size in bytes (0: an empty
 * file, random bytes otherwise). Returns relative path to sha256.
 */
export async function writeTree(dir: string, files: Readonly<Record<string, number>>): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const [relative, size] of Object.entries(files)) {
    const file = path.join(dir, ...relative.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    sums[relative] = await writeRandomFile(file, size);
  }
  return sums;
}

/** Rejects with a labelled error when `promise` does not settle within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${label}: timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Polls `condition` every 10 ms until it is true or `ms` elapse (then rejects). */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`${label}: condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Connects a TCP socket, optionally from a given local address; bounded by `timeoutMs`. */
export function connectSocket(port: number, host: string, options: { localAddress?: string; timeoutMs?: number } = {}): Promise<net.Socket> {
  return withTimeout(
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ port, host, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    }),
    options.timeoutMs ?? 5000,
    `connect ${host}:${port}`,
  );
}

/** Resolves when the socket has closed (or rejects after `ms`). */
export function waitClosed(socket: net.Socket, ms: number): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return withTimeout(
    new Promise<void>((resolve) => {
      socket.on('error', () => undefined);
      socket.once('close', () => resolve());
      socket.resume();
    }),
    ms,
    'socket close',
  );
}

/**
 * An ftp:// URL for a path relative to the login directory (every segment percent-encoded,
 * a trailing "/" kept so curl lists a directory). IPv6 hosts are bracketed.
 */
export function ftpUrl(host: string, port: number, relativePath: string): string {
  const encoded = relativePath
    .replace(/^\/+/, '')
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
  const h = host.includes(':') ? `[${host}]` : host;
  return `ftp://${h}:${port}/${encoded}`;
}

/** A Writable that keeps everything written to it. */
export function memorySink(): { stream: Writable; data: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { stream, data: () => Buffer.concat(chunks) };
}
