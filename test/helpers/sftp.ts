/**
 * @module test/helpers/sftp
 * Real SSH clients against a test server with SFTP on: OpenSSH's sftp/scp/ssh (key login, or
 * password through SSH_ASKPASS), curl's sftp:// (libssh2) and Python paramiko (Debian's
 * python3-paramiko, run with /usr/bin/python3).
 */
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run, unavailableReason, type RunResult } from './integration.js';

export const OPENSSH_MISSING = (): string | null => unavailableReason('sftp', ['-h']) === null ? null : unavailableReason('ssh', ['-V']);
export const PARAMIKO_MISSING = (): string | null => unavailableReason('/usr/bin/python3', ['-c', 'import paramiko']);

/** Options that keep OpenSSH from touching ~/.ssh and from asking anything. */
export function sshOptions(extra: readonly string[] = []): string[] {
  return ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10', ...extra.flatMap((o) => ['-o', o])];
}

export interface SshKeys {
  readonly dir: string;
  readonly key: string;
  readonly publicLine: string;
  readonly otherKey: string;
  readonly askpass: (password: string) => Promise<string>;
}

/** An ed25519 key pair for the user, a second one the server does not know, and an askpass script maker. */
export async function makeKeys(): Promise<SshKeys> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-ssh-'));
  const key = path.join(dir, 'id_ed25519');
  const otherKey = path.join(dir, 'other_ed25519');
  for (const file of [key, otherKey]) {
    const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', file]);
    if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  }
  let n = 0;
  return {
    dir,
    key,
    otherKey,
    publicLine: (await readFile(`${key}.pub`, 'utf8')).trim(),
    askpass: async (password) => {
      const file = path.join(dir, `askpass-${n++}.sh`);
      await writeFile(file, `#!/bin/sh\nprintf '%s\\n' '${password.replace(/'/g, "'\\''")}'\n`);
      await chmod(file, 0o700);
      return file;
    },
  };
}

/** `sftp -b -` with a key (batch mode: the first failing command fails the run). */
export function sftpBatch(port: number, user: string, key: string, commands: readonly string[], options: { cwd?: string; extra?: readonly string[] } = {}): Promise<RunResult> {
  return run('sftp', ['-b', '-', '-P', String(port), '-i', key, ...sshOptions(['IdentitiesOnly=yes', 'PasswordAuthentication=no', ...(options.extra ?? [])]), `${user}@127.0.0.1`], {
    input: `${commands.join('\n')}\n`,
    timeoutMs: 30_000,
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
}

/** Interactive-mode sftp fed on stdin with the password from SSH_ASKPASS (batch mode would forbid password prompts). */
export function sftpWithPassword(port: number, user: string, askpass: string, commands: readonly string[], options: { cwd?: string; extra?: readonly string[] } = {}): Promise<RunResult> {
  return run('setsid', ['-w', 'sftp', '-P', String(port), ...sshOptions(['PubkeyAuthentication=no', 'NumberOfPasswordPrompts=1', ...(options.extra ?? [])]), `${user}@127.0.0.1`], {
    input: `${commands.join('\n')}\n`,
    timeoutMs: 30_000,
    env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
}

/** Runs a paramiko program; `PORT`, `USER`, `PASSWORD` are in its environment. */
export function paramiko(program: string, env: Record<string, string>): Promise<RunResult> {
  const prelude = [
    'import os, sys, paramiko',
    't = paramiko.Transport(("127.0.0.1", int(os.environ["PORT"])))',
    't.connect(username=os.environ["USER"], password=os.environ["PASSWORD"])',
    's = paramiko.SFTPClient.from_transport(t)',
  ].join('\n');
  return run('/usr/bin/python3', ['-c', `${prelude}\n${program}`], { env, timeoutMs: 30_000 });
}
