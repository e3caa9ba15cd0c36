/**
 * @module test/unit/storage/local-listing.test
 * How the local adapter reads a directory for a listing (storage/local/entries.ts): in one
 * readdir call when a stat of that very directory a moment ago found it small (what the FTP
 * and SFTP frontends do before every LIST, MLSD, NLST and OPENDIR), streamed in batches
 * otherwise, so a huge directory is never held in memory as a whole. Both ways list the same
 * entries and hide the same ones (links out of the home, atomic uploads in progress).
 * The fs calls are spied on, not replaced: every listing below reads a real temp tree.
 */
import assert from 'node:assert/strict';
import fs, { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import { ATOMIC_TEMP_PREFIX } from '../../../src/storage/local/atomic-upload.js';
import { ONE_CALL_DIRECTORY_BYTES } from '../../../src/storage/local/entries.js';
import { LocalStorageProvider } from '../../../src/storage/local/local-storage.js';
import type { LocalStorage } from '../../../src/storage/local/local-storage.js';
import { collect } from '../../helpers/storage.js';

/** Names in the big directory: long enough that its size passes ONE_CALL_DIRECTORY_BYTES everywhere. */
const BIG_COUNT = 4_000;

describe('LocalStorage listings: one call for a small directory, batches otherwise', () => {
  let base: string;
  let home: string;
  let b: LocalStorage;
  let readdirSpy: ReturnType<typeof mock.method>;
  let opendirSpy: ReturnType<typeof mock.method>;

  before(async () => {
    base = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'kftpd-listing-')));
    const root = path.join(base, 'root');
    home = path.join(root, 'alice');
    await fsp.mkdir(path.join(home, 'small', 'sub'), { recursive: true });
    await fsp.writeFile(path.join(home, 'small', 'a.txt'), 'a');
    await fsp.writeFile(path.join(home, 'small', 'b.txt'), 'bb');
    await fsp.writeFile(path.join(home, 'small', `${ATOMIC_TEMP_PREFIX}upload`), 'half');
    await fsp.writeFile(path.join(base, 'secret.txt'), 'secret');
    await fsp.symlink(path.join(base, 'secret.txt'), path.join(home, 'small', 'out-link'));
    await fsp.symlink('a.txt', path.join(home, 'small', 'in-link'));
    await fsp.mkdir(path.join(home, 'big'));
    for (let i = 0; i < BIG_COUNT; i++) await fsp.writeFile(path.join(home, 'big', `entry-with-a-long-name-${String(i).padStart(5, '0')}`), '');
    await fsp.mkdir(path.join(home, 'other'));
    b = await new LocalStorageProvider({ root }).forHome('/alice');
  });
  after(async () => {
    await fsp.rm(base, { recursive: true, force: true });
  });
  afterEach(() => mock.restoreAll());

  /** Spies on the two ways of reading a directory (the real calls still run). */
  function spy(): void {
    readdirSpy = mock.method(fs, 'readdir');
    opendirSpy = mock.method(fsp, 'opendir');
  }

  async function names(dir: string): Promise<string[]> {
    return (await collect(b.list(dir))).map((e) => e.name).sort();
  }

  const SMALL_LISTED = ['a.txt', 'b.txt', 'in-link', 'sub'];

  it('right after a stat of a small directory: one readdir, the same entries as in batches', async () => {
    const st = await fsp.stat(path.join(home, 'small'));
    assert.ok(st.size > 0 && st.size <= ONE_CALL_DIRECTORY_BYTES, `precondition: this filesystem reports ${st.size} bytes for a small directory`);
    spy();
    await b.stat('/small');
    assert.deepEqual(await names('/small'), SMALL_LISTED, 'links out of the home and uploads in progress are hidden');
    assert.equal(readdirSpy.mock.callCount(), 1);
    assert.equal(opendirSpy.mock.callCount(), 0);
  });

  it('without a stat just before, a directory is read in batches (and lists the same)', async () => {
    spy();
    assert.deepEqual(await names('/small'), SMALL_LISTED);
    assert.equal(readdirSpy.mock.callCount(), 0);
    assert.equal(opendirSpy.mock.callCount(), 1);
  });

  it('a big directory is read in batches even right after its stat, every entry listed', async () => {
    const st = await fsp.stat(path.join(home, 'big'));
    assert.ok(st.size > ONE_CALL_DIRECTORY_BYTES, `precondition: ${BIG_COUNT} names make ${st.size} bytes here`);
    spy();
    await b.stat('/big');
    const listed = await names('/big');
    assert.equal(listed.length, BIG_COUNT);
    assert.equal(new Set(listed).size, BIG_COUNT);
    assert.equal(readdirSpy.mock.callCount(), 0);
    assert.equal(opendirSpy.mock.callCount(), 1);
  });

  it("another path's stat, a stale stat or this session's rename in between: read in batches", async () => {
    const batched = async (between: () => Promise<void>): Promise<void> => {
      spy();
      await b.stat('/small');
      await between();
      assert.deepEqual(await names('/small'), SMALL_LISTED);
      assert.equal(readdirSpy.mock.callCount(), 0);
      assert.equal(opendirSpy.mock.callCount(), 1);
      mock.restoreAll();
    };
    await batched(async () => {
      await b.stat('/other');
    });
    // A stat that is a second old: the directory may have grown since (CWD, then LIST later).
    await batched(async () => {
      const now = Date.now();
      mock.method(Date, 'now', () => now + 1_500);
    });
    await batched(async () => {
      await b.rename('/other', '/other2');
      await b.rename('/other2', '/other');
    });
  });

  it('the small-directory note is used once', async () => {
    spy();
    await b.stat('/small');
    assert.deepEqual(await names('/small'), SMALL_LISTED);
    assert.deepEqual(await names('/small'), SMALL_LISTED);
    assert.equal(readdirSpy.mock.callCount(), 1);
    assert.equal(opendirSpy.mock.callCount(), 1);
  });
});
