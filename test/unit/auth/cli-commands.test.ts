/**
 * @module test/unit/auth/cli-commands.test
 * `kftpd hash-password` and `kftpd user add` through their run functions with a fake io.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyPassword } from '../../../src/auth/password-hash.js';
import { parseUsersFile } from '../../../src/auth/users-file.js';
import { runHashPassword } from '../../../src/cli/commands/hash-password.js';
import { runUserAdd } from '../../../src/cli/commands/user-add.js';

interface FakeIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readStdin: () => Promise<string>;
  env: NodeJS.ProcessEnv;
  out: () => string;
  err: () => string;
}

function fakeIo(stdin = '', env: NodeJS.ProcessEnv = {}): FakeIo {
  let out = '';
  let err = '';
  return {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    readStdin: async () => stdin,
    env,
    out: () => out,
    err: () => err,
  };
}

describe('runHashPassword', () => {
  it('hashes --password', async () => {
    const io = fakeIo();
    assert.equal(await runHashPassword(['--password', 'p@ss word', '--log-n', '10'], io), 0);
    const hash = io.out().trim();
    assert.match(hash, /^\$scrypt\$ln=10,r=8,p=1\$/);
    assert.equal(io.out().split('\n').length, 2);
    assert.equal(await verifyPassword('p@ss word', hash), true);
    assert.ok(!io.out().includes('p@ss word') && !io.err().includes('p@ss word'));
  });

  it('reads the first line of stdin (LF or CRLF)', async () => {
    for (const stdin of ['from-stdin\nsecond line\n', 'from-stdin\r\n', 'from-stdin']) {
      const io = fakeIo(stdin);
      assert.equal(await runHashPassword(['--log-n=10'], io), 0);
      assert.equal(await verifyPassword('from-stdin', io.out().trim()), true);
    }
  });

  it('uses the default cost without --log-n', async () => {
    const io = fakeIo('pw\n');
    assert.equal(await runHashPassword([], io), 0);
    assert.match(io.out(), /^\$scrypt\$ln=15,/);
  });

  it('fails without a password and on usage errors', async () => {
    const empty = fakeIo('');
    assert.equal(await runHashPassword([], empty), 1);
    assert.match(empty.err(), /no password/);
    assert.equal(empty.out(), '');
    const unknown = fakeIo();
    assert.equal(await runHashPassword(['--pasword', 'x'], unknown), 2);
    assert.match(unknown.err(), /usage: kftpd hash-password/);
    assert.equal(await runHashPassword(['--password', 'x', '--log-n', '9'], fakeIo()), 2);
    assert.equal(await runHashPassword(['stray'], fakeIo()), 2);
  });

  it('prints help', async () => {
    const io = fakeIo();
    assert.equal(await runHashPassword(['--help'], io), 0);
    assert.match(io.out(), /usage: kftpd hash-password/);
  });
});

describe('runUserAdd', () => {
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kftpd-cli-'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  async function usersIn(file: string) {
    return parseUsersFile(await fsp.readFile(file, 'utf8'));
  }

  it('adds a user with every option, mode 0600, printing no secret', async () => {
    const file = path.join(dir, 'a', 'users.yaml');
    const io = fakeIo();
    const code = await runUserAdd(
      ['alice', '--file', file, '--password', 'alice-pw', '--home', '/team/alice', '--permissions', 'list, download,upload', '--log-n', '10'],
      io,
    );
    assert.equal(code, 0, io.err());
    assert.equal(io.out(), '');
    assert.match(io.err(), /user "alice" saved/);
    assert.ok(!io.err().includes('alice-pw'));
    const [alice] = await usersIn(file);
    assert.equal(alice?.home, '/team/alice');
    assert.deepEqual([...(alice?.permissions ?? [])].sort(), ['download', 'list', 'upload']);
    assert.equal(alice?.enabled, true);
    assert.equal(await verifyPassword('alice-pw', alice?.passwordHash ?? ''), true);
    assert.equal((await fsp.stat(file)).mode & 0o777, 0o600);
  });

  it('reads the password from stdin, and updates an existing user keeping its settings', async () => {
    const file = path.join(dir, 'update.yaml');
    assert.equal(await runUserAdd(['bob', '--file', file, '--password', 'one', '--home', '/b', '--permissions', 'read-only', '--log-n', '10'], fakeIo()), 0);
    assert.equal(await runUserAdd(['carol', '--file', file, '--password', 'c', '--log-n', '10'], fakeIo()), 0);
    const io = fakeIo('two\n');
    assert.equal(await runUserAdd(['bob', '--file', file, '--log-n', '10', '--disabled'], io), 0);
    assert.equal(io.out(), '');
    const users = await usersIn(file);
    assert.deepEqual(users.map((u) => u.name), ['bob', 'carol']);
    const bob = users[0];
    assert.equal(bob?.home, '/b');
    assert.deepEqual([...(bob?.permissions ?? [])].sort(), ['download', 'list']);
    assert.equal(bob?.enabled, false);
    assert.equal(await verifyPassword('two', bob?.passwordHash ?? ''), true);
    // Re-adding without --disabled enables again.
    assert.equal(await runUserAdd(['bob', '--file', file, '--password', 'two', '--log-n', '10'], fakeIo()), 0);
    assert.equal((await usersIn(file))[0]?.enabled, true);
  });

  it('generates and prints a 20-character password when none is given', async () => {
    const file = path.join(dir, 'generated.yaml');
    const io = fakeIo('');
    assert.equal(await runUserAdd(['dave', '--file', file, '--log-n', '10'], io), 0);
    const password = io.out().trim();
    assert.match(password, /^[A-Za-z0-9]{20}$/);
    assert.match(io.err(), /shown only this once/);
    const [dave] = await usersIn(file);
    assert.equal(dave?.home, '/dave');
    assert.equal(await verifyPassword(password, dave?.passwordHash ?? ''), true);
  });

  it('takes the file from KFTPD_USERS_FILE', async () => {
    const file = path.join(dir, 'env.yaml');
    const io = fakeIo('', { KFTPD_USERS_FILE: file });
    assert.equal(await runUserAdd(['erin', '--password', 'x', '--log-n', '10'], io), 0);
    assert.deepEqual((await usersIn(file)).map((u) => u.name), ['erin']);
  });

  it('reports usage errors with exit code 2 and writes nothing', async () => {
    const file = path.join(dir, 'usage.yaml');
    const cases: string[][] = [
      ['--file', file, '--password', 'x'],
      ['frank', '--password', 'x'],
      ['frank', 'extra', '--file', file, '--password', 'x'],
      ['frank', '--file', file, '--password', 'x', '--permissions', 'read-only,fly'],
      ['frank', '--file', file, '--password', 'x', '--bogus'],
      ['frank', '--file', file, '--password', 'x', '--log-n', '30'],
    ];
    for (const args of cases) {
      const io = fakeIo();
      assert.equal(await runUserAdd(args, io), 2, args.join(' '));
      assert.match(io.err(), /usage: kftpd user add/);
    }
    await assert.rejects(fsp.stat(file), { code: 'ENOENT' });
  });

  it('reports an invalid user with exit code 1 and the problem path', async () => {
    const file = path.join(dir, 'invalid.yaml');
    for (const [args, problem] of [
      [['a/b', '--file', file, '--password', 'x', '--log-n', '10'], /users\.0\.name: must not contain "\/"/],
      [['ftp', '--file', file, '--password', 'x', '--log-n', '10'], /users\.0\.name: is reserved/],
      [['gina', '--file', file, '--password', 'x', '--home', 'x/..', '--log-n', '10'], /users\.0\.home: /],
    ] as const) {
      const io = fakeIo();
      assert.equal(await runUserAdd([...args], io), 1);
      assert.match(io.err(), problem);
    }
    await assert.rejects(fsp.stat(file), { code: 'ENOENT' });
  });

  it('prints help', async () => {
    const io = fakeIo();
    assert.equal(await runUserAdd(['--help'], io), 0);
    assert.match(io.out(), /usage: kftpd user add/);
  });
});
