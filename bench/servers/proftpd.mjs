/**
 * ProFTPD (Debian packages proftpd-core + proftpd-mod-crypto for mod_tls). Standalone in the
 * foreground (-n), mod_auth_unix logins against the private namespace's shadow entry, mod_tls
 * loaded from the unpacked module path. mod_delay is switched off (it pads every login to hide
 * timing; no other server here does that) and reverse DNS is off.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export default {
  name: 'proftpd',
  role: 'reference',
  reuse: 'enforced (mod_tls default; NoSessionReuseRequired not set)',
  loginCost: 'SHA-512-crypt, 5,000 rounds through mod_auth_unix on every login, in a process forked per session',

  async prepare(env) {
    const versions = env.fetchDebs([
      'proftpd-core', 'proftpd-mod-crypto', 'libhiredis0.14', 'libmemcached11', 'libmemcachedutil2', 'libhashkit2', 'libpcre2-posix3',
    ]);
    this.bin = path.join(env.rootDir, 'usr/sbin/proftpd');
    env.checkBinary(this.bin);
    env.checkBinary(path.join(env.rootDir, 'usr/lib/proftpd/mod_tls.so'));
    if (!env.namespaceSupport()) throw new Error('needs a private mount namespace for its system login (unshare -m)');
    return { version: versions['proftpd-core'] };
  },

  start(env, { port, pasvMin, pasvMax }) {
    const dir = path.join(env.workDir, 'proftpd');
    mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'proftpd.conf');
    writeFileSync(
      conf,
      [
        'ServerName "proftpd bench"',
        'ServerType standalone',
        'DefaultServer on',
        'DefaultAddress 127.0.0.1',
        `Port ${port}`,
        `PassivePorts ${pasvMin} ${pasvMax}`,
        'UseIPv6 off',
        'User nobody',
        'Group nogroup',
        'Umask 022',
        'MaxInstances 20000',
        'MaxClients none',
        'MaxClientsPerHost none',
        'UseReverseDNS off',
        'WtmpLog off',
        'RequireValidShell off',
        'AuthPAM off',
        'AuthOrder mod_auth_unix.c',
        'DelayEngine off',
        'AllowOverwrite on',
        'TimeoutIdle 900',
        `PidFile ${dir}/proftpd.pid`,
        `ScoreboardFile ${dir}/proftpd.scoreboard`,
        `SystemLog ${dir}/system.log`,
        'TransferLog none',
        `ModulePath ${env.rootDir}/usr/lib/proftpd`,
        '<IfModule !mod_tls.c>',
        '  LoadModule mod_tls.c',
        '</IfModule>',
        'TLSEngine on',
        'TLSRequired off',
        'TLSProtocol TLSv1.2 TLSv1.3',
        `TLSECCertificateFile ${env.certFile}`,
        `TLSECCertificateKeyFile ${env.keyFile}`,
        'TLSVerifyClient off',
        // Without a CA file mod_tls parses the system CA bundle in every session (~50 ms).
        `TLSCACertificateFile ${env.certFile}`,
        '',
      ].join('\n'),
    );
    const { cmd, args } = env.inNamespace(this.bin, ['-n', '-q', '-c', conf]);
    return env.launch({ name: 'proftpd', cmd, args, port, env: { LD_LIBRARY_PATH: env.libraryPath() } });
  },
};
