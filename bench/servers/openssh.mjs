/**
 * OpenSSH's own SFTP server: Debian openssh-server's sshd with `Subsystem sftp internal-sftp`
 * (the SFTP server compiled into sshd, no sftp-server process), only for the SFTP rows.
 * Its sshd_config, host key and authorized_keys live in the bench work folder; the machine's
 * /etc is not changed: sshd runs in the private mount namespace of the other reference servers
 * (passwd/shadow with the bench user, uid 65534, home = the served folder), with a private
 * tmpfs on /run for its privilege-separation directory (/run/sshd). Logins by the bench
 * ed25519 key (the same key logs in to kftpd). The machine's /usr/sbin/sshd is used when it is
 * there, else the Debian package is fetched into the cache like the FTP servers.
 * sshd must be started by an absolute path (it re-executes itself for every connection) and as root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sshBanner } from '../lib/sftp-load.mjs';

export default {
  name: 'openssh',
  role: 'reference',
  reuse: 'n/a (SFTP only)',
  metrics: ['sftp'],
  sftp: true,

  async prepare(env) {
    if (process.getuid?.() !== 0) throw new Error('sshd needs root');
    let version;
    if (existsSync('/usr/sbin/sshd')) {
      this.bin = '/usr/sbin/sshd';
      const dpkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'openssh-server'], { encoding: 'utf8' });
      version = dpkg.status === 0 ? dpkg.stdout.trim() : (spawnSync(this.bin, ['-V'], { encoding: 'utf8' }).stderr ?? '').trim();
    } else {
      const versions = env.fetchDebs(['openssh-server', 'openssh-sftp-server', 'libwrap0']);
      this.bin = path.join(env.rootDir, 'usr/sbin/sshd');
      env.checkBinary(this.bin);
      version = versions['openssh-server'];
    }
    if (!env.namespaceSupport()) throw new Error('needs a private mount namespace for its login user (unshare -m)');
    const keys = env.sshKeys();
    this.dir = path.join(env.workDir, 'openssh');
    // Readable by the session user: sshd reads authorized_keys as the user (uid 65534).
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    this.hostKey = path.join(this.dir, 'ssh_host_ed25519_key');
    if (!existsSync(this.hostKey)) {
      const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench-openssh-host', '-f', this.hostKey], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
    }
    this.authorizedKeys = path.join(this.dir, 'authorized_keys');
    writeFileSync(this.authorizedKeys, `${keys.publicLine}\n`, { mode: 0o644 });
    return { version: `${version} (internal-sftp)` };
  },

  async start(env, { sftpPort }) {
    const conf = path.join(this.dir, 'sshd_config');
    writeFileSync(
      conf,
      [
        `Port ${sftpPort}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${this.hostKey}`,
        `AuthorizedKeysFile ${this.authorizedKeys}`,
        // The work folder lies under /dev/shm (mode 1777): StrictModes would refuse the key file.
        'StrictModes no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'PermitRootLogin no',
        'Subsystem sftp internal-sftp',
        'ForceCommand internal-sftp',
        'AllowTcpForwarding no',
        'X11Forwarding no',
        'AllowAgentForwarding no',
        'PermitTTY no',
        // The default 10:30:100 drops connections beyond 10 unauthenticated ones at random: the
        // 100 concurrent short sessions would measure that, as kftpd's caps are lifted too.
        'MaxStartups 20000',
        'UseDNS no',
        'PrintMotd no',
        'PidFile none',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    const check = spawnSync(this.bin, ['-t', '-f', conf], { encoding: 'utf8' });
    if (check.status !== 0 && !/privilege separation directory/i.test(check.stderr)) throw new Error(`sshd -t: ${check.stderr.trim()}`);
    // /run/sshd (privilege separation) on a private tmpfs inside the namespace.
    const { cmd, args } = env.inNamespace(this.bin, ['-D', '-e', '-f', conf], [
      'mount -t tmpfs -o mode=0755 kftpd-bench-run /run',
      'mkdir -m 0755 /run/sshd',
    ]);
    return env.launch({ name: 'openssh', cmd, args, port: sftpPort, ready: sshBanner, env: { LD_LIBRARY_PATH: env.libraryPath() } });
  },
};
