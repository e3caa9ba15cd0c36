/**
 * @module test/unit/auth/users-file-network
 * Per-user client address lists in the users file: allowFrom / denyFrom parse into a policy
 * (deny wins), malformed CIDRs are reported by path, and the authenticator answers
 * address-not-allowed only when the password was right.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FileAuthenticator } from '../../../src/auth/file-authenticator.js';
import { hashPassword } from '../../../src/auth/password-hash.js';
import { parseUsersFile, UsersFileError } from '../../../src/auth/users-file.js';

describe('users file allowFrom / denyFrom', () => {
  it('parses into a policy where deny wins and an absent list allows everyone', async () => {
    const hash = await hashPassword('pw', { logN: 10 });
    const [bob, carol] = parseUsersFile(`users:\n  - { name: bob, password: "${hash}", allowFrom: [10.0.0.0/8, "2001:db8::/32"], denyFrom: [10.6.0.0/16] }\n  - { name: carol, password: "${hash}" }\n`);
    assert.ok(bob?.network);
    assert.equal(bob.network.allows('10.1.2.3'), true);
    assert.equal(bob.network.allows('::ffff:10.1.2.3'), true);
    assert.equal(bob.network.allows('2001:db8::5'), true);
    assert.equal(bob.network.allows('10.6.0.1'), false);
    assert.equal(bob.network.allows('192.0.2.1'), false);
    assert.equal(carol?.network, undefined);
  });

  it('reports a malformed CIDR by its path', async () => {
    const hash = await hashPassword('pw', { logN: 10 });
    assert.throws(
      () => parseUsersFile(`users:\n  - { name: bob, password: "${hash}", denyFrom: [10.0.0.0/33] }\n`),
      (error: unknown) => error instanceof UsersFileError && error.problems.some((p) => p.startsWith('users.0.denyFrom.0:')),
    );
  });

  it('the authenticator refuses a right password from outside (reason for the log only)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-net-'));
    try {
      const file = path.join(dir, 'users.yaml');
      await writeFile(file, `users:\n  - { name: bob, password: "${await hashPassword('pw', { logN: 10 })}", allowFrom: [192.0.2.0/24] }\n`);
      const auth = new FileAuthenticator({ file, reloadIntervalMs: 1000, anonymous: { enabled: false, home: '/' } });
      await auth.start();
      const attempt = (remoteAddress: string, password: string) => auth.authenticate({ username: 'bob', password, remoteAddress, tls: false });
      assert.equal((await attempt('192.0.2.9', 'pw')).ok, true);
      assert.deepEqual(await attempt('198.51.100.1', 'pw'), { ok: false, reason: 'address-not-allowed' });
      assert.deepEqual(await attempt('198.51.100.1', 'nope'), { ok: false, reason: 'bad-password' });
      await auth.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
