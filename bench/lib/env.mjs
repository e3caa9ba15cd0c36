/**
 * The benchmark's environment, shared by the server adapters:
 * - the cache folder (BENCH_CACHE, default ~/.cache/kftpd-bench) where reference servers are
 *   fetched (`apt-get download` + `dpkg -x`, npm --prefix) and kept between runs;
 * - the work folder on tmpfs (/dev/shm) with the served tree, certificate and configs;
 * - the shared login "bench" (same password and hash cost everywhere);
 * - a private mount namespace that shows the C servers and pyftpdlib a PAM service and a
 *   passwd/shadow entry for "bench" without touching the machine's /etc;
 * - starting a server pinned to the server core, waiting for its greeting, stopping its tree.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { treePids } from './proc.mjs';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = path.dirname(BENCH_DIR);

export const USER = 'bench';
export const PASSWORD = 'bench-Pa55word';
/** uid/gid the C servers and pyftpdlib run sessions as ("nobody"/"nogroup"). */
export const SESSION_UID = 65534;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...options });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${out}`);
  }
  return r.stdout;
}

export class BenchEnv {
  constructor({ quick, log }) {
    this.quick = quick;
    this.log = log;
    this.cacheDir = process.env.BENCH_CACHE || path.join(os.homedir(), '.cache', 'kftpd-bench');
    this.debDir = path.join(this.cacheDir, 'debs');
    this.rootDir = path.join(this.cacheDir, 'root'); // all unpacked .debs
    const shm = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    this.workDir = path.join(shm, `kftpd-bench-${process.pid}`);
    this.srvDir = path.join(this.workDir, 'srv'); // every server's home
    this.pinServer = hasCommand('taskset') && os.cpus().length >= 2;
    this.children = new Set();
    this.aptUpdated = false;
  }

  /** Creates the work folder, certificate, hashes and the private-namespace files. */
  setup() {
    mkdirSync(this.debDir, { recursive: true });
    mkdirSync(this.srvDir, { recursive: true });
    execFileSync('chown', [`${SESSION_UID}:${SESSION_UID}`, this.srvDir]);
    execFileSync('chmod', ['0777', this.srvDir]);
    mkdirSync(path.join(this.srvDir, 'up'), { mode: 0o777 });
    execFileSync('chmod', ['0777', path.join(this.srvDir, 'up')]);
    // Certificate: ECDSA P-256, valid for localhost and 127.0.0.1; one for every server.
    this.certFile = path.join(this.workDir, 'cert.pem');
    this.keyFile = path.join(this.workDir, 'key.pem');
    this.pemFile = path.join(this.workDir, 'cert-and-key.pem');
    run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '7', '-keyout', this.keyFile, '-out', this.certFile,
    ]);
    this.ca = readFileSync(this.certFile);
    writeFileSync(this.pemFile, Buffer.concat([this.ca, readFileSync(this.keyFile)]), { mode: 0o600 });
    // Crypt hash for the libcrypt-based servers: SHA-512 crypt, 5000 rounds (~2 ms).
    this.cryptHash = run('openssl', ['passwd', '-6', PASSWORD]).trim();
    this.setupNamespaceFiles();
  }

  /** Served files: the big stream file, a 16 MiB warm-up file, the 64 KiB session file, and a per-server upload folder. */
  createServedFiles(bigBytes) {
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131 + 7) & 0xff;
    const fd = openSync(path.join(this.srvDir, 'big.bin'), 'w', 0o644);
    for (let left = bigBytes; left > 0; left -= chunk.length) {
      writeFileSync(fd, left >= chunk.length ? chunk : chunk.subarray(0, left));
    }
    closeSync(fd);
    writeFileSync(path.join(this.srvDir, 's64k.bin'), chunk.subarray(0, 65536), { mode: 0o644 });
    writeFileSync(path.join(this.srvDir, 'warm.bin'), Buffer.concat(Array(16).fill(chunk)), { mode: 0o644 });
    this.bigBytes = bigBytes;
  }

  /**
   * The client's ed25519 key pair for the SFTP rows (one key logs in to every SSH server):
   * { privateFile, privateKey, publicLine }.
   */
  sshKeys() {
    if (!this.ssh) {
      const dir = path.join(this.workDir, 'ssh-client');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const privateFile = path.join(dir, 'id_ed25519');
      run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'kftpd-bench', '-f', privateFile]);
      this.ssh = { privateFile, privateKey: readFileSync(privateFile), publicLine: readFileSync(`${privateFile}.pub`, 'utf8').trim() };
    }
    return this.ssh;
  }

  /** An empty upload folder for one server that every session user can write. */
  uploadDir(name) {
    const dir = path.join(this.srvDir, 'up', name);
    spawnSync('rm', ['-rf', dir]);
    mkdirSync(path.join(dir, 'small'), { recursive: true });
    execFileSync('chown', ['-R', `${SESSION_UID}:${SESSION_UID}`, dir]);
    execFileSync('chmod', ['-R', '0777', dir]);
    return `up/${name}`;
  }

  setupNamespaceFiles() {
    this.nsDir = path.join(this.workDir, 'ns');
    const pamDir = path.join(this.nsDir, 'pam.d');
    mkdirSync(pamDir, { recursive: true });
    if (existsSync('/etc/pam.d')) cpSync('/etc/pam.d', pamDir, { recursive: true });
    writeFileSync(
      path.join(pamDir, 'kftpd-bench'),
      'auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_permit.so\n',
    );
    const passwd = existsSync('/etc/passwd') ? readFileSync('/etc/passwd', 'utf8') : '';
    const shadow = existsSync('/etc/shadow') ? readFileSync('/etc/shadow', 'utf8') : '';
    const nl = (s) => (s === '' || s.endsWith('\n') ? s : `${s}\n`);
    writeFileSync(path.join(this.nsDir, 'passwd'), `${nl(passwd)}${USER}:x:${SESSION_UID}:${SESSION_UID}:kftpd bench:${this.srvDir}:/bin/sh\n`);
    writeFileSync(path.join(this.nsDir, 'shadow'), `${nl(shadow)}${USER}:${this.cryptHash}:19000:0:99999:7:::\n`, { mode: 0o600 });
    this.emptyDir = path.join(this.workDir, 'empty'); // vsftpd's secure_chroot_dir
    mkdirSync(this.emptyDir, { recursive: true });
  }

  /** Whether private mount namespaces work here (needs CAP_SYS_ADMIN). */
  namespaceSupport() {
    if (this.nsOk === undefined) {
      const r = spawnSync('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c',
        `mount --bind ${this.nsDir}/passwd /etc/passwd && grep -q '^${USER}:' /etc/passwd`], { stdio: 'ignore' });
      this.nsOk = r.status === 0;
    }
    return this.nsOk;
  }

  /**
   * The command that runs `cmd args` in a private mount namespace where /etc/pam.d, /etc/passwd
   * and /etc/shadow include the bench user (the machine's files are not changed). The shell
   * execs, so the returned process is the server itself.
   */
  inNamespace(cmd, args, extra = []) {
    if (!this.namespaceSupport()) throw new Error('private mount namespaces are not available (unshare -m failed)');
    const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
    const script = [
      `mount --bind ${q(`${this.nsDir}/pam.d`)} /etc/pam.d`,
      `mount --bind ${q(`${this.nsDir}/passwd`)} /etc/passwd`,
      `mount --bind ${q(`${this.nsDir}/shadow`)} /etc/shadow`,
      ...extra,
      `exec ${[cmd, ...args].map(q).join(' ')}`,
    ].join(' && ');
    return { cmd: 'unshare', args: ['-m', '--propagation', 'private', '--', 'sh', '-c', script] };
  }

  /** LD_LIBRARY_PATH that finds libraries unpacked from .debs. */
  libraryPath() {
    return [`${this.rootDir}/usr/lib/x86_64-linux-gnu`, `${this.rootDir}/lib/x86_64-linux-gnu`, process.env.LD_LIBRARY_PATH]
      .filter(Boolean)
      .join(':');
  }

  /**
   * Downloads Debian packages into the cache (`apt-get download`) and unpacks them with
   * `dpkg -x` into cache/root. Returns { package: version }.
   */
  fetchDebs(packages) {
    const versions = {};
    for (const pkg of packages) {
      let deb = this.findDeb(pkg);
      if (!deb) {
        const download = () =>
          spawnSync('apt-get', ['-q', '-o', 'APT::Sandbox::User=root', 'download', pkg], { cwd: this.debDir, encoding: 'utf8', timeout: 300_000 });
        let r = download();
        if (r.status !== 0 && !this.aptUpdated) {
          this.log(`  apt-get download ${pkg} failed; running apt-get update once`);
          spawnSync('apt-get', ['-q', 'update'], { stdio: 'ignore', timeout: 300_000 });
          this.aptUpdated = true;
          r = download();
        }
        deb = this.findDeb(pkg);
        if (!deb) throw new Error(`cannot download Debian package ${pkg}: ${(r.stderr ?? '').trim().split('\n').pop()}`);
      }
      const marker = path.join(this.cacheDir, 'unpacked', path.basename(deb));
      if (!existsSync(marker)) {
        run('dpkg', ['-x', deb, this.rootDir]);
        mkdirSync(path.dirname(marker), { recursive: true });
        writeFileSync(marker, '');
      }
      versions[pkg] = run('dpkg-deb', ['-f', deb, 'Version']).trim();
    }
    return versions;
  }

  findDeb(pkg) {
    const hit = readdirSync(this.debDir).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb')).sort().pop();
    return hit ? path.join(this.debDir, hit) : null;
  }

  /** Throws if a binary cannot load (a shared library is missing). */
  checkBinary(binary) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing`);
    const out = spawnSync('ldd', [binary], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: this.libraryPath() } }).stdout ?? '';
    const missing = out.split('\n').filter((l) => l.includes('not found')).map((l) => l.trim().split(' ')[0]);
    if (missing.length > 0) throw new Error(`${path.basename(binary)} needs missing libraries: ${missing.join(', ')}`);
  }

  /**
   * Starts a server pinned to the server core with its output in a log file, waits until its
   * control port greets with 220 (or `ready(port)` resolves: the SSH banner). Returns { pid, stop() }.
   */
  async launch({ name, cmd, args, env = {}, port, ready = greet, cwd = this.workDir, readyTimeoutMs = 20_000 }) {
    await assertPortFree(port);
    const logFile = path.join(this.workDir, `${name}.log`);
    const out = openSync(logFile, 'a');
    const [c, a] = this.pinServer ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args];
    const child = spawn(c, a, { cwd, env: { ...serverEnvironment(), ...env }, stdio: ['ignore', out, out] });
    closeSync(out);
    this.children.add(child);
    let exited = null;
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      this.children.delete(child);
    });
    const deadline = Date.now() + readyTimeoutMs;
    let lastError = null;
    while (Date.now() < deadline) {
      if (exited) break;
      try {
        await ready(port);
        return { pid: child.pid, logFile, stop: () => this.stop(child) };
      } catch (error) {
        lastError = error;
        await sleep(100);
      }
    }
    await this.stop(child);
    const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-4).join(' / ');
    throw new Error(`${name} did not start (${exited ? `exited ${exited.code ?? exited.signal}` : lastError?.message}): ${tail}`);
  }

  /** SIGTERM the server, then SIGKILL whatever is left of its process tree. */
  async stop(child) {
    const pids = treePids(child.pid);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {}
      await Promise.race([exited, sleep(3000)]);
    }
    for (const pid of [...pids, ...treePids(child.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    for (let i = 0; i < 50 && pids.some((p) => existsSync(`/proc/${p}`) && !isZombie(p)); i++) await sleep(100);
  }

  /** Kills every server still running (on exit or interrupt). */
  killAll() {
    for (const child of this.children) {
      for (const pid of treePids(child.pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
  }

  cleanup() {
    spawnSync('rm', ['-rf', this.workDir]);
  }
}

/**
 * A plain environment for servers: this machine's shell may set variables such as
 * SSL_CERT_FILE or NODE_EXTRA_CA_CERTS that make some servers load CA bundles they don't need.
 */
function serverEnvironment() {
  const keep = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

function isZombie(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/** Connects to 127.0.0.1:port and waits for a 220 greeting line; rejects otherwise. */
export function greet(port, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => finish(new Error('no greeting')), timeoutMs);
    const finish = (error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      text += d;
      if (/^220 /m.test(text) || /^220-/m.test(text)) finish();
      else if (/^\d{3} /m.test(text)) finish(new Error(`greeting: ${text.trim()}`));
    });
    socket.on('error', finish);
  });
}

function assertPortFree(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', () => reject(new Error(`port ${port} is in use`)));
    server.listen(port, '127.0.0.1', () => server.close(resolve));
  });
}
