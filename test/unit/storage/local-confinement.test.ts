/**
 * @module test/unit/storage/local-confinement.test
 * The security core of the local adapter: nothing outside a user's home can be read, written,
 * listed, renamed, removed or created through it, whatever the virtual path or symlinks say.
 * Uses a real temp tree with a sentinel directory beside the home and another outside the root.
 * Must not: leave anything behind, or rely on the home being the only thing in the root.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { isStorageError } from '../../../src/storage/errors.js';
import { LocalStorageProvider } from '../../../src/storage/local/local-storage.js';
import type { LocalStorage } from '../../../src/storage/local/local-storage.js';
import { collect, readText, rejectsWith, writeAll } from '../../helpers/storage.js';

const SECRET = 'TOP SECRET CONTENT';
const SENTINEL_NAME = 'SENTINEL-DO-NOT-TOUCH';

interface Layout {
  base: string;
  root: string;
  home: string;
  outside: string;
  sentinel: string;
}

async function makeLayout(): Promise<Layout> {
  const base = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'kftpd-confine-')));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  const sentinel = path.join(root, 'sentinel');
  const home = path.join(root, 'alice');
  await fsp.mkdir(path.join(outside, 'empty-dir'), { recursive: true });
  await fsp.writeFile(path.join(outside, 'secret.txt'), SECRET);
  await fsp.mkdir(path.join(sentinel, 'empty-dir'), { recursive: true });
  await fsp.writeFile(path.join(sentinel, SENTINEL_NAME), SECRET);
  await populateHome({ base, root, home, outside, sentinel });
  return { base, root, home, outside, sentinel };
}

/** (Re)creates the home with real entries and links pointing inside and outside. */
async function populateHome(l: Layout): Promise<void> {
  await fsp.rm(l.home, { recursive: true, force: true });
  await fsp.mkdir(path.join(l.home, 'sub'), { recursive: true });
  await fsp.writeFile(path.join(l.home, 'real.txt'), 'inside');
  await fsp.writeFile(path.join(l.home, 'sub', 'inner.txt'), 'inner');
  await fsp.symlink(path.join(l.outside, 'secret.txt'), path.join(l.home, 'out-file'));
  await fsp.symlink(l.outside, path.join(l.home, 'out-dir'));
  await fsp.symlink('../sentinel', path.join(l.home, 'out-rel'));
  await fsp.symlink(path.join(l.outside, 'created-by-attack.txt'), path.join(l.home, 'out-dangling'));
  await fsp.symlink('loop', path.join(l.home, 'loop'));
  await fsp.symlink('real.txt', path.join(l.home, 'in-file'));
  await fsp.symlink('sub', path.join(l.home, 'in-dir'));
  await fsp.symlink(path.join(l.home, 'sub', 'inner.txt'), path.join(l.home, 'in-abs'));
}

/** Everything observable outside the home: names, types, sizes, times, contents, link targets. */
async function snapshot(l: Layout): Promise<string[]> {
  const out: string[] = [];
  out.push(`base: ${(await fsp.readdir(l.base)).sort().join(',')}`);
  out.push(`root: ${(await fsp.readdir(l.root)).sort().join(',')}`);
  async function walk(dir: string): Promise<void> {
    for (const name of (await fsp.readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const st = await fsp.lstat(p);
      let detail = `${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`;
      if (st.isFile()) detail += ` ${createHash('sha256').update(await fsp.readFile(p)).digest('hex')}`;
      if (st.isSymbolicLink()) detail += ` -> ${await fsp.readlink(p)}`;
      out.push(`${path.relative(l.base, p)} ${detail}`);
      if (st.isDirectory()) await walk(p);
    }
  }
  await walk(l.outside);
  await walk(l.sentinel);
  return out;
}

describe('LocalStorage confinement', () => {
  let l: Layout;
  let b: LocalStorage;
  let before_: string[];

  before(async () => {
    l = await makeLayout();
    b = await new LocalStorageProvider({ root: l.root }).forHome('/alice');
  });
  after(async () => {
    await fsp.rm(l.base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await populateHome(l);
    before_ = await snapshot(l);
  });
  afterEach(async () => {
    assert.deepEqual(await snapshot(l), before_, 'something outside the home changed');
  });

  const escaping = ['/out-file', '/out-dir', '/out-dir/secret.txt', '/out-rel', `/out-rel/${SENTINEL_NAME}`, '/loop'];

  it('stat refuses links that leave the home', async () => {
    for (const p of escaping) await rejectsWith(() => b.stat(p), 'OUTSIDE_ROOT');
    // A dangling link has nothing to stat, wherever it points.
    await rejectsWith(() => b.stat('/out-dangling'), 'NOT_FOUND');
  });

  it('openRead refuses links that leave the home', async () => {
    for (const p of escaping) await rejectsWith(() => b.openRead(p), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.openRead('/out-dangling'), 'NOT_FOUND');
  });

  it('openWrite refuses to write through links that leave the home, in every mode', async () => {
    for (const mode of ['overwrite', 'append', 'resume', 'create'] as const) {
      await rejectsWith(() => b.openWrite('/out-file', { mode, offset: 0 }), 'OUTSIDE_ROOT');
      await rejectsWith(() => b.openWrite('/out-dir/new.txt', { mode, offset: 0 }), 'OUTSIDE_ROOT');
      await rejectsWith(() => b.openWrite('/out-rel/new.txt', { mode, offset: 0 }), 'OUTSIDE_ROOT');
      await rejectsWith(() => b.openWrite(`/out-rel/${SENTINEL_NAME}`, { mode, offset: 0 }), 'OUTSIDE_ROOT');
      // A dangling link is refused, not followed to create the file outside (O_NOFOLLOW);
      // with O_EXCL the kernel already reports it as existing.
      await rejectsWith(
        () => b.openWrite('/out-dangling', { mode, offset: 0 }),
        mode === 'create' ? 'ALREADY_EXISTS' : 'OUTSIDE_ROOT',
      );
    }
  });

  it('list refuses links that leave the home and hides them in listings', async () => {
    await rejectsWith(() => collect(b.list('/out-dir')), 'OUTSIDE_ROOT');
    await rejectsWith(() => collect(b.list('/out-rel')), 'OUTSIDE_ROOT');
    const names = (await collect(b.list('/'))).map((e) => e.name).sort();
    assert.deepEqual(names, ['in-abs', 'in-dir', 'in-file', 'real.txt', 'sub']);
  });

  it('rename refuses sources and targets outside the home', async () => {
    await rejectsWith(() => b.rename('/out-file', '/moved'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.rename('/out-dir', '/moved'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.rename('/out-dir/secret.txt', '/stolen'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.rename('/real.txt', '/out-dir/planted.txt'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.rename('/real.txt', `/out-rel/${SENTINEL_NAME}`), 'OUTSIDE_ROOT');
    assert.equal(await readText(b, '/real.txt'), 'inside');
  });

  it('remove refuses links that leave the home and files behind them', async () => {
    await rejectsWith(() => b.remove('/out-file'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.remove('/out-dir/secret.txt'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.remove(`/out-rel/${SENTINEL_NAME}`), 'OUTSIDE_ROOT');
    assert.ok((await fsp.lstat(path.join(l.home, 'out-file'))).isSymbolicLink());
  });

  it('makeDirectory and removeDirectory refuse parents outside the home', async () => {
    await rejectsWith(() => b.makeDirectory('/out-dir/new'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.makeDirectory('/out-rel/new'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.removeDirectory('/out-dir'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.removeDirectory('/out-dir/empty-dir'), 'OUTSIDE_ROOT');
    await rejectsWith(() => b.removeDirectory('/out-rel/empty-dir'), 'OUTSIDE_ROOT');
  });

  it('setModifiedTime refuses links that leave the home', async () => {
    for (const p of escaping) await rejectsWith(() => b.setModifiedTime(p, new Date(0)), 'OUTSIDE_ROOT');
  });

  it('setMode and truncate refuse links that leave the home; the targets keep their modes and sizes', async () => {
    for (const p of escaping) await rejectsWith(() => b.setMode(p, 0o777), 'OUTSIDE_ROOT');
    for (const p of escaping) await rejectsWith(() => b.truncate(p, 0), 'OUTSIDE_ROOT');
  });

  it("mode 'update' and seek refuse links that leave the home", async () => {
    for (const p of escaping) await rejectsWith(() => writeAll(b, p, 'PWNED', 'update', 1), 'OUTSIDE_ROOT');
  });

  it('links that stay inside the home work like their targets', async () => {
    const st = await b.stat('/in-file');
    assert.equal(st.name, 'in-file');
    assert.equal(st.type, 'file');
    assert.equal(st.size, 6);
    assert.equal(await readText(b, '/in-file'), 'inside');
    assert.equal(await readText(b, '/in-abs'), 'inner');
    assert.equal(await readText(b, '/in-dir/inner.txt'), 'inner');
    assert.deepEqual((await collect(b.list('/in-dir'))).map((e) => e.name), ['inner.txt']);
    const listed = new Map((await collect(b.list('/'))).map((e) => [e.name, e.type]));
    assert.equal(listed.get('in-dir'), 'directory');
    assert.equal(listed.get('in-file'), 'file');
    await writeAll(b, '/in-file', 'changed through link');
    assert.equal(await fsp.readFile(path.join(l.home, 'real.txt'), 'utf8'), 'changed through link');
    await b.makeDirectory('/in-dir/made');
    assert.ok((await fsp.stat(path.join(l.home, 'sub', 'made'))).isDirectory());
    await b.remove('/in-file');
    await rejectsWith(() => b.stat('/in-file'), 'NOT_FOUND');
    await assert.rejects(fsp.lstat(path.join(l.home, 'in-file')), { code: 'ENOENT' });
    assert.equal(await readText(b, '/real.txt'), 'changed through link');
  });

  it('forHome refuses a home reached through a link out of the root, creating nothing', async () => {
    await fsp.symlink(l.outside, path.join(l.root, 'evil'));
    try {
      const provider = new LocalStorageProvider({ root: l.root });
      await rejectsWith(() => provider.forHome('/evil'), 'OUTSIDE_ROOT');
      await rejectsWith(() => provider.forHome('/evil/deeper/home'), 'OUTSIDE_ROOT');
    } finally {
      await fsp.unlink(path.join(l.root, 'evil'));
    }
  });

  it('property: random virtual paths never reach outside the home', async () => {
    const special = fc.constantFrom(
      '..', '.', '', '...', '%2e%2e', '%2E%2E', '%2f', '\\', '..\\..', '\\..\\..\\outside', '..%2f..',
      'out-file', 'out-dir', 'out-rel', 'out-dangling', 'loop', 'in-file', 'in-dir', 'in-abs', 'sub',
      'real.txt', 'secret.txt', 'empty-dir', SENTINEL_NAME, 'sentinel', 'outside', 'root', 'alice',
      '\u0000', '\u202e', 'ñ', '日本', '😀', ' ', '~', '$HOME',
    );
    const segment = fc.oneof(
      { weight: 6, arbitrary: special },
      { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
      { weight: 1, arbitrary: fc.integer({ min: 200, max: 300 }).map((n) => 'x'.repeat(n)) },
    );
    const vpath = fc
      .tuple(fc.boolean(), fc.array(segment, { maxLength: 6 }))
      .map(([relative, segs]) => `${relative && segs.length > 0 ? '' : '/'}${segs.join('/')}`);
    const op = fc.constantFrom(
      'stat', 'list', 'openRead', 'overwrite', 'append', 'create', 'resume', 'remove',
      'makeDirectory', 'removeDirectory', 'renameFrom', 'renameTo', 'setModifiedTime', 'setMode', 'update', 'truncate',
    );

    await fc.assert(
      fc.asyncProperty(op, vpath, vpath, async (operation, p, q) => {
        await populateHome(l);
        const reference = await snapshot(l);
        try {
          switch (operation) {
            case 'stat': {
              const e = await b.stat(p);
              assert.notEqual(e.name, SENTINEL_NAME);
              break;
            }
            case 'list':
              for (const e of await collect(b.list(p))) {
                assert.ok(e.name !== SENTINEL_NAME && e.name !== 'secret.txt', `listed ${e.name}`);
              }
              break;
            case 'openRead':
              assert.ok(!(await readText(b, p)).includes(SECRET));
              break;
            case 'overwrite':
            case 'append':
            case 'create':
            case 'resume':
              await writeAll(b, p, 'PWNED', operation);
              break;
            case 'update':
              await writeAll(b, p, 'PWNED', 'update', 3);
              break;
            case 'setMode':
              await b.setMode(p, 0o777);
              break;
            case 'truncate':
              await b.truncate(p, 1);
              break;
            case 'remove':
              await b.remove(p);
              break;
            case 'makeDirectory':
              await b.makeDirectory(p);
              break;
            case 'removeDirectory':
              await b.removeDirectory(p);
              break;
            case 'renameFrom':
              await b.rename(p, q.length > 1 ? q : '/moved');
              break;
            case 'renameTo':
              await b.rename('/real.txt', p);
              break;
            case 'setModifiedTime':
              await b.setModifiedTime(p, new Date(0));
              break;
          }
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          assert.ok(isStorageError(error), `non-storage error escaped: ${String(error)}`);
          assert.ok(!error.message.includes(l.base), 'host path leaked into an error message');
        }
        assert.deepEqual(await snapshot(l), reference);
      }),
      { numRuns: 400 },
    );
  });
});
