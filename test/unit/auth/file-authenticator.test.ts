/**
 * @module test/unit/auth/file-authenticator.test
 * FileAuthenticator against real users files in a temp directory: login outcomes, anonymous
 * access, and reloads (plain rewrite, Kubernetes `..data` symlink swap, broken file, SIGHUP-style
 * reload()). Cheap hashes (logN 10) and a 50 ms poll keep it fast.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileAuthenticator } from '../../../src/auth/file-authenticator.js';
import type { UsersReloadEvent } from '../../../src/auth/file-authenticator.js';
import { hashPassword } from '../../../src/auth/password-hash.js';
import type { AuthResult } from '../../../src/auth/types.js';
import { UsersFileError } from '../../../src/auth/users-file.js';

interface U {
  name: string;
  password: string;
  home?: string;
  permissions?: string[];
  enabled?: boolean;
}

const hashes = new Map<string, string>();
async function hashFor(password: string): Promise<string> {
  let h = hashes.get(password);
  if (!h) {
    h = await hashPassword(password, { logN: 10 });
    hashes.set(password, h);
  }
  return h;
}

async function usersYaml(users: U[]): Promise<string> {
  const lines = ['users:'];
  for (const u of users) {
    lines.push(`  - name: ${JSON.stringify(u.name)}`, `    password: ${JSON.stringify(await hashFor(u.password))}`);
    if (u.home) lines.push(`    home: ${JSON.stringify(u.home)}`);
    if (u.permissions) lines.push(`    permissions: ${JSON.stringify(u.permissions)}`);
    if (u.enabled !== undefined) lines.push(`    enabled: ${u.enabled}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Replaces a file atomically so the poller never reads half a file. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${Math.random().toString(36).slice(2)}.tmp`;
  await fsp.writeFile(tmp, text);
  await fsp.rename(tmp, file);
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await sleep(20);
  }
}

function login(auth: FileAuthenticator, username: string, password: string): Promise<AuthResult> {
  return auth.authenticate({ username, password, remoteAddress: '127.0.0.1', tls: false });
}

const BASE_USERS: U[] = [
  { name: 'alice', password: 'alice-pw', home: '/alice', permissions: ['read-write'] },
  { name: 'ro', password: 'ro-pw', permissions: ['read-only'] },
  { name: 'off', password: 'off-pw', enabled: false },
];

describe('FileAuthenticator', () => {
  let dir: string;
  const open: FileAuthenticator[] = [];
  let counter = 0;

  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kftpd-auth-'));
  });
  afterEach(async () => {
    for (const a of open.splice(0)) await a.close();
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  async function setup(
    users: U[] = BASE_USERS,
    options: { anonymous?: boolean; reloadIntervalMs?: number; cacheVerifications?: boolean } = {},
  ): Promise<{ auth: FileAuthenticator; file: string; events: UsersReloadEvent[] }> {
    const file = path.join(dir, `users-${++counter}.yaml`);
    await fsp.writeFile(file, await usersYaml(users));
    const events: UsersReloadEvent[] = [];
    const auth = new FileAuthenticator({
      file,
      reloadIntervalMs: options.reloadIntervalMs ?? 50,
      anonymous: { enabled: options.anonymous ?? false, home: '/pub' },
      ...(options.cacheVerifications === undefined ? {} : { cacheVerifications: options.cacheVerifications }),
      onReload: (event) => events.push(event),
    });
    open.push(auth);
    await auth.start();
    return { auth, file, events };
  }

  it('logs a user in with its home and permissions', async () => {
    const { auth } = await setup();
    assert.equal(auth.ready(), true);
    const result = await login(auth, 'alice', 'alice-pw');
    assert.ok(result.ok);
    assert.equal(result.principal.name, 'alice');
    assert.equal(result.principal.home, '/alice');
    assert.equal(result.principal.anonymous, false);
    assert.ok(result.principal.permissions.has('upload'));
    const ro = await login(auth, 'ro', 'ro-pw');
    assert.ok(ro.ok);
    assert.equal(ro.principal.home, '/ro');
    assert.deepEqual([...ro.principal.permissions].sort(), ['download', 'list']);
    // Cached the second time; same answer.
    assert.ok((await login(auth, 'alice', 'alice-pw')).ok);
  });

  it('tells wrong password, unknown user and disabled user apart (for logs)', async () => {
    const { auth } = await setup();
    assert.deepEqual(await login(auth, 'alice', 'wrong'), { ok: false, reason: 'bad-password' });
    assert.deepEqual(await login(auth, 'Alice', 'alice-pw'), { ok: false, reason: 'unknown-user' });
    assert.deepEqual(await login(auth, 'mallory', 'x'), { ok: false, reason: 'unknown-user' });
    assert.deepEqual(await login(auth, 'off', 'off-pw'), { ok: false, reason: 'disabled' });
    assert.deepEqual(await login(auth, 'off', 'wrong'), { ok: false, reason: 'disabled' });
    assert.deepEqual(await login(auth, '', ''), { ok: false, reason: 'unknown-user' });
  });

  it('spends scrypt time on unknown users too', async () => {
    // Costlier hashes make the difference measurable; the bound is loose to stay robust.
    const hash = await hashPassword('pw', { logN: 14 });
    const file = path.join(dir, 'timing.yaml');
    await fsp.writeFile(file, `users:\n  - name: known\n    password: "${hash}"\n`);
    const auth = new FileAuthenticator({ file, reloadIntervalMs: 1000, anonymous: { enabled: false, home: '/' } });
    open.push(auth);
    await auth.start();
    const time = async (name: string): Promise<number> => {
      const t0 = process.hrtime.bigint();
      await login(auth, name, 'wrong');
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    await time('known');
    const known = Math.min(await time('known'), await time('known'));
    const unknown = Math.min(await time('nobody'), await time('nobody'));
    assert.ok(unknown > known * 0.3, `unknown ${unknown} ms vs known ${known} ms`);
  });

  it('lets anonymous/ftp in read-only when enabled', async () => {
    const { auth } = await setup(BASE_USERS, { anonymous: true });
    for (const name of ['anonymous', 'ftp', 'Anonymous', 'FTP']) {
      const result = await login(auth, name, 'guest@example.com');
      assert.ok(result.ok, name);
      assert.equal(result.principal.anonymous, true);
      assert.equal(result.principal.home, '/pub');
      assert.deepEqual([...result.principal.permissions].sort(), ['download', 'list']);
    }
  });

  it('refuses anonymous when disabled', async () => {
    const { auth } = await setup();
    assert.deepEqual(await login(auth, 'anonymous', ''), { ok: false, reason: 'anonymous-disabled' });
    assert.deepEqual(await login(auth, 'ftp', 'x'), { ok: false, reason: 'anonymous-disabled' });
  });

  it('start() throws for a missing or invalid file and is not ready', async () => {
    const missing = new FileAuthenticator({ file: path.join(dir, 'nope.yaml'), reloadIntervalMs: 50, anonymous: { enabled: false, home: '/' } });
    open.push(missing);
    await assert.rejects(missing.start(), { code: 'ENOENT' });
    assert.equal(missing.ready(), false);
    const badFile = path.join(dir, 'bad.yaml');
    await fsp.writeFile(badFile, 'users:\n  - name: x\n    password: plain\n');
    const bad = new FileAuthenticator({ file: badFile, reloadIntervalMs: 50, anonymous: { enabled: false, home: '/' } });
    open.push(bad);
    await assert.rejects(bad.start(), UsersFileError);
    assert.equal(bad.ready(), false);
  });

  it('picks up a rewritten file; principals already handed out are unaffected', async () => {
    const { auth, file, events } = await setup();
    const before = await login(auth, 'alice', 'alice-pw');
    assert.ok(before.ok);
    await writeAtomic(
      file,
      await usersYaml([
        { name: 'alice', password: 'alice-pw', home: '/moved', permissions: ['read-only'] },
        { name: 'bob', password: 'bob-pw' },
      ]),
    );
    await waitFor(async () => (await login(auth, 'bob', 'bob-pw')).ok);
    const afterReload = await login(auth, 'alice', 'alice-pw');
    assert.ok(afterReload.ok);
    assert.equal(afterReload.principal.home, '/moved');
    assert.equal(before.principal.home, '/alice');
    assert.ok(before.principal.permissions.has('upload'));
    assert.deepEqual(await login(auth, 'ro', 'ro-pw'), { ok: false, reason: 'unknown-user' });
    assert.deepEqual(events.at(-1), { ok: true, users: 2 });
  });

  it('follows a Kubernetes-style ..data symlink swap', async () => {
    const secretDir = path.join(dir, 'secret-volume');
    await fsp.mkdir(path.join(secretDir, 'v1'), { recursive: true });
    await fsp.mkdir(path.join(secretDir, 'v2'));
    await fsp.writeFile(path.join(secretDir, 'v1', 'users.yaml'), await usersYaml([{ name: 'alice', password: 'alice-pw' }]));
    await fsp.writeFile(
      path.join(secretDir, 'v2', 'users.yaml'),
      await usersYaml([{ name: 'alice', password: 'alice-pw' }, { name: 'bob', password: 'bob-pw' }]),
    );
    await fsp.symlink('v1', path.join(secretDir, '..data'));
    await fsp.symlink('..data/users.yaml', path.join(secretDir, 'users.yaml'));
    const events: UsersReloadEvent[] = [];
    const auth = new FileAuthenticator({
      file: path.join(secretDir, 'users.yaml'),
      reloadIntervalMs: 50,
      anonymous: { enabled: false, home: '/' },
      onReload: (e) => events.push(e),
    });
    open.push(auth);
    await auth.start();
    const alice = await login(auth, 'alice', 'alice-pw');
    assert.ok(alice.ok);
    assert.deepEqual(await login(auth, 'bob', 'bob-pw'), { ok: false, reason: 'unknown-user' });
    // What the kubelet does: a new link, renamed over ..data in one step.
    await fsp.symlink('v2', path.join(secretDir, '..data_tmp'));
    await fsp.rename(path.join(secretDir, '..data_tmp'), path.join(secretDir, '..data'));
    await waitFor(async () => (await login(auth, 'bob', 'bob-pw')).ok);
    assert.ok((await login(auth, 'alice', 'alice-pw')).ok);
    assert.equal(alice.principal.name, 'alice');
    assert.ok(events.some((e) => e.ok && e.users === 2));
  });

  it('keeps the previous users when the new file is broken, then recovers', async () => {
    const { auth, file, events } = await setup();
    await writeAtomic(file, 'users:\n  - name: alice\n    password: now-plain-text\n');
    await waitFor(() => events.some((e) => !e.ok));
    const failure = events.find((e) => !e.ok);
    assert.ok(failure && !failure.ok && failure.error instanceof UsersFileError);
    assert.ok((await login(auth, 'alice', 'alice-pw')).ok);
    assert.ok((await login(auth, 'ro', 'ro-pw')).ok);
    assert.equal(auth.ready(), true);
    await fsp.rm(file);
    await waitFor(() => events.filter((e) => !e.ok).length >= 2);
    assert.ok((await login(auth, 'alice', 'alice-pw')).ok);
    await writeAtomic(file, await usersYaml([{ name: 'carol', password: 'carol-pw' }]));
    await waitFor(async () => (await login(auth, 'carol', 'carol-pw')).ok);
  });

  it('reload() applies changes at once and a changed hash is not served from the cache', async () => {
    const { auth, file, events } = await setup(BASE_USERS, { reloadIntervalMs: 60_000 });
    assert.ok((await login(auth, 'alice', 'alice-pw')).ok);
    await writeAtomic(file, await usersYaml([{ name: 'alice', password: 'new-pw', home: '/alice' }]));
    await auth.reload();
    assert.deepEqual(events, [{ ok: true, users: 1 }]);
    assert.deepEqual(await login(auth, 'alice', 'alice-pw'), { ok: false, reason: 'bad-password' });
    assert.ok((await login(auth, 'alice', 'new-pw')).ok);
    // A broken file via reload() resolves (never rejects) and reports.
    await writeAtomic(file, '{{{');
    await auth.reload();
    assert.equal(events.at(-1)?.ok, false);
    assert.ok((await login(auth, 'alice', 'new-pw')).ok);
  });

  it('answers repeated good logins from the verification cache, never wrong passwords', async () => {
    const { auth } = await setup();
    for (let i = 0; i < 3; i++) assert.ok((await login(auth, 'alice', 'alice-pw')).ok);
    assert.deepEqual(auth.verificationStats(), { hashes: 1, cacheHits: 2 });
    for (let i = 0; i < 2; i++) assert.deepEqual(await login(auth, 'alice', 'wrong'), { ok: false, reason: 'bad-password' });
    assert.deepEqual(auth.verificationStats(), { hashes: 3, cacheHits: 2 });
  });

  it('with cacheVerifications: false (users.verificationCache) every login runs the hash', async () => {
    const { auth } = await setup(BASE_USERS, { cacheVerifications: false });
    for (let i = 0; i < 3; i++) assert.ok((await login(auth, 'alice', 'alice-pw')).ok);
    assert.deepEqual(auth.verificationStats(), { hashes: 3, cacheHits: 0 });
  });

  it('close() stops watching and readiness', async () => {
    const { auth, file, events } = await setup();
    await auth.close();
    assert.equal(auth.ready(), false);
    await writeAtomic(file, await usersYaml([{ name: 'bob', password: 'bob-pw' }]));
    await sleep(250);
    assert.deepEqual(events, []);
  });
});
