/**
 * @module test/contract/local-storage.test
 * Runs the storage contract against LocalStorage with fsync on (the plain runs, resumable and
 * atomic, are in storage.test.ts), plus behaviour only the local adapter has (sparse files beyond 4 GiB, home creation, errno mapping, fsync).
 * Must not: leave anything behind in the temp directory.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isStorageError } from '../../src/storage/errors.js';
import { LocalStorage, LocalStorageProvider, toStorageError } from '../../src/storage/local/local-storage.js';
import { createLocalStorage, readAll, rejectsWith, STORAGE_ADAPTERS, writeAll } from '../helpers/storage.js';
import { runStorageContract } from './storage.contract.js';

const local = STORAGE_ADAPTERS.find((a) => a.name === 'local');
assert.ok(local);
for (const uploadMode of ['resumable', 'atomic'] as const) {
  runStorageContract({ name: `local (fsync) × ${uploadMode}`, capabilities: local.capabilities, uploadMode, create: () => createLocalStorage({ fsync: true, uploadMode }) });
}

describe('LocalStorage specifics', () => {
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kftpd-local-'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('forHome creates a nested home inside the root and returns a LocalStorage', async () => {
    const provider = new LocalStorageProvider({ root: path.join(dir, 'root1') });
    await fsp.mkdir(path.join(dir, 'root1'));
    const backend = await provider.forHome('/team/alice');
    assert.ok(backend instanceof LocalStorage);
    assert.ok((await fsp.stat(path.join(dir, 'root1', 'team', 'alice'))).isDirectory());
    await writeAll(backend, '/f', 'x');
    assert.equal(await fsp.readFile(path.join(dir, 'root1', 'team', 'alice', 'f'), 'utf8'), 'x');
    // Idempotent for an existing home.
    await provider.forHome('/team/alice');
    await provider.ping();
    await backend.ping();
  });

  it('forHome rejects non-canonical homes and homes below a file', async () => {
    const root = path.join(dir, 'root2');
    await fsp.mkdir(root);
    await fsp.writeFile(path.join(root, 'file'), 'x');
    const provider = new LocalStorageProvider({ root });
    await rejectsWith(() => provider.forHome('alice'), 'INVALID_NAME');
    await rejectsWith(() => provider.forHome('/../alice'), 'INVALID_NAME');
    await rejectsWith(() => provider.forHome('/file'), 'NOT_A_DIRECTORY');
  });

  it('ping fails for a missing root or a root that is a file', async () => {
    await rejectsWith(() => new LocalStorageProvider({ root: path.join(dir, 'nope') }).ping(), 'NOT_FOUND');
    await fsp.writeFile(path.join(dir, 'plain'), 'x');
    await rejectsWith(() => new LocalStorageProvider({ root: path.join(dir, 'plain') }).ping(), 'NOT_A_DIRECTORY');
  });

  it('reads, resumes and appends beyond 4 GiB (sparse file)', async () => {
    const root = path.join(dir, 'root3');
    await fsp.mkdir(root);
    const backend = await new LocalStorageProvider({ root }).forHome('/');
    const offset = 5 * 1024 * 1024 * 1024 + 7;
    const fh = await fsp.open(path.join(root, 'sparse'), 'w');
    await fh.write(Buffer.from('tail'), 0, 4, offset);
    await fh.close();
    assert.equal((await backend.stat('/sparse')).size, offset + 4);
    assert.equal((await readAll(backend, '/sparse', offset)).toString(), 'tail');
    await writeAll(backend, '/sparse', 'MORE', 'resume', offset + 2);
    assert.equal((await readAll(backend, '/sparse', offset)).toString(), 'taMORE');
    await writeAll(backend, '/sparse', '!', 'append');
    assert.equal((await readAll(backend, '/sparse', offset)).toString(), 'taMORE!');
    assert.equal((await backend.stat('/sparse')).size, offset + 7);
  });

  it('reports file modes and dev/ino unique ids', async () => {
    const root = path.join(dir, 'root4');
    await fsp.mkdir(root);
    const backend = await new LocalStorageProvider({ root }).forHome('/');
    await writeAll(backend, '/f', 'x');
    await fsp.chmod(path.join(root, 'f'), 0o640);
    const st = await backend.stat('/f');
    const native = await fsp.stat(path.join(root, 'f'));
    assert.equal(st.mode, 0o640);
    assert.equal(st.uniqueId, `${native.dev.toString(16)}g${native.ino.toString(16)}`);
  });

  it('refuses FIFOs and other special files without blocking', async () => {
    const root = path.join(dir, 'root5');
    await fsp.mkdir(root);
    const backend = await new LocalStorageProvider({ root }).forHome('/');
    const { execFileSync } = await import('node:child_process');
    try {
      execFileSync('mkfifo', [path.join(root, 'pipe')]);
    } catch {
      return; // no mkfifo on this system
    }
    await rejectsWith(() => backend.openRead('/pipe'), 'PERMISSION_DENIED');
    assert.equal((await backend.stat('/pipe')).type, 'other');
  });

  it('maps errno codes and keeps host paths out of messages', () => {
    const cases: Array<[string, string]> = [
      ['ENOENT', 'NOT_FOUND'],
      ['EEXIST', 'ALREADY_EXISTS'],
      ['ENOTDIR', 'NOT_A_DIRECTORY'],
      ['EISDIR', 'IS_A_DIRECTORY'],
      ['ENOTEMPTY', 'NOT_EMPTY'],
      ['EACCES', 'PERMISSION_DENIED'],
      ['EPERM', 'PERMISSION_DENIED'],
      ['ENOSPC', 'NO_SPACE'],
      ['EDQUOT', 'QUOTA_EXCEEDED'],
      ['ENAMETOOLONG', 'INVALID_NAME'],
      ['ELOOP', 'OUTSIDE_ROOT'],
      ['EIO', 'UNAVAILABLE'],
    ];
    for (const [errno, code] of cases) {
      const native = Object.assign(new Error(`${errno}: open '/srv/secret/host/path'`), { code: errno });
      const mapped = toStorageError(native);
      assert.ok(isStorageError(mapped));
      assert.equal(mapped.code, code);
      assert.equal(mapped.cause, native);
      assert.ok(!mapped.message.includes('/srv'));
    }
    assert.equal(toStorageError('weird').code, 'UNAVAILABLE');
  });

  it('real NOT_FOUND errors carry the native cause but not the host path', async () => {
    const root = path.join(dir, 'root6');
    await fsp.mkdir(root);
    const backend = await new LocalStorageProvider({ root }).forHome('/');
    await assert.rejects(backend.openRead('/missing'), (error: unknown) => {
      assert.ok(isStorageError(error));
      assert.equal(error.code, 'NOT_FOUND');
      assert.ok(!error.message.includes(root));
      assert.ok(error.cause instanceof Error);
      return true;
    });
  });
});
