/**
 * @module test/unit/storage/local-dir-cache.test
 * The local adapter's per-session cache of directory handles (storage/local/dir-handle-cache)
 * on a real temp tree: files of a queue are opened through the held parent directory, and the
 * cache never serves a directory that is no longer where the virtual path leads. Between two
 * transfers the directory is renamed (moved out of the root) and a symlink to a directory
 * outside is put in its place; then it is replaced by a link inside, and by a fresh directory.
 * A cache that served its held directory without asking the kernel where it is now would read
 * and write the moved directory (outside the root) in the second transfer.
 */
import assert from 'node:assert/strict';
import fs, { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it, mock } from 'node:test';
import { isStorageError } from '../../../src/storage/errors.js';
import type { StorageErrorCode } from '../../../src/storage/errors.js';
import { LocalStorageProvider } from '../../../src/storage/local/local-storage.js';
import type { LocalStorage } from '../../../src/storage/local/local-storage.js';
import { collect } from '../../helpers/storage.js';

const SECRET = 'OUTSIDE SECRET';

async function readAll(b: LocalStorage, p: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await b.openRead(p)) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks).toString();
}

async function writeAll(b: LocalStorage, p: string, data: string): Promise<void> {
  const handle = await b.openWrite(p, { mode: 'overwrite' });
  await pipeline(Readable.from([Buffer.from(data)]), handle.stream);
  await handle.commit();
}

async function rejectsWith(action: () => Promise<unknown>, ...codes: StorageErrorCode[]): Promise<void> {
  await assert.rejects(action, (error: unknown) => {
    assert.ok(isStorageError(error), `expected a StorageError, got ${String(error)}`);
    assert.ok(codes.includes(error.code), `expected ${codes.join('|')}, got ${error.code}`);
    return true;
  });
}

/** Every file under `dir` with its content. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const p = path.join(entry.parentPath, entry.name);
      out[path.relative(dir, p)] = await fsp.readFile(p, 'utf8');
    }
  }
  return out;
}

describe('LocalStorage directory handle cache', () => {
  let base: string;
  let root: string;
  let home: string;
  let outside: string;
  let b: LocalStorage;

  before(async () => {
    base = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'kftpd-dircache-')));
    root = path.join(base, 'root');
    home = path.join(root, 'alice');
    outside = path.join(base, 'outside');
    await fsp.mkdir(home, { recursive: true });
    b = await new LocalStorageProvider({ root }).forHome('/alice');
  });
  after(async () => {
    await fsp.rm(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await fsp.rm(outside, { recursive: true, force: true });
    await fsp.mkdir(path.join(outside, 'dir'), { recursive: true });
    await fsp.writeFile(path.join(outside, 'dir', 'data.txt'), SECRET);
    for (const name of await fsp.readdir(home)) await fsp.rm(path.join(home, name), { recursive: true, force: true });
    await fsp.mkdir(path.join(home, 'q'));
  });

  /** A first transfer through /q that leaves /q's directory held by the session. */
  async function firstTransfer(): Promise<void> {
    await writeAll(b, '/q/data.txt', 'first');
    await writeAll(b, '/q/other.txt', 'other');
    assert.equal(await readAll(b, '/q/data.txt'), 'first');
    assert.equal((await b.stat('/q/data.txt')).size, 'first'.length);
    assert.ok(b.heldDirectories >= 1, 'the first transfer left no directory in the cache: nothing below tests it');
  }

  it('a queue of files in one directory resolves the directory once (held, then reused)', async () => {
    await firstTransfer();
    const held = b.heldDirectories;
    for (let i = 0; i < 20; i++) await writeAll(b, `/q/f${i}.txt`, `file ${i}`);
    for (let i = 0; i < 20; i++) assert.equal(await readAll(b, `/q/f${i}.txt`), `file ${i}`);
    assert.equal(b.heldDirectories, held);
  });

  it("a session's one download holds no directory; the next one in that directory holds it for the queue", async () => {
    await fsp.writeFile(path.join(home, 'q', 'one.txt'), 'one');
    await fsp.writeFile(path.join(home, 'q', 'two.txt'), 'two');
    const session = await new LocalStorageProvider({ root }).forHome('/alice');
    try {
      assert.equal(session.heldDirectories, 1, 'the login holds the home');
      assert.equal(await readAll(session, '/q/one.txt'), 'one');
      await sleep(50);
      assert.equal(session.heldDirectories, 1, 'one download opened its directory for nothing');
      assert.equal(await readAll(session, '/q/two.txt'), 'two');
      // The parent is opened in the background after the second full resolution.
      for (let i = 0; i < 50 && session.heldDirectories === 1; i++) await sleep(10);
      assert.equal(session.heldDirectories, 2);
      assert.equal(await readAll(session, '/q/one.txt'), 'one');
      assert.equal(session.heldDirectories, 2);
    } finally {
      session.release();
    }
  });

  it("the home held from login serves a session's first stat, LIST and RETR without resolving it again", async () => {
    await fsp.writeFile(path.join(home, 'top.txt'), 'top');
    const session = await new LocalStorageProvider({ root }).forHome('/alice');
    const resolutions = mock.method(fs.realpath, 'native');
    try {
      assert.equal((await session.stat('/')).type, 'directory');
      assert.deepEqual((await collect(session.list('/'))).map((e) => e.name).sort(), ['q', 'top.txt']);
      assert.equal(await readAll(session, '/top.txt'), 'top');
      assert.equal(resolutions.mock.callCount(), 0);
    } finally {
      mock.restoreAll();
      session.release();
    }
  });

  it('home moved out of the root and a link to outside put in its place after login: nothing outside is served', async () => {
    const session = await new LocalStorageProvider({ root }).forHome('/alice');
    const moved = path.join(outside, 'moved-home');
    await fsp.rename(home, moved);
    await fsp.symlink(path.join(outside, 'dir'), home);
    try {
      const outsideBefore = await contents(outside);
      await rejectsWith(() => session.stat('/'), 'OUTSIDE_ROOT');
      await rejectsWith(() => collect(session.list('/')), 'OUTSIDE_ROOT');
      await rejectsWith(() => readAll(session, '/data.txt'), 'OUTSIDE_ROOT');
      await rejectsWith(() => writeAll(session, '/data.txt', 'PWNED'), 'OUTSIDE_ROOT');
      await rejectsWith(() => writeAll(session, '/new.txt', 'PWNED'), 'OUTSIDE_ROOT');
      assert.deepEqual(await contents(outside), outsideBefore, 'something outside the root was written');
    } finally {
      session.release();
      await fsp.unlink(home);
      await fsp.rename(moved, home);
    }
  });

  it('directory moved out of the root and a symlink to outside swapped in between two transfers: nothing outside is served', async () => {
    await firstTransfer();
    // Host-side, between the two transfers: /q leaves the root (the held fd now points
    // outside) and a link to another outside directory takes its name.
    await fsp.rename(path.join(home, 'q'), path.join(outside, 'moved-q'));
    await fsp.symlink(path.join(outside, 'dir'), path.join(home, 'q'));
    const outsideBefore = await contents(outside);

    await rejectsWith(() => readAll(b, '/q/data.txt'), 'OUTSIDE_ROOT');
    await rejectsWith(() => readAll(b, '/q/other.txt'), 'OUTSIDE_ROOT', 'NOT_FOUND');
    await rejectsWith(() => b.stat('/q/data.txt'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.stat('/q'), 'OUTSIDE_ROOT');
    await rejectsWith(() => writeAll(b, '/q/data.txt', 'PWNED'), 'OUTSIDE_ROOT');
    await rejectsWith(() => writeAll(b, '/q/new.txt', 'PWNED'), 'OUTSIDE_ROOT');
    assert.deepEqual(await contents(outside), outsideBefore, 'something outside the root was written');
  });

  it('directory renamed inside the home and replaced by a link inside: the link is followed, the old directory is not served', async () => {
    await firstTransfer();
    await fsp.rename(path.join(home, 'q'), path.join(home, 'q-old'));
    await fsp.mkdir(path.join(home, 'elsewhere'));
    await fsp.writeFile(path.join(home, 'elsewhere', 'data.txt'), 'elsewhere');
    await fsp.symlink('elsewhere', path.join(home, 'q'));

    assert.equal(await readAll(b, '/q/data.txt'), 'elsewhere');
    await rejectsWith(() => readAll(b, '/q/other.txt'), 'NOT_FOUND');
    await writeAll(b, '/q/data.txt', 'second');
    assert.equal(await fsp.readFile(path.join(home, 'elsewhere', 'data.txt'), 'utf8'), 'second');
    assert.equal(await fsp.readFile(path.join(home, 'q-old', 'data.txt'), 'utf8'), 'first', 'wrote into the renamed directory');
    assert.equal(await readAll(b, '/q-old/data.txt'), 'first');
  });

  it('directory removed and created anew: the new one is used', async () => {
    await firstTransfer();
    await fsp.rm(path.join(home, 'q'), { recursive: true });
    await fsp.mkdir(path.join(home, 'q'));
    await rejectsWith(() => readAll(b, '/q/data.txt'), 'NOT_FOUND');
    await rejectsWith(() => b.stat('/q/data.txt'), 'NOT_FOUND');
    await writeAll(b, '/q/data.txt', 'new');
    assert.equal(await fsp.readFile(path.join(home, 'q', 'data.txt'), 'utf8'), 'new');
  });

  it('this session renaming the directory forgets it; the old name then is missing', async () => {
    await firstTransfer();
    await b.rename('/q', '/r');
    assert.equal(b.heldDirectories, 0);
    await rejectsWith(() => readAll(b, '/q/data.txt'), 'NOT_FOUND');
    assert.equal(await readAll(b, '/r/data.txt'), 'first');
  });

  it('a missing name in a held directory says the parent was seen; a removed directory does not', async () => {
    // files/user-files skips its parent check for an upload on this flag: it must never be
    // set when the directory the name is looked up in is not the one the path leads to.
    await firstTransfer();
    const missing = async (p: string): Promise<boolean> => {
      const error = await b.stat(p).then(
        () => assert.fail(`${p} exists`),
        (e: unknown) => e,
      );
      assert.ok(isStorageError(error) && error.code === 'NOT_FOUND', `expected NOT_FOUND, got ${String(error)}`);
      return error.parentIsDirectory;
    };
    assert.equal(await missing('/q/new.txt'), true);
    await fsp.rm(path.join(home, 'q'), { recursive: true });
    assert.equal(await missing('/q/new.txt'), false);
  });

  it('an idle session closes its directory handles', async () => {
    await firstTransfer();
    // The shared sweep closes a cache unused for 2 s, checking every second.
    await sleep(3_500);
    assert.equal(b.heldDirectories, 0);
    assert.equal(await readAll(b, '/q/data.txt'), 'first');
  });
});
