/**
 * vsftpd (Debian package, unpacked from the cache). Standalone (listen=YES), no chroot, logins
 * through PAM (pam_unix against the private namespace's shadow entry), seccomp sandbox off
 * (it needs a kernel/container that allows it); other security defaults kept (isolate,
 * isolate_network: a process pair per session).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export default {
  name: 'vsftpd',
  role: 'reference',
  reuse: 'enforced (require_ssl_reuse=YES, the default)',
  loginCost: 'SHA-512-crypt, 5,000 rounds through PAM on every login, in a process pair forked per session',

  async prepare(env) {
    const versions = env.fetchDebs(['vsftpd', 'libwrap0']);
    this.bin = path.join(env.rootDir, 'usr/sbin/vsftpd');
    env.checkBinary(this.bin);
    if (!env.namespaceSupport()) throw new Error('needs a private mount namespace for its PAM login (unshare -m)');
    return { version: versions.vsftpd };
  },

  start(env, { port, pasvMin, pasvMax }) {
    const conf = path.join(env.workDir, 'vsftpd.conf');
    writeFileSync(
      conf,
      [
        'listen=YES',
        'listen_ipv6=NO',
        'listen_address=127.0.0.1',
        `listen_port=${port}`,
        'background=NO',
        'anonymous_enable=NO',
        'local_enable=YES',
        'write_enable=YES',
        'local_umask=022',
        'pam_service_name=kftpd-bench',
        'seccomp_sandbox=NO',
        'chroot_local_user=NO',
        `secure_chroot_dir=${env.emptyDir}`,
        `pasv_min_port=${pasvMin}`,
        `pasv_max_port=${pasvMax}`,
        'max_clients=0',
        'max_per_ip=0',
        'xferlog_enable=NO',
        'idle_session_timeout=900',
        'ssl_enable=YES',
        `rsa_cert_file=${env.certFile}`,
        `rsa_private_key_file=${env.keyFile}`,
        'ssl_ciphers=HIGH',
        'ssl_request_cert=NO',
        'require_ssl_reuse=YES',
        'force_local_logins_ssl=NO',
        'force_local_data_ssl=NO',
        '',
      ].join('\n'),
    );
    const { cmd, args } = env.inNamespace(this.bin, [conf]);
    return env.launch({ name: 'vsftpd', cmd, args, port, env: { LD_LIBRARY_PATH: env.libraryPath() } });
  },
};
