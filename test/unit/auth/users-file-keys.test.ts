/**
 * @module test/unit/auth/users-file-keys.test
 * publicKeys in the users file (SFTP login by key): OpenSSH authorized_keys lines are parsed
 * into wire blobs, bad lines are reported with their path, and the FileAuthenticator accepts
 * exactly the listed keys (and still the password), with allowFrom applied to key logins too.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAuthorizedKey } from '../../../src/auth/authorized-keys.js';
import { FileAuthenticator } from '../../../src/auth/file-authenticator.js';
import { hashPassword } from '../../../src/auth/password-hash.js';
import { UsersFileError, parseUsersFile, upsertUserInFile } from '../../../src/auth/users-file.js';

/** An OpenSSH "ssh-ed25519 <base64>" line for a fresh key (RFC 8709 §4 wire encoding). */
function ed25519Line(comment = 'k'): { line: string; blob: Buffer } {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const name = Buffer.from('ssh-ed25519');
  const blob = Buffer.concat([Buffer.from([0, 0, 0, name.length]), name, Buffer.from([0, 0, 0, 32]), raw]);
  return { line: `ssh-ed25519 ${blob.toString('base64')} ${comment}`, blob };
}

let HASH: string;
let dir: string;
before(async () => {
  HASH = await hashPassword('secret', { logN: 10 });
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kftpd-keys-'));
});
after(() => fsp.rm(dir, { recursive: true, force: true }));

describe('authorized_keys lines', () => {
  it('parses type, blob and comment', () => {
    const { line, blob } = ed25519Line('alice@laptop two');
    const key = parseAuthorizedKey(line);
    assert.ok(!('error' in key));
    assert.equal(key.type, 'ssh-ed25519');
    assert.ok(key.blob.equals(blob));
    assert.equal(key.comment, 'alice@laptop two');
  });

  it('refuses options, unknown types, bad base64 and a blob of another type', () => {
    const { line } = ed25519Line();
    assert.match((parseAuthorizedKey(`no-pty ${line}`) as { error: string }).error, /not supported/);
    assert.match((parseAuthorizedKey('ssh-dss AAAA') as { error: string }).error, /not supported/);
    assert.match((parseAuthorizedKey('ssh-ed25519 !!!') as { error: string }).error, /not base64/);
    assert.match((parseAuthorizedKey(line.replace('ssh-ed25519', 'ssh-rsa')) as { error: string }).error, /does not match/);
  });
});

describe('users file publicKeys', () => {
  it('reads the keys into blobs and reports a bad line with its path', () => {
    const { line, blob } = ed25519Line();
    const [user] = parseUsersFile(`users:\n  - name: alice\n    password: "${HASH}"\n    publicKeys: ["${line}"]\n`);
    assert.ok(user?.publicKeys?.[0]?.equals(blob));
    try {
      parseUsersFile(`users:\n  - name: alice\n    password: "${HASH}"\n    publicKeys: ["${line}", "ssh-ed25519 AAAA"]\n`);
      assert.fail('expected a UsersFileError');
    } catch (error) {
      assert.ok(error instanceof UsersFileError);
      assert.deepEqual(error.problems, ['users.0.publicKeys.1: key data does not match its type']);
    }
  });

  it('FileAuthenticator: a listed key logs in, another key and a key from a denied address do not, the password still works', async () => {
    const listed = ed25519Line();
    const other = ed25519Line();
    const file = path.join(dir, 'users.yaml');
    await upsertUserInFile(file, { name: 'alice', passwordHash: HASH, home: '/alice', publicKeys: [listed.line], denyFrom: ['10.9.0.0/16'] });
    const auth = new FileAuthenticator({ file, reloadIntervalMs: 1000, anonymous: { enabled: false, home: '/pub' } });
    await auth.start();
    try {
      const attempt = { username: 'alice', password: '', remoteAddress: '127.0.0.1', tls: true };
      assert.equal((await auth.authenticate({ ...attempt, publicKey: listed.blob })).ok, true);
      assert.deepEqual(await auth.authenticate({ ...attempt, publicKey: other.blob }), { ok: false, reason: 'bad-key' });
      assert.deepEqual(await auth.authenticate({ ...attempt, remoteAddress: '10.9.1.1', publicKey: listed.blob }), { ok: false, reason: 'address-not-allowed' });
      assert.deepEqual(await auth.authenticate({ ...attempt, username: 'bob', publicKey: listed.blob }), { ok: false, reason: 'unknown-user' });
      assert.equal((await auth.authenticate({ ...attempt, password: 'secret' })).ok, true);
    } finally {
      await auth.close();
    }
  });
});
