/**
 * Pure-FTPd (Debian package "pure-ftpd", privsep build). Standalone, system ("unix") logins:
 * getpwnam + crypt() against the private namespace's shadow entry; no anonymous; TLS optional.
 */
import path from 'node:path';

export default {
  name: 'pure-ftpd',
  role: 'reference',
  reuse: 'not enforced (no such option)',
  loginCost: 'SHA-512-crypt, 5,000 rounds through getspnam+crypt on every login, in a process forked per session',

  async prepare(env) {
    const versions = env.fetchDebs(['pure-ftpd', 'pure-ftpd-common']);
    this.bin = path.join(env.rootDir, 'usr/sbin/pure-ftpd');
    env.checkBinary(this.bin);
    if (!env.namespaceSupport()) throw new Error('needs a private mount namespace for its system login (unshare -m)');
    return { version: versions['pure-ftpd'] };
  },

  start(env, { port, pasvMin, pasvMax }) {
    const args = [
      '-S', `127.0.0.1,${port}`,
      '-l', 'unix', // system accounts
      '-E', // no anonymous
      '-H', // no reverse DNS
      '-p', `${pasvMin}:${pasvMax}`,
      '-c', '20000', // max clients (the binary caps it; see README)
      '-C', '20000', // max clients per IP
      '-I', '15', // idle minutes
      '-Y', '1', // TLS accepted, not required
      '-2', env.pemFile,
    ];
    const { cmd, args: a } = env.inNamespace(this.bin, args);
    return env.launch({ name: 'pure-ftpd', cmd, args: a, port, env: { LD_LIBRARY_PATH: env.libraryPath() } });
  },
};
