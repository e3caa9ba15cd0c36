/**
 * kftpd, the server under test: `node dist/src/cli/main.js serve` with flags.
 * The bench user is created with `kftpd user add --log-n N`, N chosen per run so that one scrypt
 * check (N, r=8, p=1) costs about what one SHA-512-crypt check of the reference servers costs on
 * this machine (lib/hash-cost.mjs), from kftpd's floor of 2^10 up: where SHA-512-crypt is cheaper than
 * scrypt 2^10 (an EPYC: 1.3 against 2.1 ms), kftpd's logins cost more than the references'.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { PASSWORD, REPO_DIR, USER } from '../lib/env.mjs';
import { calibratedLogN } from '../lib/hash-cost.mjs';
import { waitSshBanner } from '../lib/sftp-load.mjs';

const MAIN = path.join(REPO_DIR, 'dist', 'src', 'cli', 'main.js');

/** `env` whose launch() starts the server as `name` with `extra` flags after kftpd's own: the kftpd variants' start. */
export function launchingWith(env, name, extra) {
  const launch = env.launch.bind(env);
  const variant = Object.create(env);
  variant.launch = (spec) => launch({ ...spec, name, args: [...spec.args, ...extra] });
  return variant;
}

export default {
  name: 'kftpd',
  role: 'subject',
  reuse: 'enforced (tls.sessionReuse: enforced, the default)',
  loginCost() {
    const c = calibratedLogN();
    return `scrypt N=2^${c.logN}, r=8, p=1 (${c.scryptMs.toFixed(2)} ms CPU here) once per user and password: successful checks are cached (users.verificationCache, the default), so repeated logins skip the hash`;
  },
  sftp: true,

  async prepare(env) {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing (npm run build)`);
    this.usersFile = path.join(env.workDir, 'kftpd-users.yaml');
    const r = spawnSync(
      process.execPath,
      [MAIN, 'user', 'add', USER, '--file', this.usersFile, '--password', PASSWORD, '--home', '/', '--log-n', String(calibratedLogN().logN)],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`kftpd user add failed: ${(r.stderr || r.stdout).trim()}`);
    // The SFTP rows log in with the bench ed25519 key (the same key OpenSSH's authorized_keys holds).
    const doc = YAML.parse(readFileSync(this.usersFile, 'utf8'));
    for (const user of doc.users) if (user.name === USER) user.publicKeys = [env.sshKeys().publicLine];
    writeFileSync(this.usersFile, YAML.stringify(doc));
    const pkg = JSON.parse(readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8'));
    const rev = spawnSync('git', ['-C', REPO_DIR, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim();
    const dirty = spawnSync('git', ['-C', REPO_DIR, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout?.trim();
    return { version: `${pkg.version}${rev ? ` (${rev}${dirty ? ', src modified' : ''})` : ''}` };
  },

  async start(env, { port, pasvMin, pasvMax, sftpPort }) {
    const instance = await env.launch({
      name: 'kftpd',
      cmd: process.execPath,
      // BENCH_KFTPD_NODE_FLAGS: node flags for the kftpd process only (an A/B of V8 settings,
      // e.g. --max-semi-space-size=16 against the CLI's small young generation).
      args: [
        ...(process.env.BENCH_KFTPD_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean),
        MAIN,
        'serve',
        '--listen.host=127.0.0.1',
        `--listen.port=${port}`,
        `--passive.portMin=${pasvMin}`,
        `--passive.portMax=${pasvMax}`,
        `--storage.root=${env.srvDir}`,
        `--users.file=${this.usersFile}`,
        `--stateDir=${path.join(env.workDir, 'kftpd-state')}`,
        '--log.level=warn',
        `--tls.certFile=${env.certFile}`,
        `--tls.keyFile=${env.keyFile}`,
        '--limits.maxSessions=20000',
        '--limits.maxSessionsPerAddress=20000',
        // Every load-generator connection comes from 127.0.0.1: lift the per-address caps on
        // connections not yet logged in, as the references run with no per-IP limit.
        '--access.maxUnauthenticated=20000',
        '--access.maxUnauthenticatedPerAddress=20000',
        '--shutdown.drainTimeoutMs=500',
        // SFTP beside FTP (host keys generated in stateDir/ssh at the first start, then reused).
        '--sftp.enabled=true',
        '--sftp.host=127.0.0.1',
        `--sftp.port=${sftpPort}`,
      ],
      port,
      // BENCH_KFTPD_ENV: "NAME=value ..." added to the kftpd process's environment only (an A/B of
      // libuv settings such as UV_USE_IO_URING=1 or UV_THREADPOOL_SIZE).
      env: Object.fromEntries(
        (process.env.BENCH_KFTPD_ENV ?? '')
          .split(/\s+/)
          .filter((pair) => pair.includes('='))
          .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      ),
    });
    try {
      await waitSshBanner(sftpPort, 15_000);
    } catch (error) {
      await instance.stop();
      throw new Error(`kftpd SFTP listener on ${sftpPort}: ${error.message}`);
    }
    return instance;
  },
};
