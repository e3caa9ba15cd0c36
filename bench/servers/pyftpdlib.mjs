/**
 * pyftpdlib (Debian package python3-pyftpdlib, run with Debian's /usr/bin/python3 and
 * PYTHONPATH). TLS_FTPHandler (pyOpenSSL, Debian's python3-openssl) and UnixAuthorizer: crypt()
 * against the private namespace's shadow entry, like the C servers. Launcher: pyftpdlib_server.py.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR } from '../lib/env.mjs';

const PYTHON = '/usr/bin/python3';

export default {
  name: 'pyftpdlib',
  role: 'reference',
  reuse: 'not enforced (no such option)',
  loginCost: 'SHA-512-crypt, 5,000 rounds through UnixAuthorizer (spwd+crypt) on every login, in the one server process',

  async prepare(env) {
    const versions = env.fetchDebs(['python3-pyftpdlib']);
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} (Debian's python3) is missing`);
    this.pythonPath = path.join(env.rootDir, 'usr/lib/python3/dist-packages');
    const r = spawnSync(PYTHON, ['-c', 'import pyftpdlib, OpenSSL, spwd, crypt'], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: this.pythonPath, PYTHONWARNINGS: 'ignore' },
    });
    if (r.status !== 0) throw new Error(`python modules missing (python3-openssl?): ${r.stderr.trim().split('\n').pop()}`);
    if (!env.namespaceSupport()) throw new Error('needs a private mount namespace for its system login (unshare -m)');
    return { version: versions['python3-pyftpdlib'] };
  },

  start(env, { port, pasvMin, pasvMax }) {
    const script = path.join(BENCH_DIR, 'servers', 'pyftpdlib_server.py');
    const { cmd, args } = env.inNamespace(PYTHON, [script, String(port), String(pasvMin), String(pasvMax), env.certFile, env.keyFile]);
    return env.launch({
      name: 'pyftpdlib',
      cmd,
      args,
      port,
      env: { PYTHONPATH: this.pythonPath, PYTHONWARNINGS: 'ignore', PYTHONDONTWRITEBYTECODE: '1' },
    });
  },
};
