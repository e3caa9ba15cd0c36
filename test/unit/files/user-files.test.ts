/**
 * @module test/unit/files/user-files
 * The file service's rules over the in-memory storage adapter: path limits, permissions
 * (overwrite to replace, the home never removed nor renamed), upload checks before any byte
 * moves, SFTP-style rename without replacement, and an audit record per change with stable
 * codes. FTP's real-socket suites (protocol, security, upload-modes, audit-log) run the same
 * rules end to end through the FTP frontend.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandPermissions } from '../../../src/core/permissions.js';
import type { Principal } from '../../../src/core/principal.js';
import { FileAccessError } from '../../../src/files/file-access-error.js';
import { UserFiles, type FileEventDetail } from '../../../src/files/user-files.js';
import { StorageError } from '../../../src/storage/errors.js';
import { MemoryStorage } from '../../../src/storage/memory/memory-storage.js';
import { writeAll } from '../../helpers/storage.js';

function principal(permissions: readonly string[]): Principal {
  return { name: 'alice', home: '/', permissions: expandPermissions(permissions), anonymous: false };
}

function setup(permissions: readonly string[] = ['read-write'], limits = { maxPathBytes: 64, maxPathDepth: 4 }) {
  const storage = new MemoryStorage();
  const refused: string[] = [];
  const changes: { event: string; result: string; detail: FileEventDetail }[] = [];
  const files = new UserFiles(principal(permissions), storage, limits, {
    refused: (event) => refused.push(event),
    changed: (event, result, detail) => changes.push({ event, result, detail }),
  });
  return { storage, files, refused, changes };
}

const code = (expected: string) => (error: unknown) => (error as { code?: string }).code === expected;

describe('UserFiles (protocol-neutral file rules)', () => {
  it('resolves client paths against the cwd and refuses paths beyond the limits', () => {
    const { files, refused } = setup();
    assert.equal(files.resolve('/a', 'b/../c'), '/a/c');
    assert.equal(files.resolve('/a', '../../..'), '/');
    assert.throws(() => files.resolve('/', '/1/2/3/4/5'), code('PATH_NOT_ALLOWED'));
    assert.throws(() => files.resolve('/', `/${'x'.repeat(70)}`), code('PATH_NOT_ALLOWED'));
    assert.deepEqual(refused, ['path.refused', 'path.refused']);
  });

  it('needs the permission of each operation, and logs the refusal', async () => {
    const { files, storage, refused } = setup(['read-only']);
    await writeAll(storage, '/f.txt', 'x');
    await assert.rejects(files.makeDirectory('/d'), code('PERMISSION_DENIED'));
    await assert.rejects(files.remove('/f.txt'), code('PERMISSION_DENIED'));
    await assert.rejects(files.rename('/f.txt', '/g.txt'), code('PERMISSION_DENIED'));
    await assert.rejects(files.prepareUpload('/new.txt', 'overwrite', 0), code('PERMISSION_DENIED'));
    await assert.rejects(files.setModifiedTime('/f.txt', new Date()), code('PERMISSION_DENIED'));
    assert.equal(refused.length, 5);
    // Reads are allowed.
    const source = await files.openRead('/f.txt');
    source.destroy();
  });

  it('replacing an existing file needs overwrite: upload, rename onto it, resume', async () => {
    const { files, storage } = setup(['list', 'download', 'upload', 'rename']);
    await writeAll(storage, '/old.txt', 'old');
    await writeAll(storage, '/other.txt', 'other');
    await assert.rejects(files.prepareUpload('/old.txt', 'overwrite', 0), code('PERMISSION_DENIED'));
    await assert.rejects(files.prepareUpload('/old.txt', 'append', 0), code('PERMISSION_DENIED'));
    await assert.rejects(files.rename('/other.txt', '/old.txt'), code('PERMISSION_DENIED'));
    const open = await files.prepareUpload('/new.txt', 'overwrite', 0);
    const handle = await open();
    handle.stream.end(Buffer.from('new'));
    await handle.commit();
    assert.equal((await storage.stat('/new.txt')).size, 3);
  });

  it('checks an upload before anything is opened: missing directory, directory, resume past the end', async () => {
    const { files, storage } = setup();
    await writeAll(storage, '/f.txt', 'abc');
    await storage.makeDirectory('/dir');
    await assert.rejects(files.prepareUpload('/missing/f.txt', 'overwrite', 0), code('NO_SUCH_DIRECTORY'));
    await assert.rejects(files.prepareUpload('/dir', 'overwrite', 0), (error) => error instanceof StorageError && error.code === 'IS_A_DIRECTORY');
    await assert.rejects(files.prepareUpload('/f.txt', 'resume', 4), code('RESTART_BEYOND_END'));
    await files.prepareUpload('/f.txt', 'resume', 3);
    // Nothing was truncated by the checks.
    assert.equal((await storage.stat('/f.txt')).size, 3);
    await assert.rejects(files.openRead('/dir'), (error) => error instanceof FileAccessError && error.code === 'NOT_A_FILE');
  });

  it('never removes nor renames the home', async () => {
    const { files } = setup();
    await assert.rejects(files.removeDirectory('/'), code('PERMISSION_DENIED'));
    await assert.rejects(files.rename('/', '/x'), code('PERMISSION_DENIED'));
    await assert.rejects(files.checkRenameSource('/'), code('PERMISSION_DENIED'));
  });

  it('rename without replacement (SFTP v3) refuses an existing target; with replacement it overwrites', async () => {
    const { files, storage } = setup();
    await writeAll(storage, '/a.txt', 'a');
    await writeAll(storage, '/b.txt', 'bb');
    await assert.rejects(files.rename('/a.txt', '/b.txt', { replace: false }), (error) => error instanceof StorageError && error.code === 'ALREADY_EXISTS');
    await files.rename('/a.txt', '/b.txt');
    assert.equal((await storage.stat('/b.txt')).size, 1);
  });

  it('records every change with its result, duration and a stable failure code', async () => {
    const { files, storage, changes } = setup();
    await files.makeDirectory('/d');
    await assert.rejects(files.removeDirectory('/missing'));
    await writeAll(storage, '/d/f', 'x');
    await assert.rejects(files.removeDirectory('/d'));
    await files.remove('/d/f');
    await files.rename('/d', '/e');
    assert.deepEqual(
      changes.map((c) => [c.event, c.result, c.detail.path, c.detail.code ?? '']),
      [
        ['mkdir', 'success', '/d', ''],
        ['rmdir', 'failure', '/missing', 'KFTPD_STORAGE_NOT_FOUND'],
        ['rmdir', 'failure', '/d', 'KFTPD_STORAGE_NOT_EMPTY'],
        ['delete', 'success', '/d/f', ''],
        ['rename', 'success', '/d', ''],
      ],
    );
    assert.equal(changes.at(-1)?.detail.toPath, '/e');
    for (const change of changes) assert.ok(change.detail.durationMs >= 0);
  });

  it('setMode needs "chmod", keeps the owner\'s bits, drops setuid/setgid/sticky, and is recorded', async () => {
    const { files, storage, changes, refused } = setup(['list', 'download', 'upload', 'overwrite', 'chmod']);
    await writeAll(storage, '/f', 'x');
    await storage.makeDirectory('/d');
    assert.equal(files.canSetMode, true);
    assert.equal(await files.setMode('/f', 0o100440), 0o640);
    assert.equal((await storage.stat('/f')).mode, 0o640);
    assert.equal(await files.setMode('/d', 0o7055), 0o755);
    assert.equal((await storage.stat('/d')).mode, 0o755);
    await assert.rejects(files.setMode('/missing', 0o644), code('NOT_FOUND'));
    assert.deepEqual(
      changes.map((c) => [c.event, c.result, c.detail.path, c.detail.mode ?? '']),
      [
        ['chmod', 'success', '/f', '0640'],
        ['chmod', 'success', '/d', '0755'],
      ],
    );
    const readOnly = setup(['list', 'download', 'upload']);
    await writeAll(readOnly.storage, '/f', 'x');
    await assert.rejects(readOnly.files.setMode('/f', 0o600), code('PERMISSION_DENIED'));
    assert.equal(readOnly.refused.length, 1);
    assert.equal(refused.length, 0);
  });
});
