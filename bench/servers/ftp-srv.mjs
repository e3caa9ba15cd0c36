/**
 * ftp-srv (npm, the Node.js peer), installed into the cache folder with
 * `npm install --prefix <cache>/ftp-srv ftp-srv@4` (never into the repository). Launcher:
 * ftp-srv-server.mjs, which checks the password against an scrypt hash of the same cost as
 * kftpd's bench user (ftp-srv leaves password checking to the application).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, PASSWORD, USER } from '../lib/env.mjs';
import { calibratedLogN } from '../lib/hash-cost.mjs';

export default {
  name: 'ftp-srv',
  role: 'reference',
  reuse: 'not enforced (no such option)',
  loginCost: () => `scrypt N=2^${calibratedLogN().logN}, r=8, p=1 on every login (its launcher; ftp-srv leaves checks to the application)`,
  /** ftp-srv answers 150 only once the data TLS handshake is done: start it before the reply. */
  clientOptions: { earlyDataTls: true },

  async prepare(env) {
    this.prefix = path.join(env.cacheDir, 'ftp-srv');
    const pkgFile = path.join(this.prefix, 'node_modules', 'ftp-srv', 'package.json');
    if (!existsSync(pkgFile)) {
      const r = spawnSync('npm', ['install', '--prefix', this.prefix, 'ftp-srv@4', '--no-audit', '--no-fund', '--loglevel=error'], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      if (r.status !== 0 || !existsSync(pkgFile)) throw new Error(`npm install ftp-srv@4 failed: ${(r.stderr || '').trim().split('\n').pop()}`);
    }
    return { version: JSON.parse(readFileSync(pkgFile, 'utf8')).version };
  },

  start(env, { port, pasvMin, pasvMax }) {
    const config = {
      modules: path.join(this.prefix, 'node_modules'),
      port,
      pasvMin,
      pasvMax,
      root: env.srvDir,
      cert: env.certFile,
      key: env.keyFile,
      logN: calibratedLogN().logN,
      user: USER,
      password: PASSWORD,
    };
    return env.launch({
      name: 'ftp-srv',
      cmd: process.execPath,
      args: [path.join(BENCH_DIR, 'servers', 'ftp-srv-server.mjs'), JSON.stringify(config)],
      port,
    });
  },
};
