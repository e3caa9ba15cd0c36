/**
 * @module test/unit/auth/users-file.test
 * Users file parsing (defaults, every problem listed with its path, plain text refused) and
 * the atomic add-or-update (other users and comments preserved, mode 0600).
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { hashPassword, verifyPassword } from '../../../src/auth/password-hash.js';
import { UsersFileError, parseUsersFile, upsertUserInFile } from '../../../src/auth/users-file.js';
import { PERMISSIONS } from '../../../src/core/permissions.js';

let HASH: string;
let HASH2: string;

before(async () => {
  HASH = await hashPassword('secret', { logN: 10 });
  HASH2 = await hashPassword('other', { logN: 10 });
});

function problemsOf(text: string): readonly string[] {
  try {
    parseUsersFile(text);
  } catch (error) {
    assert.ok(error instanceof UsersFileError);
    assert.equal(error.code, 'KFTPD_USERS_INVALID');
    for (const p of error.problems) assert.ok(error.message.includes(p));
    return error.problems;
  }
  assert.fail('expected a UsersFileError');
}

describe('parseUsersFile', () => {
  it('applies defaults', () => {
    const [alice, ...rest] = parseUsersFile(`users:\n  - name: alice\n    password: "${HASH}"\n`);
    assert.equal(rest.length, 0);
    assert.ok(alice);
    assert.equal(alice.name, 'alice');
    assert.equal(alice.passwordHash, HASH);
    assert.equal(alice.home, '/alice');
    assert.equal(alice.enabled, true);
    assert.deepEqual([...alice.permissions].sort(), [...PERMISSIONS].sort());
  });

  it('reads every field, with shorthands and single permissions', () => {
    const users = parseUsersFile(
      [
        'users:',
        '  - name: bob',
        `    password: "${HASH}"`,
        '    home: /shared/bob',
        '    permissions: [read-only]',
        '    enabled: false',
        '  - name: carol smith',
        `    password: '${HASH2}'`,
        '    home: /',
        '    permissions: [list, download, upload]',
        '  - name: Bob',
        `    password: "${HASH}"`,
        '    permissions: [all]',
        '  - name: dave',
        `    password: "${HASH}"`,
        '    permissions: []',
      ].join('\n'),
    );
    assert.deepEqual(
      users.map((u) => [u.name, u.home, [...u.permissions].sort().join(','), u.enabled]),
      [
        ['bob', '/shared/bob', 'download,list', false],
        ['carol smith', '/', 'download,list,upload', true],
        ['Bob', '/Bob', [...PERMISSIONS].sort().join(','), true],
        ['dave', '/dave', '', true],
      ],
    );
  });

  it('treats an empty file or an empty list as no users', () => {
    assert.deepEqual(parseUsersFile(''), []);
    assert.deepEqual(parseUsersFile('# nobody yet\n'), []);
    assert.deepEqual(parseUsersFile('users: []\n'), []);
  });

  it('refuses plain-text passwords, pointing at kftpd hash-password, without echoing them', () => {
    const problems = problemsOf('users:\n  - name: alice\n    password: hunter2-is-my-password\n');
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^users\.0\.password: .*plain-text.*`kftpd hash-password`/);
    assert.ok(!problems.join('\n').includes('hunter2'));
    const broken = problemsOf('users:\n  - name: alice\n    password: "$scrypt$ln=10,r=8,p=1$nope$nope"\n');
    assert.match(broken[0] ?? '', /^users\.0\.password: is not a valid scrypt hash/);
  });

  it('lists every problem with its path', () => {
    const text = [
      'users:',
      '  - name: alice',
      '    password: plaintext',
      '  - name: a/b',
      `    password: "${HASH}"`,
      '  - name: carol',
      `    password: "${HASH}"`,
      '    permissions: [read-only, fly]',
      '  - name: alice',
      `    password: "${HASH}"`,
      '  - name: eve',
      `    passwd: "${HASH}"`,
      '  - name: frank',
      `    password: "${HASH}"`,
      '    home: ../etc',
      '    enabled: "yes"',
      `  - name: "${'x'.repeat(65)}"`,
      `    password: "${HASH}"`,
      '  - name: ""',
      `    password: "${HASH}"`,
      '  - name: "bell\\a"',
      `    password: "${HASH}"`,
      '  - name: FTP',
      `    password: "${HASH}"`,
      '  - name: grace',
      `    password: "${HASH}"`,
      '    home: /a/./b',
      '  - name: ".."',
      `    password: "${HASH}"`,
    ].join('\n');
    const problems = problemsOf(text);
    const expectPrefix = [
      'users.0.password: ',
      'users.1.name: ',
      'users.2.permissions.1: unknown permission "fly"',
      'users.3.name: duplicate user name "alice" (also users.0)',
      'users.4: ',
      'users.4.password: is required',
      'users.5.home: ',
      'users.5.enabled: ',
      'users.6.name: must be at most 64 characters',
      'users.7.name: must not be empty',
      'users.8.name: must not contain control characters',
      'users.9.name: is reserved for anonymous login',
      'users.10.home: ',
      'users.11.name: must not be "." or ".."',
    ];
    for (const prefix of expectPrefix) {
      assert.ok(
        problems.some((p) => p.startsWith(prefix)),
        `no problem starting with ${JSON.stringify(prefix)} in:\n${problems.join('\n')}`,
      );
    }
    assert.ok(problems.some((p) => p.startsWith('users.4: ') && p.includes('passwd')));
  });

  it('reports structural and YAML syntax problems', () => {
    assert.match(problemsOf('users: alice\n')[0] ?? '', /^users: must be a list of users/);
    assert.match(problemsOf('- alice\n')[0] ?? '', /^\(file\): /);
    assert.match(problemsOf('usres: []\n')[0] ?? '', /usres/);
    assert.match(problemsOf('users:\n  - name: [unclosed\n')[0] ?? '', /^yaml: /);
    assert.match(problemsOf('users: []\nusers: []\n')[0] ?? '', /^yaml: /);
  });

  it('names the source in the message when given', () => {
    assert.throws(() => parseUsersFile('users: 1', '/etc/kftpd/users.yaml'), /invalid users file \/etc\/kftpd\/users\.yaml/);
  });
});

describe('upsertUserInFile', () => {
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kftpd-users-'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('creates the file and its directories with mode 0600', async () => {
    const file = path.join(dir, 'new', 'deeper', 'users.yaml');
    await upsertUserInFile(file, { name: 'alice', passwordHash: HASH });
    const st = await fsp.stat(file);
    assert.equal(st.mode & 0o777, 0o600);
    const [alice] = parseUsersFile(await fsp.readFile(file, 'utf8'));
    assert.equal(alice?.name, 'alice');
    assert.equal(alice?.home, '/alice');
    assert.equal(await verifyPassword('secret', alice?.passwordHash ?? ''), true);
    assert.deepEqual(await fsp.readdir(path.dirname(file)), ['users.yaml']);
  });

  it('replaces one user and keeps the others, their comments and unspecified fields', async () => {
    const file = path.join(dir, 'keep.yaml');
    await fsp.writeFile(
      file,
      [
        '# managed by hand',
        'users:',
        '  # the boss',
        '  - name: alice',
        `    password: "${HASH}"`,
        '    home: /team/alice',
        '    permissions: [read-only]',
        '  - name: bob',
        `    password: "${HASH}"`,
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    await upsertUserInFile(file, { name: 'alice', passwordHash: HASH2 });
    await upsertUserInFile(file, { name: 'bob', passwordHash: HASH, home: '/b', permissions: ['list', 'upload'], enabled: false });
    await upsertUserInFile(file, { name: 'carol', passwordHash: HASH2, home: '/' });
    const text = await fsp.readFile(file, 'utf8');
    assert.match(text, /# managed by hand/);
    assert.match(text, /# the boss/);
    const users = parseUsersFile(text);
    assert.deepEqual(
      users.map((u) => [u.name, u.passwordHash === HASH2, u.home, [...u.permissions].sort().join(','), u.enabled]),
      [
        ['alice', true, '/team/alice', 'download,list', true],
        ['bob', false, '/b', 'list,upload', false],
        ['carol', true, '/', [...PERMISSIONS].sort().join(','), true],
      ],
    );
    assert.equal((await fsp.stat(file)).mode & 0o777, 0o600);
    assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.endsWith('.tmp')), []);
    assert.ok(Array.isArray((YAML.parse(text) as { users: unknown }).users));
  });

  it('writes nothing when the result would be invalid', async () => {
    const file = path.join(dir, 'invalid-entry.yaml');
    await upsertUserInFile(file, { name: 'alice', passwordHash: HASH });
    const before = await fsp.readFile(file, 'utf8');
    await assert.rejects(upsertUserInFile(file, { name: 'a/b', passwordHash: HASH }), (error: unknown) => {
      assert.ok(error instanceof UsersFileError);
      assert.ok(error.problems.some((p) => p.startsWith('users.1.name: ')));
      return true;
    });
    await assert.rejects(upsertUserInFile(file, { name: 'x', passwordHash: 'plain' }), UsersFileError);
    await assert.rejects(upsertUserInFile(file, { name: 'x', passwordHash: HASH, permissions: ['nope'] }), UsersFileError);
    await assert.rejects(upsertUserInFile(file, { name: 'x', passwordHash: HASH, home: 'relative' }), UsersFileError);
    assert.equal(await fsp.readFile(file, 'utf8'), before);
  });

  it('refuses to rewrite a file that is already invalid', async () => {
    const file = path.join(dir, 'broken.yaml');
    await fsp.writeFile(file, 'users:\n  - name: alice\n    password: plaintext\n');
    await assert.rejects(upsertUserInFile(file, { name: 'bob', passwordHash: HASH }), UsersFileError);
    assert.equal(await fsp.readFile(file, 'utf8'), 'users:\n  - name: alice\n    password: plaintext\n');
  });

  it('turns a flow-style empty list into a readable block list', async () => {
    const file = path.join(dir, 'flow.yaml');
    await fsp.writeFile(file, 'users: []\n');
    await upsertUserInFile(file, { name: 'alice', passwordHash: HASH });
    const text = await fsp.readFile(file, 'utf8');
    assert.match(text, /^users:\n {2}- name: alice\n/);
    assert.equal(parseUsersFile(text).length, 1);
  });
});
