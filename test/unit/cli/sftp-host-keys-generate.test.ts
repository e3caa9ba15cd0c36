/**
 * @module test/unit/cli/sftp-host-keys-generate — `kftpd sftp host-keys generate --out DIR`:
 * three private keys (0600) with their .pub files, fingerprints as ssh-keygen prints them, the
 * config lines and the kubectl command for the one Secret; never replaces a key (all or nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runSftpHostKeysGenerate } from '../../../src/cli/commands/sftp-host-keys-generate.js';
import { loadHostKeys } from '../../../src/sftp/host-keys.js';
import { runCommand } from '../../helpers/cli.js';

const NAMES = ['ssh_host_ed25519_key', 'ssh_host_ecdsa_key', 'ssh_host_rsa_key'];

test('writes the three keys, prints their fingerprints, the config lines and the Secret command', async () => {
  const dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'kftpd-hostkeys-')), 'keys');
  const run = await runCommand(runSftpHostKeysGenerate, ['--out', dir, '--name', 'ftp', '--namespace', 'partners']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual((await readdir(dir)).sort(), NAMES.flatMap((name) => [name, `${name}.pub`]).sort());
  for (const name of NAMES) assert.equal((await stat(path.join(dir, name))).mode & 0o777, 0o600, name);
  const files = NAMES.map((name) => path.join(dir, name));
  const { keys } = await loadHostKeys(files, '/nonexistent');
  assert.deepEqual(keys.map((key) => key.type), ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']);
  for (const key of keys) assert.match(run.stdout, new RegExp(`wrote ${key.file}  ${key.type} ${key.fingerprint.replace(/[+/]/g, '\\$&')}`));
  assert.match(run.stdout, new RegExp(`hostKeyFiles: \\[${files.join(', ')}\\]`));
  assert.ok(run.stdout.includes(`kubectl -n partners create secret generic ftp-ssh-host-keys ${files.map((f) => `--from-file=${f}`).join(' ')}`), run.stdout);
  // The fingerprints are the ones OpenSSH computes, when ssh-keygen is there to ask.
  const keygen = await promisify(execFile)('ssh-keygen', ['-l', '-f', `${files[0] ?? ''}.pub`]).catch(() => null);
  if (keygen !== null) assert.ok(keygen.stdout.includes(keys[0]?.fingerprint ?? '?'), keygen.stdout);
});

test('an existing key is never replaced: exit 1 and nothing new written', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-hostkeys-'));
  await writeFile(path.join(dir, 'ssh_host_rsa_key'), 'precious');
  const run = await runCommand(runSftpHostKeysGenerate, ['--out', dir]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /ssh_host_rsa_key exists: nothing written/);
  assert.deepEqual(await readdir(dir), ['ssh_host_rsa_key']);
  assert.equal(await readFile(path.join(dir, 'ssh_host_rsa_key'), 'utf8'), 'precious');
});

test('usage: --out is required, unknown options refused (exit 2), --help exits 0', async () => {
  const missing = await runCommand(runSftpHostKeysGenerate, []);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--out DIR is required/);
  const unknown = await runCommand(runSftpHostKeysGenerate, ['--out', 'x', '--bits', '1024']);
  assert.equal(unknown.code, 2);
  const help = await runCommand(runSftpHostKeysGenerate, ['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: kftpd sftp host-keys generate --out DIR/);
});
