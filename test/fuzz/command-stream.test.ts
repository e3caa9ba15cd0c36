/**
 * @module test/fuzz/command-stream.test
 * Feeds random and mutated control-connection streams to a real kftpd for a bounded time and
 * checks that it survives them: random bytes, valid commands with mutated arguments, input split
 * at random byte boundaries, invalid UTF-8, lines beyond limits.maxCommandLineBytes, Telnet IAC
 * sequences, pipelined bursts, commands during transfers (STAT/ABOR/NOOP/garbage while a RETR or
 * STOR runs), abrupt closes and resets, and garbage instead of a TLS handshake after AUTH TLS.
 *
 * The server runs as `kftpd serve` in a child process (through a small -e wrapper that answers
 * "probe" messages with its heap after a forced GC and its open file descriptors), so a crash, an
 * uncaught exception or an unhandled rejection (logged by `serve` as
 * process.unhandled-rejection) is seen exactly as in production. Checked:
 * - every byte the server sends on a clear-text control connection parses as well-formed replies:
 *   3-digit codes, CRLF-terminated, no bare CR or LF, multi-line replies closed properly, and no
 *   internal error text, stack trace or host path;
 * - the process keeps serving: at the end a fresh client logs in and transfers a file intact;
 * - no leak: once every fuzz session is closed, open file descriptors are back to the baseline
 *   and the heap after GC within a tolerance of it.
 *
 * Replay: the seed is printed (and in every failure message); run again with
 * KFTPD_FUZZ_SEED=<seed>. Each worker's inputs are a pure function of the seed; only their
 * interleaving depends on timing. KFTPD_FUZZ_MS changes the fuzzing time (default 20 s).
 * Fuzz clients connect from 127.0.0.2..127.0.0.254 so the defender may ban them without
 * touching the final legitimate client on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/auth/password-hash.js';
import { upsertUserInFile } from '../../src/auth/users-file.js';
import { RawClient } from '../helpers/raw-client.js';
import { rawDownload, rawUpload } from '../helpers/raw-transfer.js';

const FUZZ_MS = Number(process.env.KFTPD_FUZZ_MS ?? 20_000);
const SEED = Number(process.env.KFTPD_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WORKERS = 6;
const MAX_LINE = 4096;
const SESSION_TIMEOUT_MS = 8000;
const USER = { name: 'fuzz', password: 'fuzz-password-1' };
/** Heap after GC may grow this much (defender tables, TLS contexts, JIT); a leak per session would not fit. */
const HEAP_TOLERANCE_BYTES = 12 * 1024 * 1024;

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Answers "probe" over IPC with heapUsed after GC and the number of open fds, then runs the CLI. */
const WRAPPER = String.raw`
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
process.on('message', (m) => {
  if (m !== 'probe') return;
  globalThis.gc(); globalThis.gc();
  setTimeout(() => {
    globalThis.gc();
    const mem = process.memoryUsage();
    const fds = readdirSync('/proc/self/fd');
    const targets = fds.map((fd) => { try { return readlinkSync('/proc/self/fd/' + fd); } catch { return '?'; } });
    // For sockets: local port and TCP state from /proc/net/tcp{,6} (0A = LISTEN, 01 = ESTABLISHED...).
    const tcp = new Map();
    for (const f of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
      try {
        for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
          const c = line.trim().split(/\s+/);
          if (c.length > 9) tcp.set(c[9], parseInt(c[1].split(':')[1], 16) + '/' + c[3]);
        }
      } catch {}
    }
    const described = targets.map((t) => { const m = /socket:\[(\d+)\]/.exec(t); return m && tcp.has(m[1]) ? t + ' tcp ' + tcp.get(m[1]) : t; });
    process.send({ heapUsed: mem.heapUsed, rss: mem.rss, fds: fds.length - 1, targets: described });
  }, 50);
});
const main = ${JSON.stringify(MAIN)};
process.argv = [process.argv[0], main, ...process.argv.slice(1)];
await import(pathToFileURL(main).href);
`;

// --- seeded randomness --------------------------------------------------------------------------

/** mulberry32: small, fast, good enough for fuzzing, and replayable from one integer. */
function makeRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]) => items[int(items.length)] as T,
    chance: (p: number) => next() < p,
    bytes: (n: number) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}

interface Rng {
  next(): number;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  bytes(n: number): Buffer;
}

const VERBS = [
  'USER', 'PASS', 'ACCT', 'CWD', 'CDUP', 'XCWD', 'XCUP', 'SMNT', 'REIN', 'PORT', 'PASV', 'EPSV', 'EPRT', 'TYPE', 'STRU',
  'MODE', 'RETR', 'STOR', 'STOU', 'APPE', 'ALLO', 'REST', 'RNFR', 'RNTO', 'ABOR', 'DELE', 'RMD', 'XRMD', 'MKD', 'XMKD',
  'PWD', 'XPWD', 'LIST', 'NLST', 'MLSD', 'MLST', 'SITE', 'SYST', 'STAT', 'HELP', 'NOOP', 'FEAT', 'OPTS', 'PBSZ', 'PROT',
  'CCC', 'SIZE', 'MDTM', 'MFMT', 'HOST', 'HASH', 'XCRC', 'XMD5', 'XSHA1', 'XSHA256', 'LANG', 'CLNT', 'MFF', 'AVBL',
  'noop', 'NoOp', 'XYZZY', 'GET', 'POST', 'HELO', 'EHLO',
];

/** Argument atoms: paths, numbers, address forms, format strings, encodings, control bytes. */
const ARGS: readonly (string | Buffer)[] = [
  '', ' ', '  ', 'small.txt', 'big.bin', 'dir', 'dir/inner.txt', '..', '../..', '/../../etc/passwd', '%2e%2e/%2e%2e',
  '..\\..\\windows', '~', '*', '*.txt', '-la', '-R /', 'a'.repeat(300), 'é'.repeat(200), '😀 file', '"quoted"',
  '0', '-1', '1', '99999999999999999999999', '1e400', 'NaN', '0x10', '18446744073709551616',
  '127,0,0,1,0,21', '127,0,0,1,4,1', '10,0,0,1,200,1', '1,2,3,4,5,6,7', '256,0,0,1,0,80', ',,,,,',
  '|1|127.0.0.1|1025|', '|2|::1|1025|', '|3|x|1|', '|||', '|1|127.0.0.1|0|', 'ALL', 'EPSV ALL', '1', '2',
  'I', 'A', 'A N', 'E', 'L 8', 'L 7', 'S', 'B', 'C', 'F', 'R', 'P', 'TLS', 'SSL', 'TLS-C', 'UTF8 ON', 'MLST type;size;',
  'SHA-256', 'MD5', 'CRC32', 'SHA-512', 'small.txt 0 5', 'small.txt 5 0', 'small.txt -5 9999999999',
  '20000101000000 small.txt', '99999999999999 small.txt', '2000 small.txt', 'example.com', '[::1]',
  '%s%s%s%n%x', '${jndi:ldap://x}', '$(id)', '`id`', '; rm -rf /', '<script>', 'anonymous', 'fuzz', USER.password,
  Buffer.from([0xc3, 0x28]), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0x00]), Buffer.from('a\0b'), Buffer.from([0x1b, 0x5b, 0x32, 0x4a]),
];

/** Telnet sequences (RFC 854): IP, DM, option negotiation, escaped 0xff, a lone IAC. */
const TELNET: readonly Buffer[] = [
  Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from([0xff, 0xfb, 0x01]), Buffer.from([0xff, 0xfd, 0x03]),
  Buffer.from([0xff, 0xfe]), Buffer.from([0xff, 0xff]), Buffer.from([0xff]), Buffer.from([0xff, 0xfa, 0x18, 0x01, 0xff, 0xf0]),
  Buffer.from([0xff, 0xf1]),
];

const EOLS: readonly Buffer[] = [Buffer.from('\r\n'), Buffer.from('\r\n'), Buffer.from('\r\n'), Buffer.from('\n'), Buffer.from('\r'), Buffer.from('\r\r\n'), Buffer.from('')];

function mutate(rng: Rng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const n = 1 + rng.int(3);
  let result = out;
  for (let i = 0; i < n && result.length > 0; i++) {
    const at = rng.int(result.length);
    switch (rng.int(4)) {
      case 0:
        result[at] = rng.int(256);
        break;
      case 1:
        result = Buffer.concat([result.subarray(0, at), rng.bytes(1 + rng.int(4)), result.subarray(at)]);
        break;
      case 2:
        result = Buffer.concat([result.subarray(0, at), result.subarray(at + 1)]);
        break;
      default:
        result = Buffer.concat([result.subarray(0, at), rng.pick(TELNET), result.subarray(at)]);
    }
  }
  return result;
}

/** One command line: a verb (sometimes mutated), arguments from the atoms, an end of line. */
function commandLine(rng: Rng): Buffer {
  const verb = rng.pick(VERBS);
  const parts: Buffer[] = [Buffer.from(verb)];
  const nArgs = rng.chance(0.15) ? 0 : 1 + (rng.chance(0.2) ? rng.int(3) : 0);
  for (let i = 0; i < nArgs; i++) {
    parts.push(Buffer.from(' '));
    const atom = rng.pick(ARGS);
    parts.push(typeof atom === 'string' ? Buffer.from(atom) : atom);
  }
  if (rng.chance(0.1)) parts.push(rng.pick(TELNET));
  let line: Buffer = Buffer.concat(parts);
  if (rng.chance(0.2)) line = mutate(rng, line);
  return Buffer.concat([line, rng.pick(EOLS)]);
}

// --- a fuzz control connection -------------------------------------------------------------------

const STACK_OR_INTERNAL = /\n\s+at |\bat .+:\d+:\d+|node:internal|\b(?:Type|Range|Reference|Syntax)Error\b|\bERR_[A-Z_]{3,}|\b(?:ENOENT|EACCES|EPERM|ENOTDIR|EISDIR|ELOOP|ENOSPC|EEXIST|EPIPE|ECONNRESET|EBADF|EMFILE)\b/;

/**
 * A control connection that records every byte the server sends and checks, at the end, that
 * they form well-formed replies (up to a 234 to AUTH, after which the stream is TLS).
 */
class FuzzConnection {
  readonly socket: net.Socket;
  readonly received: Buffer[] = [];
  closedByUs = false;
  readonly closed: Promise<void>;

  constructor(port: number, localAddress: string) {
    this.socket = net.connect({ port, host: '127.0.0.1', localAddress });
    this.socket.on('data', (chunk: Buffer) => this.received.push(chunk));
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  ready(): Promise<boolean> {
    return new Promise((resolve) => {
      this.socket.once('connect', () => resolve(true));
      this.socket.once('error', () => resolve(false));
    });
  }

  text(): string {
    return Buffer.concat(this.received).toString('latin1');
  }

  /** Waits up to `ms` for a reply line matching `re` (in latin1). */
  async waitFor(re: RegExp, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (re.test(this.text())) return true;
      if (this.socket.destroyed) return re.test(this.text());
      await delay(5);
    }
    return false;
  }

  /** Writes `data` split at random byte boundaries, with tiny random pauses between pieces. */
  async writeSplit(rng: Rng, data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length && !this.socket.destroyed) {
      const size = rng.chance(0.3) ? 1 + rng.int(3) : 1 + rng.int(Math.max(1, data.length - offset));
      this.socket.write(data.subarray(offset, offset + size));
      offset += size;
      if (rng.chance(0.2)) await delay(rng.int(3));
    }
  }

  abruptClose(rng: Rng): void {
    this.closedByUs = true;
    if (rng.chance(0.5)) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  async end(): Promise<void> {
    if (!this.socket.destroyed) {
      this.closedByUs = true;
      this.socket.end();
      const timer = setTimeout(() => this.socket.destroy(), 2000);
      await this.closed;
      clearTimeout(timer);
    }
  }

  /** Problems with the reply stream; an empty array when well-formed. */
  problems(hostPaths: readonly string[]): string[] {
    const out: string[] = [];
    const all = this.text();
    // After "234" (AUTH accepted) the bytes are TLS: only what came before is FTP.
    const tlsAt = all.search(/(?:^|\r\n)234 /);
    const clear = tlsAt === -1 ? all : all.slice(0, all.indexOf('\r\n', tlsAt + 1) + 2);
    const lines = clear.split('\r\n');
    const tail = lines.pop() ?? '';
    if (tail !== '' && !this.closedByUs) out.push(`unterminated reply ${JSON.stringify(tail.slice(0, 200))}`);
    let multi: string | null = null;
    for (const line of lines) {
      if (/[\r\n]/.test(line)) out.push(`bare CR/LF in ${JSON.stringify(line.slice(0, 200))}`);
      if (STACK_OR_INTERNAL.test(line)) out.push(`internal error text in ${JSON.stringify(line.slice(0, 200))}`);
      for (const p of hostPaths) if (line.includes(p)) out.push(`host path in ${JSON.stringify(line.slice(0, 200))}`);
      if (multi !== null) {
        if (line.startsWith(`${multi} `)) multi = null;
        continue;
      }
      const m = /^([1-5]\d\d)([ -])/.exec(line);
      if (!m) {
        out.push(`not a reply line: ${JSON.stringify(line.slice(0, 200))}`);
        continue;
      }
      if (m[2] === '-') multi = m[1] as string;
    }
    if (multi !== null && !this.closedByUs) out.push(`multi-line reply ${multi} never closed`);
    return out;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// --- the server child ------------------------------------------------------------------------------

interface Probe {
  readonly heapUsed: number;
  readonly rss: number;
  readonly fds: number;
  /** What each fd is (readlink), sockets with their local port and TCP state: for leak reports. */
  readonly targets: readonly string[];
}

interface ServerChild {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dir: string;
  readonly root: string;
  /** JSON log lines that show a bug (unhandled rejection, fatal). */
  readonly alarms: string[];
  /** Error-level log lines (reported, not failed: some are legitimate "local error" replies). */
  readonly errors: string[];
  readonly stderr: string[];
  opened: number;
  closedSessions: number;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  probe(): Promise<Probe>;
}

async function startServerChild(): Promise<ServerChild> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-fuzz-'));
  const root = path.join(dir, 'data');
  await mkdir(path.join(root, 'dir'), { recursive: true });
  await writeFile(path.join(root, 'small.txt'), 'hello fuzz\n');
  await writeFile(path.join(root, 'dir', 'inner.txt'), 'inner\n');
  await writeFile(path.join(root, 'big.bin'), randomBytes(4 * 1024 * 1024));
  const usersFile = path.join(dir, 'users.yaml');
  await upsertUserInFile(usersFile, { name: USER.name, passwordHash: await hashPassword(USER.password, { logN: 10 }), home: '/' });
  const configFile = path.join(dir, 'kftpd.yaml');
  await writeFile(
    configFile,
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      // Idle passive listeners stay bound for listenerIdleMs: short here, so the fd check below
      // (which waits up to 5 s) still catches a listener that is never closed.
      'passive: { portMin: 0, portMax: 0, acceptTimeoutMs: 1500, listenerIdleMs: 1000 }',
      `limits: { failedLoginDelayMs: 0, loginTimeoutMs: 10000, maxCommandLineBytes: ${MAX_LINE} }`,
      'shutdown: { readinessDelayMs: 0, drainTimeoutMs: 1000 }',
      `users: { file: ${JSON.stringify(usersFile)} }`,
      `storage: { root: ${JSON.stringify(root)} }`,
      `stateDir: ${JSON.stringify(path.join(dir, 'state'))}`,
      'log: { level: info }',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', WRAPPER, 'serve', '-c', configFile], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // Every KFTPD_* variable is configuration to the server (an unknown one fails the start).
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KFTPD_'))), NODE_OPTIONS: '' },
  });
  const state: ServerChild = {
    child,
    port: 0,
    dir,
    root,
    alarms: [],
    errors: [],
    stderr: [],
    opened: 0,
    closedSessions: 0,
    exit: null,
    probe: () =>
      new Promise<Probe>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no probe answer within 10 s')), 10_000);
        child.once('message', (m) => {
          clearTimeout(timer);
          resolve(m as Probe);
        });
        child.send('probe');
      }),
  };
  let portResolve: (port: number) => void = () => undefined;
  const portPromise = new Promise<number>((resolve) => (portResolve = resolve));
  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        state.alarms.push(`non-JSON stdout line: ${line.slice(0, 300)}`);
        continue;
      }
      const event = entry.event;
      if (event === 'server.listening' && typeof entry.port === 'number' && entry.implicitTls === undefined) portResolve(entry.port);
      if (event === 'session.open') state.opened++;
      if (event === 'session.close') state.closedSessions++;
      const level = typeof entry.level === 'number' ? entry.level : 0;
      if (event === 'process.unhandled-rejection' || level >= 60) state.alarms.push(line.slice(0, 2000));
      else if (level >= 50 && state.errors.length < 50) state.errors.push(line.slice(0, 600));
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => state.stderr.push(chunk));
  child.once('exit', (code, signal) => {
    state.exit = { code, signal };
    portResolve(-1);
  });
  const port = await Promise.race([portPromise, delay(15_000).then(() => -1)]);
  if (port <= 0) throw new Error(`server did not start: ${state.stderr.join('').slice(-3000)}`);
  return Object.assign(state, { port });
}

// --- scenarios ---------------------------------------------------------------------------------------

type Scenario = (rng: Rng, c: FuzzConnection, s: ServerChild) => Promise<void>;

async function login(c: FuzzConnection, rng: Rng): Promise<boolean> {
  if (!(await c.waitFor(/^220 /m, 3000))) return false;
  await c.writeSplit(rng, Buffer.from(`USER ${USER.name}\r\nPASS ${USER.password}\r\n`));
  return c.waitFor(/\r\n230 /, 3000);
}

const scenarios: Record<string, Scenario> = {
  async randomBytes(rng, c) {
    const parts: Buffer[] = [];
    for (let i = rng.int(6); i >= 0; i--) {
      parts.push(rng.bytes(rng.int(400)));
      if (rng.chance(0.5)) parts.push(Buffer.from('\r\n'));
    }
    await c.writeSplit(rng, Buffer.concat(parts));
  },

  async mutatedCommands(rng, c) {
    if (rng.chance(0.7) && !(await login(c, rng))) return;
    const n = 5 + rng.int(40);
    for (let i = 0; i < n && !c.socket.destroyed; i++) {
      await c.writeSplit(rng, commandLine(rng));
      if (rng.chance(0.3)) await delay(rng.int(10));
    }
  },

  async pipelinedBurst(rng, c) {
    if (rng.chance(0.5) && !(await login(c, rng))) return;
    const lines: Buffer[] = [];
    for (let i = 10 + rng.int(200); i > 0; i--) lines.push(commandLine(rng));
    // One write: the whole burst arrives in as few segments as the kernel makes.
    c.socket.write(Buffer.concat(lines));
  },

  async hugeLines(rng, c) {
    if (rng.chance(0.5) && !(await login(c, rng))) return;
    const size = MAX_LINE + 1 + rng.int(rng.chance(0.2) ? 300_000 : 10_000);
    const filler = rng.chance(0.5) ? Buffer.alloc(size, 0x41) : rng.bytes(size).map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b));
    await c.writeSplit(rng, Buffer.concat([Buffer.from(rng.pick(['STOR ', 'USER ', 'CWD ', ''])), filler, rng.chance(0.8) ? Buffer.from('\r\n') : Buffer.alloc(0)]));
    // The session must survive a too-long line: a NOOP still gets its 200.
    await c.writeSplit(rng, Buffer.from('NOOP\r\n'));
  },

  async telnet(rng, c) {
    const parts: Buffer[] = [];
    for (let i = 3 + rng.int(20); i > 0; i--) parts.push(rng.chance(0.5) ? rng.pick(TELNET) : commandLine(rng));
    await c.writeSplit(rng, Buffer.concat(parts));
  },

  async duringTransfer(rng, c) {
    if (!(await login(c, rng))) return;
    await c.writeSplit(rng, Buffer.from('EPSV\r\n'));
    if (!(await c.waitFor(/229 .*\(\|\|\|(\d+)\|\)/, 3000))) return;
    const port = Number(/229 .*\(\|\|\|(\d+)\|\)/.exec(c.text())?.[1]);
    const data = net.connect({ port, host: '127.0.0.1', localAddress: c.socket.localAddress ?? '127.0.0.1' });
    data.on('error', () => undefined);
    const upload = rng.chance(0.4);
    if (upload) {
      c.socket.write(`STOR fuzz-${rng.int(1000)}.bin\r\n`);
      data.write(rng.bytes(rng.int(200_000)));
    } else {
      data.pause(); // backpressure keeps the RETR running while we talk
      c.socket.write(rng.chance(0.8) ? 'RETR big.bin\r\n' : `LIST ${rng.pick(['', '-la', 'dir', '*'])}\r\n`);
    }
    for (let i = 1 + rng.int(8); i > 0 && !c.socket.destroyed; i--) {
      await delay(rng.int(20));
      const next = rng.pick(['STAT\r\n', 'ABOR\r\n', 'NOOP\r\n', 'garbage\r\n', 'PWD\r\n', 'FEAT\r\n', 'HELP\r\n', 'EPSV\r\n']);
      await c.writeSplit(rng, rng.chance(0.2) ? commandLine(rng) : rng.chance(0.2) ? mutate(rng, Buffer.from(next)) : Buffer.from(next));
    }
    switch (rng.int(4)) {
      case 0:
        data.resetAndDestroy();
        break;
      case 1:
        data.destroy();
        break;
      case 2:
        if (upload) data.end();
        else data.resume();
        break;
      default:
        // leave the data connection to the session's close
        break;
    }
    await delay(rng.int(50));
    if (!data.destroyed) setTimeout(() => data.destroy(), 500);
  },

  async tlsGarbage(rng, c) {
    if (!(await c.waitFor(/^220 /m, 3000))) return;
    await c.writeSplit(rng, Buffer.from(rng.pick(['AUTH TLS\r\n', 'AUTH SSL\r\n', 'AUTH tls\r\n'])));
    if (!(await c.waitFor(/\r\n234 /, 3000))) return;
    // Random bytes, or a record header that promises a ClientHello and then lies.
    const hello = Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00, 0xff, 0xfc, 0x03, 0x03]);
    await c.writeSplit(rng, rng.chance(0.5) ? Buffer.concat([hello, rng.bytes(rng.int(3000))]) : rng.bytes(1 + rng.int(3000)));
  },

  async passiveHoarding(rng, c) {
    if (!(await login(c, rng))) return;
    for (let i = 1 + rng.int(30); i > 0; i--) c.socket.write(rng.chance(0.8) ? 'EPSV\r\n' : 'PASV\r\n');
  },
};

const SCENARIO_NAMES = Object.keys(scenarios);

async function fuzzSession(rng: Rng, s: ServerChild, localAddress: string, log: string[]): Promise<string[]> {
  const name = rng.pick(SCENARIO_NAMES);
  const c = new FuzzConnection(s.port, localAddress);
  if (!(await c.ready())) return [];
  const timer = setTimeout(() => c.abruptClose(rng), SESSION_TIMEOUT_MS);
  try {
    await (scenarios[name] as Scenario)(rng, c, s);
    // Let the server answer what we sent, then close: politely, abruptly, or by QUIT.
    await delay(rng.int(150));
    const how = rng.int(3);
    if (how === 0) c.abruptClose(rng);
    else if (how === 1) {
      c.socket.write('QUIT\r\n');
      await Promise.race([c.closed, delay(1000)]);
      await c.end();
    } else await c.end();
  } finally {
    clearTimeout(timer);
    if (!c.socket.destroyed) c.socket.destroy();
    await c.closed;
  }
  log.push(name);
  return c.problems([s.dir, s.root]).map((p) => `${name} from ${localAddress}: ${p}`);
}

/** A full legitimate session: login, upload, download, compare, list. */
async function legitimateTransfer(port: number): Promise<void> {
  const client = await RawClient.connect(port, '127.0.0.1', '127.0.0.1');
  try {
    await client.login(USER.name, USER.password);
    assert.equal((await client.send('TYPE I')).code, 200);
    const payload = randomBytes(256 * 1024);
    const up = await rawUpload(client, 'STOR legit.bin', payload, 10_000);
    assert.equal(up.first.code, 150, up.first.text);
    assert.equal(up.final?.code, 226, up.final?.text);
    const down = await rawDownload(client, 'RETR legit.bin', 10_000);
    assert.equal(down.final?.code, 226, down.final?.text);
    assert.ok(down.data.equals(payload), 'the file came back different');
    const list = await rawDownload(client, 'NLST', 10_000);
    assert.ok(list.data.toString().includes('legit.bin'));
    assert.equal((await client.send('DELE legit.bin')).code, 250);
    assert.equal((await client.send('QUIT')).code, 221);
  } finally {
    client.close();
  }
}

describe('fuzz: random and mutated command streams against a real server', { timeout: FUZZ_MS + 90_000 }, () => {
  let s: ServerChild;

  before(async () => {
    s = await startServerChild();
  });
  after(async () => {
    if (s && s.exit === null) {
      s.child.disconnect?.();
      s.child.kill('SIGTERM');
      await Promise.race([new Promise((resolve) => s.child.once('exit', resolve)), delay(5000)]);
      if (s.exit === null) s.child.kill('SIGKILL');
    }
    if (s) await rm(s.dir, { recursive: true, force: true });
  });

  it('STOU that never gets a data connection closes the file it reserved (found by this fuzzer)', async () => {
    await waitForSessionsClosed(s);
    const before = await s.probe();
    const client = await RawClient.connect(s.port, '127.0.0.1', '127.0.0.1');
    try {
      await client.login(USER.name, USER.password);
      // No PASV/EPSV first: 425, after the unique file was already opened to reserve its name.
      for (let i = 0; i < 5; i++) assert.equal((await client.send(`STOU stou-leak`)).code, 425);
      const during = await s.probe();
      // The control connection itself is the only new fd.
      assert.ok(during.fds <= before.fds + 1, `fds ${before.fds} -> ${during.fds}: ${during.targets.filter((x) => x.includes('stou-leak')).join(', ')}`);
      for (const name of ['stou-leak', ...Array.from({ length: 4 }, (_, i) => `stou-leak.${i + 1}`)]) await client.send(`DELE ${name}`);
    } finally {
      client.close();
    }
  });

  it(`survives ${FUZZ_MS} ms of fuzzing: well-formed replies, no crash, no unhandled rejection, no fd or heap leak (seed ${SEED})`, async (t) => {
    t.diagnostic(`fuzz seed ${SEED} (replay: KFTPD_FUZZ_SEED=${SEED})`);
    const replay = `(replay with KFTPD_FUZZ_SEED=${SEED})`;

    // Baseline after a warm-up that loads every code path once (TLS context, listings, transfers).
    await legitimateTransfer(s.port);
    await waitForSessionsClosed(s);
    const baseline = await s.probe();

    const problems: string[] = [];
    const ran: string[] = [];
    const deadline = Date.now() + FUZZ_MS;
    let sessions = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        const rng = makeRng(SEED + w * 7919);
        while (Date.now() < deadline && s.exit === null) {
          const address = `127.0.0.${2 + ((w * 41 + sessions++) % 253)}`;
          problems.push(...(await fuzzSession(rng, s, address, ran)));
        }
      }),
    );
    const counts = new Map<string, number>();
    for (const name of ran) counts.set(name, (counts.get(name) ?? 0) + 1);
    t.diagnostic(`${ran.length} fuzz sessions: ${[...counts].map(([k, v]) => `${k}=${v}`).join(' ')}`);

    assert.equal(s.exit, null, `the server exited ${JSON.stringify(s.exit)} ${replay}\n${s.stderr.join('').slice(-4000)}`);
    assert.deepEqual(s.alarms, [], `unhandled rejection or fatal log ${replay}`);
    assert.deepEqual(problems.slice(0, 20), [], `malformed replies ${replay}`);
    if (s.errors.length > 0) t.diagnostic(`error-level log lines (first ${s.errors.length}):\n${s.errors.slice(0, 5).join('\n')}`);

    // Still serving: a fresh legitimate client logs in and transfers a file intact.
    await legitimateTransfer(s.port);

    // No leak: every session closed, then fds back to baseline and the heap within tolerance.
    await waitForSessionsClosed(s);
    let after = await s.probe();
    for (let i = 0; i < 20 && after.fds > baseline.fds; i++) {
      await delay(250);
      after = await s.probe();
    }
    t.diagnostic(`fds ${baseline.fds} -> ${after.fds}; heapUsed ${mb(baseline.heapUsed)} -> ${mb(after.heapUsed)} MiB; rss ${mb(baseline.rss)} -> ${mb(after.rss)} MiB`);
    assert.ok(after.fds <= baseline.fds, `file descriptors leaked: ${baseline.fds} -> ${after.fds} ${replay}\nbefore: ${baseline.targets.join(', ')}\nafter: ${after.targets.join(', ')}`);
    assert.ok(after.heapUsed - baseline.heapUsed < HEAP_TOLERANCE_BYTES, `heap grew ${mb(after.heapUsed - baseline.heapUsed)} MiB ${replay}`);
    assert.equal(s.exit, null);
    assert.deepEqual(s.alarms, [], `unhandled rejection or fatal log ${replay}`);
  });
});

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

async function waitForSessionsClosed(s: ServerChild): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (s.closedSessions < s.opened && Date.now() < deadline) await delay(50);
  assert.equal(s.closedSessions, s.opened, `sessions still open on the server: ${s.opened - s.closedSessions}`);
}
