/**
 * @module test/contract/storage.contract
 * The behavioural contract every StorageBackend must pass: method semantics, error codes and
 * stream behaviour that the session relies on. test/contract/storage.test.ts runs it over every
 * adapter × every upload mode; adapters add runs of their own options from their *.test.ts.
 * A test that needs an optional feature is skipped, with the reason, when the adapter's
 * StorageCapabilities do not declare it; upload-mode-specific behaviour is keyed on the mode.
 * Must not: assume anything about where or how bytes are stored (no filesystem peeking), or
 * depend on test order (each test gets a fresh backend).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isStorageError } from '../../src/storage/errors.js';
import type { StorageBackend, StorageCapabilities } from '../../src/storage/types.js';
import {
  collect,
  readAll,
  rejectsWith,
  skipUnless,
  STORAGE_ADAPTERS,
  supportedWriteModes,
  UPLOAD_MODES,
  writeAll,
  type StorageAdapter,
  type StorageFeature,
  type UploadMode,
} from '../helpers/storage.js';
import { sha256 } from '../helpers/integration.js';

export interface ContractFixture {
  backend: StorageBackend;
  cleanup(): Promise<void>;
}

/** One run of the contract: an adapter in one configuration. */
export interface ContractTarget {
  readonly name: string;
  /** What the adapter declares; decides which tests run (the backend must declare the same). */
  readonly capabilities: StorageCapabilities;
  readonly uploadMode: UploadMode;
  create(): Promise<ContractFixture>;
}

const GiB = 1024 * 1024 * 1024;

function writeChunk(stream: NodeJS.WritableStream, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * The contract over every adapter × every upload mode, each backend in a nested home ("/user")
 * so "the home" is never the adapter's root. A mode an adapter does not implement is one
 * skipped test that says why.
 */
export function runStorageContractMatrix(adapters: readonly StorageAdapter[] = STORAGE_ADAPTERS): void {
  for (const adapter of adapters) {
    for (const uploadMode of UPLOAD_MODES) {
      const supported = adapter.uploadModes[uploadMode];
      const name = `${adapter.name} × ${uploadMode}`;
      if (supported !== true) {
        describe(`storage contract: ${name}`, () => {
          it('runs the storage contract', { skip: supported }, () => undefined);
        });
        continue;
      }
      runStorageContract({
        name,
        capabilities: adapter.capabilities,
        uploadMode,
        create: () => adapter.create({ home: '/user', uploadMode }),
      });
    }
  }
}

export function runStorageContract(target: ContractTarget): void {
  const { name, capabilities: caps, uploadMode } = target;
  /** The skip option for a test that needs `features`. */
  const needs = (...features: StorageFeature[]) => ({ skip: skipUnless(name, caps, ...features) });
  const writeModes = supportedWriteModes(caps);
  describe(`storage contract: ${name}`, () => {
    let fixture: ContractFixture;
    let b: StorageBackend;

    beforeEach(async () => {
      fixture = await target.create();
      b = fixture.backend;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('basics', () => {
      it('declares capabilities (the same as its adapter before any backend existed)', () => {
        const c = b.capabilities;
        assert.deepEqual({ ...c }, { ...caps });
        assert.ok(['atomic', 'copy', 'none'].includes(c.rename));
        for (const key of ['append', 'resumeRead', 'resumeWrite', 'setModifiedTime'] as const) {
          assert.equal(typeof c[key], 'boolean');
        }
      });

      it('pings', async () => {
        await b.ping();
      });

      it('stats the root as a nameless directory', async () => {
        const root = await b.stat('/');
        assert.equal(root.name, '');
        assert.equal(root.type, 'directory');
        assert.equal(root.size, 0);
        assert.ok(root.modifiedAt instanceof Date);
      });
    });

    describe('write, commit, read', () => {
      it('round-trips a multi-megabyte file (sha256)', async () => {
        const data = randomBytes(3 * 1024 * 1024 + 17);
        const handle = await b.openWrite('/big.bin', { mode: 'create' });
        // Odd chunk sizes so no adapter gets away with assuming aligned writes.
        const chunks: Buffer[] = [];
        for (let pos = 0; pos < data.length; pos += 100_003) chunks.push(data.subarray(pos, pos + 100_003));
        await pipeline(Readable.from(chunks), handle.stream);
        await handle.commit();
        const st = await b.stat('/big.bin');
        assert.equal(st.type, 'file');
        assert.equal(st.size, data.length);
        assert.equal(sha256(await readAll(b, '/big.bin')), sha256(data));
      });

      it('commit() ends the stream itself when the writer did not', async () => {
        const handle = await b.openWrite('/a.txt', { mode: 'create' });
        await writeChunk(handle.stream, Buffer.from('hello '));
        handle.stream.write(Buffer.from('world'));
        await handle.commit();
        assert.equal((await readAll(b, '/a.txt')).toString(), 'hello world');
      });

      it('commit() twice is harmless and abort() after commit keeps the data', async () => {
        const handle = await b.openWrite('/a.txt', { mode: 'create' });
        handle.stream.end(Buffer.from('data'));
        await handle.commit();
        await handle.commit();
        await handle.abort(new Error('late'));
        assert.equal((await readAll(b, '/a.txt')).toString(), 'data');
      });

      it('stores a 0-byte file', async () => {
        const handle = await b.openWrite('/empty', { mode: 'create' });
        await handle.commit();
        const st = await b.stat('/empty');
        assert.equal(st.type, 'file');
        assert.equal(st.size, 0);
        assert.equal((await readAll(b, '/empty')).length, 0);
        assert.deepEqual((await collect(b.list('/'))).map((e) => e.name), ['empty']);
      });

      it('abort() keeps the bytes already written (resumable uploads)', { skip: uploadMode === 'resumable' ? false : `${uploadMode} uploads do not keep partial files` }, async () => {
        const handle = await b.openWrite('/partial', { mode: 'create' });
        await writeChunk(handle.stream, Buffer.from('partial'));
        await handle.abort(new Error('client went away'));
        await handle.abort(new Error('twice'));
        assert.equal((await readAll(b, '/partial')).toString(), 'partial');
      });

      it('abort() leaves nothing under the name, and an overwrite keeps the old file (atomic uploads)', { skip: uploadMode === 'atomic' ? false : `${uploadMode} uploads write in place` }, async () => {
        const handle = await b.openWrite('/partial', { mode: 'create' });
        await writeChunk(handle.stream, Buffer.from('partial'));
        await handle.abort(new Error('client went away'));
        await handle.abort(new Error('twice'));
        await rejectsWith(() => b.stat('/partial'), 'NOT_FOUND');
        await writeAll(b, '/kept', 'old content');
        const over = await b.openWrite('/kept', { mode: 'overwrite' });
        await writeChunk(over.stream, Buffer.from('new'));
        assert.equal((await readAll(b, '/kept')).toString(), 'old content', 'readers see the old file mid-upload');
        await over.abort(new Error('client went away'));
        assert.equal((await readAll(b, '/kept')).toString(), 'old content');
        assert.deepEqual((await collect(b.list('/'))).map((e) => e.name), ['kept'], 'no temporary entry is listed');
      });

      it('commit() after abort() rejects', async () => {
        const handle = await b.openWrite('/x', { mode: 'create' });
        await handle.abort(new Error('stop'));
        await assert.rejects(handle.commit(), (error: unknown) => isStorageError(error));
      });

      it('a failed stream makes commit() reject with a StorageError and abort() still succeeds', async () => {
        const handle = await b.openWrite('/x', { mode: 'create' });
        handle.stream.on('error', () => undefined);
        handle.stream.destroy(new Error('network reset'));
        await assert.rejects(handle.commit(), (error: unknown) => isStorageError(error));
        await handle.abort(new Error('cleanup'));
        await handle.abort(new Error('cleanup again'));
      });

      it("mode 'create' refuses an existing file and leaves it untouched", async () => {
        await writeAll(b, '/f', 'original', 'create');
        await rejectsWith(() => b.openWrite('/f', { mode: 'create' }), 'ALREADY_EXISTS');
        assert.equal((await readAll(b, '/f')).toString(), 'original');
      });

      it("mode 'overwrite' creates and truncates", async () => {
        await writeAll(b, '/f', 'a rather long original content', 'overwrite');
        await writeAll(b, '/f', 'short', 'overwrite');
        assert.equal((await readAll(b, '/f')).toString(), 'short');
        assert.equal((await b.stat('/f')).size, 5);
      });

      it("mode 'append' creates a missing file and appends to an existing one", needs('append'), async () => {
        await writeAll(b, '/log', 'one,', 'append');
        await writeAll(b, '/log', 'two,', 'append');
        await writeAll(b, '/log', 'three', 'append');
        assert.equal((await readAll(b, '/log')).toString(), 'one,two,three');
      });

      it("mode 'resume' keeps bytes before the offset and drops the rest", needs('resumeWrite'), async () => {
        await writeAll(b, '/r', 'abcdef');
        await writeAll(b, '/r', 'XYZW', 'resume', 3);
        assert.equal((await readAll(b, '/r')).toString(), 'abcXYZW');
        await writeAll(b, '/r', '!', 'resume', 7);
        assert.equal((await readAll(b, '/r')).toString(), 'abcXYZW!');
        await writeAll(b, '/r', 'Q', 'resume', 0);
        assert.equal((await readAll(b, '/r')).toString(), 'Q');
      });

      it("mode 'resume' truncates at the offset even when nothing is written", needs('resumeWrite'), async () => {
        await writeAll(b, '/r', 'abcdef');
        const handle = await b.openWrite('/r', { mode: 'resume', offset: 2 });
        await handle.commit();
        assert.equal((await readAll(b, '/r')).toString(), 'ab');
      });

      it("mode 'resume' past the end is INVALID_OFFSET and changes nothing", needs('resumeWrite'), async () => {
        await writeAll(b, '/r', 'abcdef');
        await rejectsWith(() => b.openWrite('/r', { mode: 'resume', offset: 7 }), 'INVALID_OFFSET');
        await rejectsWith(() => b.openWrite('/r', { mode: 'resume', offset: 5 * GiB }), 'INVALID_OFFSET');
        assert.equal((await readAll(b, '/r')).toString(), 'abcdef');
      });

      it("mode 'resume' creates a missing file only at offset 0", needs('resumeWrite'), async () => {
        await writeAll(b, '/new', 'fresh', 'resume', 0);
        assert.equal((await readAll(b, '/new')).toString(), 'fresh');
        await rejectsWith(() => b.openWrite('/missing', { mode: 'resume', offset: 2 }), 'NOT_FOUND');
        await rejectsWith(() => b.stat('/missing'), 'NOT_FOUND');
      });

      it("mode 'update' writes over the bytes at the offset and keeps the rest", needs('resumeWrite'), async () => {
        await writeAll(b, '/u', '0123456789');
        await writeAll(b, '/u', 'ab', 'update', 2);
        assert.equal((await readAll(b, '/u')).toString(), '01ab456789');
        await writeAll(b, '/u', 'XYZ', 'update', 8);
        assert.equal((await readAll(b, '/u')).toString(), '01ab4567XYZ');
        // Opened and committed without a byte: nothing changes.
        await (await b.openWrite('/u', { mode: 'update', offset: 3 })).commit();
        assert.equal((await readAll(b, '/u')).toString(), '01ab4567XYZ');
      });

      it("mode 'update' past the end or on a missing file leaves zeros before the offset", needs('resumeWrite'), async () => {
        await writeAll(b, '/u', 'ab');
        await writeAll(b, '/u', 'c', 'update', 4);
        assert.deepEqual(await readAll(b, '/u'), Buffer.from('ab\0\0c', 'binary'));
        await writeAll(b, '/fresh', 'z', 'update', 3);
        assert.deepEqual(await readAll(b, '/fresh'), Buffer.from('\0\0\0z', 'binary'));
      });

      it('seek: later bytes go to the new offset, earlier ones stay where they were aimed', needs('resumeWrite'), async () => {
        await writeAll(b, '/s', 'tail-kept-here');
        const handle = await b.openWrite('/s', { mode: 'update', offset: 0 });
        assert.ok(typeof handle.seek === 'function', 'an adapter with resumeWrite offers seek');
        // Several chunks written without waiting, then a seek: the seek must not overtake them.
        handle.stream.write(Buffer.from('AB'));
        handle.stream.write(Buffer.from('CD'));
        await handle.seek(16);
        await writeChunk(handle.stream, Buffer.from('!!'));
        await handle.seek(1);
        await writeChunk(handle.stream, Buffer.from('x'));
        await handle.commit();
        assert.deepEqual(await readAll(b, '/s'), Buffer.from('AxCD-kept-here\0\0!!', 'binary'));
        await rejectsWith(async () => {
          const again = await b.openWrite('/s', { mode: 'overwrite' });
          try {
            await again.seek?.(-1);
          } finally {
            await again.abort(new Error('test'));
          }
        }, 'INVALID_OFFSET');
      });

      it('seek after a megabyte batch in flight keeps every byte (sha256)', needs('resumeWrite'), async () => {
        const first = randomBytes(3 * 1024 * 1024 + 5);
        const second = randomBytes(700_001);
        const handle = await b.openWrite('/big', { mode: 'overwrite' });
        assert.ok(typeof handle.seek === 'function');
        // The second half first, then the first: what an out-of-order SFTP client sends.
        await handle.seek(first.length);
        for (let pos = 0; pos < second.length; pos += 65_536) handle.stream.write(second.subarray(pos, pos + 65_536));
        await handle.seek(0);
        for (let pos = 0; pos < first.length; pos += 65_536) handle.stream.write(first.subarray(pos, pos + 65_536));
        await handle.commit();
        assert.equal(sha256(await readAll(b, '/big')), sha256(Buffer.concat([first, second])));
      });

      it('rejects negative and fractional offsets', needs('resumeWrite', 'resumeRead'), async () => {
        await writeAll(b, '/r', 'abcdef');
        await rejectsWith(() => b.openWrite('/r', { mode: 'resume', offset: -1 }), 'INVALID_OFFSET');
        await rejectsWith(() => b.openWrite('/r', { mode: 'resume', offset: 1.5 }), 'INVALID_OFFSET');
        await rejectsWith(() => b.openRead('/r', { offset: -1 }), 'INVALID_OFFSET');
        await rejectsWith(() => b.openRead('/r', { offset: Number.NaN }), 'INVALID_OFFSET');
      });

      it('reads from an offset, at the end and past the end (including beyond 4 GiB)', needs('resumeRead'), async () => {
        const data = randomBytes(1024 * 1024 + 5);
        await writeAll(b, '/f', data);
        assert.equal(sha256(await readAll(b, '/f', 1000)), sha256(data.subarray(1000)));
        assert.equal(sha256(await readAll(b, '/f', 1024 * 1024 + 3)), sha256(data.subarray(1024 * 1024 + 3)));
        assert.equal((await readAll(b, '/f', data.length)).length, 0);
        assert.equal((await readAll(b, '/f', data.length + 10)).length, 0);
        assert.equal((await readAll(b, '/f', 5 * GiB)).length, 0);
      });

      it('openRead: NOT_FOUND and IS_A_DIRECTORY are thrown before any data', async () => {
        await b.makeDirectory('/d');
        await rejectsWith(() => b.openRead('/missing'), 'NOT_FOUND');
        await rejectsWith(() => b.openRead('/d'), 'IS_A_DIRECTORY');
        await rejectsWith(() => b.openRead('/'), 'IS_A_DIRECTORY');
        await rejectsWith(() => b.openRead('/missing/x'), 'NOT_FOUND');
      });

      it('openWrite: the parent must exist and be a directory', async () => {
        await writeAll(b, '/file', 'x');
        for (const mode of writeModes) {
          await rejectsWith(() => b.openWrite('/missing/x', { mode, offset: 0 }), 'NOT_FOUND');
          await rejectsWith(() => b.openWrite('/file/x', { mode, offset: 0 }), 'NOT_A_DIRECTORY');
        }
      });

      it('openWrite onto a directory is IS_A_DIRECTORY in every mode', async () => {
        await b.makeDirectory('/d');
        for (const mode of writeModes) {
          await rejectsWith(() => b.openWrite('/d', { mode, offset: 0 }), 'IS_A_DIRECTORY');
          await rejectsWith(() => b.openWrite('/', { mode, offset: 0 }), 'IS_A_DIRECTORY');
        }
        assert.equal((await b.stat('/d')).type, 'directory');
      });

      it('honours an already aborted signal', async () => {
        await writeAll(b, '/f', 'x');
        const signal = AbortSignal.abort();
        await assert.rejects(b.openRead('/f', { signal }));
        await assert.rejects(b.openWrite('/g', { mode: 'create', signal }));
      });
    });

    describe('stat', () => {
      it('describes a file', async () => {
        await writeAll(b, '/f.txt', '12345');
        const st = await b.stat('/f.txt');
        assert.equal(st.name, 'f.txt');
        assert.equal(st.type, 'file');
        assert.equal(st.size, 5);
        assert.ok(st.modifiedAt instanceof Date && !Number.isNaN(st.modifiedAt.getTime()));
        assert.equal(typeof st.mode, 'number');
        assert.equal(typeof st.uniqueId, 'string');
      });

      it('gives stable, distinct unique ids that survive a rename', needs('rename'), async () => {
        await writeAll(b, '/a', 'a');
        await writeAll(b, '/b', 'b');
        const a = await b.stat('/a');
        assert.equal((await b.stat('/a')).uniqueId, a.uniqueId);
        assert.notEqual((await b.stat('/b')).uniqueId, a.uniqueId);
        await b.rename('/a', '/c');
        assert.equal((await b.stat('/c')).uniqueId, a.uniqueId);
      });

      it('describes nested directories with their base name', async () => {
        await b.makeDirectory('/d');
        await b.makeDirectory('/d/e');
        const st = await b.stat('/d/e');
        assert.equal(st.name, 'e');
        assert.equal(st.type, 'directory');
        assert.equal(st.size, 0);
      });

      it('NOT_FOUND and NOT_A_DIRECTORY', async () => {
        await writeAll(b, '/file', 'x');
        await rejectsWith(() => b.stat('/missing'), 'NOT_FOUND');
        await rejectsWith(() => b.stat('/missing/deeper'), 'NOT_FOUND');
        await rejectsWith(() => b.stat('/file/x'), 'NOT_A_DIRECTORY');
      });
    });

    describe('list', () => {
      it('lists files and directories without . and ..', async () => {
        await b.makeDirectory('/d');
        await b.makeDirectory('/d/sub');
        await writeAll(b, '/d/f', 'abc');
        const entries = await collect(b.list('/d'));
        const byName = new Map(entries.map((e) => [e.name, e]));
        assert.deepEqual([...byName.keys()].sort(), ['f', 'sub']);
        assert.equal(byName.get('f')?.type, 'file');
        assert.equal(byName.get('f')?.size, 3);
        assert.equal(byName.get('sub')?.type, 'directory');
      });

      it('lists an empty directory as nothing', async () => {
        await b.makeDirectory('/d');
        assert.deepEqual(await collect(b.list('/d')), []);
      });

      it('lists 1,000 entries, and can stop early', async () => {
        await b.makeDirectory('/many');
        const names = Array.from({ length: 1000 }, (_, i) => `file-${String(i).padStart(4, '0')}.dat`);
        for (let i = 0; i < names.length; i += 50) {
          await Promise.all(names.slice(i, i + 50).map((n) => writeAll(b, `/many/${n}`, n, 'create')));
        }
        const entries = await collect(b.list('/many'));
        assert.equal(entries.length, 1000);
        assert.deepEqual(entries.map((e) => e.name).sort(), names);
        for (const e of entries) {
          assert.equal(e.type, 'file');
          assert.equal(e.size, Buffer.byteLength(e.name));
        }
        let seen = 0;
        for await (const _ of b.list('/many')) {
          if (++seen === 5) break;
        }
        assert.equal(seen, 5);
      });

      it('NOT_FOUND and NOT_A_DIRECTORY', async () => {
        await writeAll(b, '/file', 'x');
        await rejectsWith(() => collect(b.list('/missing')), 'NOT_FOUND');
        await rejectsWith(() => collect(b.list('/file')), 'NOT_A_DIRECTORY');
      });

      it('stops when its signal is aborted', async () => {
        await b.makeDirectory('/d');
        for (const n of ['a', 'b', 'c']) await writeAll(b, `/d/${n}`, n);
        const controller = new AbortController();
        await assert.rejects(async () => {
          for await (const _ of b.list('/d', { signal: controller.signal })) controller.abort();
        });
      });
    });

    describe('remove', () => {
      it('removes a file', async () => {
        await writeAll(b, '/f', 'x');
        await b.remove('/f');
        await rejectsWith(() => b.stat('/f'), 'NOT_FOUND');
      });

      it('NOT_FOUND, IS_A_DIRECTORY, and never the home itself', async () => {
        await b.makeDirectory('/d');
        await rejectsWith(() => b.remove('/missing'), 'NOT_FOUND');
        await rejectsWith(() => b.remove('/d'), 'IS_A_DIRECTORY');
        await rejectsWith(() => b.remove('/'), 'PERMISSION_DENIED');
        assert.equal((await b.stat('/d')).type, 'directory');
      });
    });

    describe('makeDirectory', () => {
      it('creates nested directories one level at a time', async () => {
        await b.makeDirectory('/a');
        await b.makeDirectory('/a/b');
        assert.equal((await b.stat('/a/b')).type, 'directory');
      });

      it('ALREADY_EXISTS, NOT_FOUND and NOT_A_DIRECTORY', async () => {
        await b.makeDirectory('/d');
        await writeAll(b, '/f', 'x');
        await rejectsWith(() => b.makeDirectory('/d'), 'ALREADY_EXISTS');
        await rejectsWith(() => b.makeDirectory('/f'), 'ALREADY_EXISTS');
        await rejectsWith(() => b.makeDirectory('/'), 'ALREADY_EXISTS');
        await rejectsWith(() => b.makeDirectory('/missing/x'), 'NOT_FOUND');
        await rejectsWith(() => b.makeDirectory('/f/x'), 'NOT_A_DIRECTORY');
      });
    });

    describe('removeDirectory', () => {
      it('removes an empty directory', async () => {
        await b.makeDirectory('/d');
        await b.removeDirectory('/d');
        await rejectsWith(() => b.stat('/d'), 'NOT_FOUND');
      });

      it('NOT_EMPTY for a directory with a file or a subdirectory', async () => {
        await b.makeDirectory('/d');
        await writeAll(b, '/d/f', 'x');
        await rejectsWith(() => b.removeDirectory('/d'), 'NOT_EMPTY');
        await b.remove('/d/f');
        await b.makeDirectory('/d/sub');
        await rejectsWith(() => b.removeDirectory('/d'), 'NOT_EMPTY');
        assert.equal((await b.stat('/d/sub')).type, 'directory');
      });

      it('NOT_A_DIRECTORY, NOT_FOUND, and never the home itself', async () => {
        await writeAll(b, '/f', 'x');
        await rejectsWith(() => b.removeDirectory('/f'), 'NOT_A_DIRECTORY');
        await rejectsWith(() => b.removeDirectory('/missing'), 'NOT_FOUND');
        await rejectsWith(() => b.removeDirectory('/'), 'PERMISSION_DENIED');
        assert.equal((await readAll(b, '/f')).toString(), 'x');
      });
    });

    describe('rename', () => {
      it('renames a file', needs('rename'), async () => {
        await writeAll(b, '/a', 'content');
        await b.rename('/a', '/b');
        await rejectsWith(() => b.stat('/a'), 'NOT_FOUND');
        assert.equal((await readAll(b, '/b')).toString(), 'content');
      });

      it('replaces an existing target file', needs('rename'), async () => {
        await writeAll(b, '/a', 'new');
        await writeAll(b, '/b', 'old content');
        await b.rename('/a', '/b');
        assert.equal((await readAll(b, '/b')).toString(), 'new');
        assert.deepEqual((await collect(b.list('/'))).map((e) => e.name), ['b']);
      });

      it('moves a directory with its contents', needs('rename'), async () => {
        await b.makeDirectory('/d');
        await b.makeDirectory('/other');
        await writeAll(b, '/d/f', 'inner');
        await b.rename('/d', '/other/moved');
        assert.equal((await readAll(b, '/other/moved/f')).toString(), 'inner');
        await rejectsWith(() => b.stat('/d'), 'NOT_FOUND');
      });

      it('refuses to rename over an existing directory (ALREADY_EXISTS)', needs('rename'), async () => {
        await writeAll(b, '/f', 'x');
        await b.makeDirectory('/d');
        await b.makeDirectory('/empty');
        await rejectsWith(() => b.rename('/f', '/d'), 'ALREADY_EXISTS');
        await rejectsWith(() => b.rename('/d', '/empty'), 'ALREADY_EXISTS');
        assert.equal((await b.stat('/empty')).type, 'directory');
        assert.equal((await readAll(b, '/f')).toString(), 'x');
      });

      it('a directory cannot replace a file nor move into itself', needs('rename'), async () => {
        await b.makeDirectory('/d');
        await writeAll(b, '/f', 'x');
        await rejectsWith(() => b.rename('/d', '/f'), 'NOT_A_DIRECTORY');
        await rejectsWith(() => b.rename('/d', '/d/inside'), 'INVALID_NAME');
        assert.equal((await b.stat('/d')).type, 'directory');
      });

      it('renaming onto itself is a no-op', needs('rename'), async () => {
        await writeAll(b, '/f', 'x');
        await b.rename('/f', '/f');
        assert.equal((await readAll(b, '/f')).toString(), 'x');
      });

      it('NOT_FOUND for a missing source or target parent; never the home', needs('rename'), async () => {
        await writeAll(b, '/f', 'x');
        await rejectsWith(() => b.rename('/missing', '/y'), 'NOT_FOUND');
        await rejectsWith(() => b.rename('/f', '/missing/y'), 'NOT_FOUND');
        await rejectsWith(() => b.rename('/', '/y'), 'PERMISSION_DENIED');
        await rejectsWith(() => b.rename('/f', '/'), 'PERMISSION_DENIED');
        assert.equal((await readAll(b, '/f')).toString(), 'x');
      });
    });

    describe('setModifiedTime', () => {
      it('sets the modification time of files and directories', needs('setModifiedTime'), async () => {
        const t = new Date('2001-02-03T04:05:06.000Z');
        await writeAll(b, '/f', 'x');
        await b.makeDirectory('/d');
        await b.setModifiedTime('/f', t);
        await b.setModifiedTime('/d', t);
        assert.equal((await b.stat('/f')).modifiedAt.getTime(), t.getTime());
        assert.equal((await b.stat('/d')).modifiedAt.getTime(), t.getTime());
        const listed = await collect(b.list('/'));
        assert.equal(listed.find((e) => e.name === 'f')?.modifiedAt.getTime(), t.getTime());
        assert.equal((await readAll(b, '/f')).toString(), 'x');
      });

      it('NOT_FOUND for a missing path', needs('setModifiedTime'), async () => {
        await rejectsWith(() => b.setModifiedTime('/missing', new Date()), 'NOT_FOUND');
      });
    });

    describe('truncate (optional: absent means SFTP refuses size changes)', () => {
      it('cuts a file, extends it with zeros, refuses a directory and a missing file', async (t) => {
        if (!b.truncate) return t.skip(`the ${name} adapter has no truncate()`);
        const truncate = b.truncate.bind(b);
        await writeAll(b, '/t', '0123456789');
        await truncate('/t', 4);
        assert.equal((await readAll(b, '/t')).toString(), '0123');
        await truncate('/t', 6);
        assert.deepEqual(await readAll(b, '/t'), Buffer.from('0123\0\0', 'binary'));
        await b.makeDirectory('/d');
        await assert.rejects(truncate('/d', 0), (e: unknown) => isStorageError(e) && ['IS_A_DIRECTORY', 'PERMISSION_DENIED'].includes(e.code));
        await rejectsWith(() => truncate('/missing', 0), 'NOT_FOUND');
        await rejectsWith(() => truncate('/t', -1), 'INVALID_OFFSET');
      });

      it('WriteHandle.truncate applies after the bytes written so far; the next write keeps its position', needs('resumeWrite'), async () => {
        const handle = await b.openWrite('/h', { mode: 'overwrite' });
        assert.ok(typeof handle.truncate === 'function', 'an adapter with resumeWrite offers WriteHandle.truncate');
        handle.stream.write(Buffer.from('abcdef'));
        await handle.truncate(2);
        await writeChunk(handle.stream, Buffer.from('XY'));
        await handle.commit();
        // "ab", then a hole up to the position after "abcdef", then "XY" (ftruncate keeps the fd's offset).
        assert.deepEqual(await readAll(b, '/h'), Buffer.from('ab\0\0\0\0XY', 'binary'));
      });
    });

    describe('setMode (optional: absent means modes are not the storage\'s)', () => {
      it('sets the permission bits of files and directories, as stat and list report them', async (t) => {
        if (!b.setMode) return t.skip(`the ${name} adapter has no setMode()`);
        await writeAll(b, '/f', 'x');
        await b.makeDirectory('/d');
        await b.setMode('/f', 0o640);
        await b.setMode('/d', 0o750);
        assert.equal((await b.stat('/f')).mode, 0o640);
        assert.equal((await b.stat('/d')).mode, 0o750);
        assert.equal((await collect(b.list('/'))).find((e) => e.name === 'f')?.mode, 0o640);
        assert.equal((await readAll(b, '/f')).toString(), 'x');
      });

      it('NOT_FOUND for a missing path; bits beyond 0o777 or a fraction are INVALID_NAME', async (t) => {
        if (!b.setMode) return t.skip(`the ${name} adapter has no setMode()`);
        const setMode = b.setMode.bind(b);
        await writeAll(b, '/f', 'x');
        await rejectsWith(() => setMode('/missing', 0o644), 'NOT_FOUND');
        await rejectsWith(() => setMode('/f', 0o4755), 'INVALID_NAME');
        await rejectsWith(() => setMode('/f', 1.5), 'INVALID_NAME');
        await rejectsWith(() => setMode('/f', -1), 'INVALID_NAME');
      });
    });

    describe('space and link (optional methods: absent means not offered)', () => {
      it('space() reports the file system under an existing path; NOT_FOUND for a missing one', async (t) => {
        if (!b.space) return t.skip(`the ${name} adapter has no space()`);
        await b.makeDirectory('/d');
        const space = await b.space('/d');
        assert.ok(space.blockSize > 0 && space.blocks > 0 && space.nameMax > 0, JSON.stringify(space));
        assert.ok(space.availableBlocks <= space.freeBlocks && space.freeBlocks <= space.blocks, JSON.stringify(space));
        await rejectsWith(() => (b.space as NonNullable<StorageBackend['space']>)('/missing'), 'NOT_FOUND');
      });

      it('link() gives a plain file a second name; refuses an existing name, a directory, a missing source or parent', async (t) => {
        if (!b.link) return t.skip(`the ${name} adapter has no link()`);
        const link = b.link.bind(b);
        await writeAll(b, '/f', 'data');
        await b.makeDirectory('/d');
        await link('/f', '/d/g');
        assert.equal((await readAll(b, '/d/g')).toString(), 'data');
        assert.equal((await readAll(b, '/f')).toString(), 'data');
        await writeAll(b, '/taken', 'old');
        await rejectsWith(() => link('/f', '/taken'), 'ALREADY_EXISTS');
        assert.equal((await readAll(b, '/taken')).toString(), 'old');
        await rejectsWith(() => link('/d', '/d2'), 'IS_A_DIRECTORY');
        await rejectsWith(() => link('/', '/root2'), 'IS_A_DIRECTORY');
        await rejectsWith(() => link('/missing', '/m2'), 'NOT_FOUND');
        await rejectsWith(() => link('/f', '/nodir/g'), 'NOT_FOUND');
      });
    });

    describe('names', () => {
      const names = [
        'héllo wörld ✓.txt',
        '日本語のファイル',
        '😀 emoji',
        'with space',
        ' leading space',
        'trailing space ',
        'a "quoted" name',
        "it's",
        '-rf',
        '--help',
        '-',
        'back\\slash',
        '%2e%2e',
        '...',
        '.hidden',
        'semi;colon & $dollar',
        'a'.repeat(255),
      ];
      it('round-trips unusual but valid names through every operation', async () => {
        for (const n of names) {
          await writeAll(b, `/${n}`, n, 'create');
          assert.equal((await b.stat(`/${n}`)).name, n);
          assert.equal((await readAll(b, `/${n}`)).toString(), n);
          await b.makeDirectory(`/${n.slice(0, 250)}.d`);
        }
        const listed = (await collect(b.list('/'))).map((e) => e.name).sort();
        assert.deepEqual(listed, [...names, ...names.map((n) => `${n.slice(0, 250)}.d`)].sort());
        for (const n of names) {
          // Without rename (an adapter that declares none), the same names written anew.
          if (caps.rename === 'none') {
            await writeAll(b, `/${n.slice(0, 250)}.d/${n}`, n, 'create');
            await b.remove(`/${n}`);
          } else {
            await b.rename(`/${n}`, `/${n.slice(0, 250)}.d/${n}`);
          }
          assert.equal((await readAll(b, `/${n.slice(0, 250)}.d/${n}`)).toString(), n);
          await b.remove(`/${n.slice(0, 250)}.d/${n}`);
          await b.removeDirectory(`/${n.slice(0, 250)}.d`);
        }
        assert.deepEqual(await collect(b.list('/')), []);
      });

      it('rejects names longer than 255 bytes as INVALID_NAME', async () => {
        await rejectsWith(() => writeAll(b, `/${'a'.repeat(256)}`, 'x'), 'INVALID_NAME');
        await rejectsWith(() => b.makeDirectory(`/${'é'.repeat(128)}`), 'INVALID_NAME');
      });
    });

    describe('invalid virtual paths', () => {
      const bad = ['', 'relative', 'a/b', '/a/../b', '/..', '/.', '/a/.', '/./a', '/a//b', '//', '/a/', '/a\0b', '\0'];
      for (const p of bad) {
        it(`rejects ${JSON.stringify(p)} in every method`, async () => {
          await writeAll(b, '/ok', 'x');
          await rejectsWith(() => b.stat(p), 'INVALID_NAME');
          await rejectsWith(() => collect(b.list(p)), 'INVALID_NAME');
          await rejectsWith(() => b.openRead(p), 'INVALID_NAME');
          await rejectsWith(() => b.openWrite(p, { mode: 'overwrite' }), 'INVALID_NAME');
          await rejectsWith(() => b.remove(p), 'INVALID_NAME');
          await rejectsWith(() => b.makeDirectory(p), 'INVALID_NAME');
          await rejectsWith(() => b.removeDirectory(p), 'INVALID_NAME');
          await rejectsWith(() => b.rename(p, '/y'), 'INVALID_NAME');
          await rejectsWith(() => b.rename('/ok', p), 'INVALID_NAME');
          await rejectsWith(() => b.setModifiedTime(p, new Date()), 'INVALID_NAME');
          assert.deepEqual((await collect(b.list('/'))).map((e) => e.name), ['ok']);
        });
      }
    });
  });
}
