/**
 * @module test/property/confinement.test
 * Property-based proof that no client path reaches outside the user's home, for every
 * operation, at three levels: (a) the pure virtual-path layer, (b) the local storage adapter on a
 * real tree full of escape hatches (symlinks out, absolute and relative, to a file and to a
 * directory, a symlink chain, a hard link to an outside file), (c) the real server over sockets,
 * and (d) the race windows of the adapter: a symlink swapped in between its check and its use,
 * and during a running transfer.
 *
 * The expectation for every operation is: either a clean StorageError with a stable code (a 5xx
 * reply over the wire), or an effect strictly inside the home; and the files outside the home
 * (another directory of the host, a sibling user's home) are never read, listed, changed or
 * deleted, which is checked by comparing names, sizes, mtimes, link counts and contents.
 *
 * Hard links: a hard link is the same inode under two names, so no path check can tell that
 * `home/hard-link.txt` is also `outside/linked.txt`. As in vsftpd and SFTPGo, a hard link that
 * someone with shell access put into a home is served like any file of the home (read,
 * overwritten in place, its home name deleted): that is a host-administration problem, not one a
 * path check can solve. What the server must guarantee, and this file checks, is that it never
 * CREATES a hard link and that no client command can create one (no operation raises a link
 * count, and the outside name of the linked file is never removed).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { isWithin, resolveVirtualPath } from '../../src/protocol/virtual-path.js';
import { isStorageError } from '../../src/storage/errors.js';
import type { StorageErrorCode } from '../../src/storage/errors.js';
import { LocalStorageProvider } from '../../src/storage/local/local-storage.js';
import type { LocalStorage } from '../../src/storage/local/local-storage.js';
import { splitVirtualPath } from '../../src/storage/segments.js';
import { RawClient, type Reply } from '../helpers/raw-client.js';
import { collect as collectSocket, rawDownload, rawUpload } from '../helpers/raw-transfer.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { collect, readText, writeAll } from '../helpers/storage.js';

/** Distinct contents, so a leak says which file it came from. */
const SECRET_FILE = 'SECRET-A outside/secret.txt';
const SECRET_INNER = 'SECRET-B outside/secret-dir/inner-secret.txt';
const SECRET_LINKED = 'SECRET-C outside/linked.txt (hard-linked into the home)';
const SECRET_BOB = 'SECRET-D root/bob/bob.txt (another user)';
const LEAKING = [SECRET_FILE, SECRET_INNER, SECRET_BOB];

const STORAGE_CODES: ReadonlySet<StorageErrorCode> = new Set<StorageErrorCode>([
  'NOT_FOUND', 'ALREADY_EXISTS', 'NOT_A_DIRECTORY', 'IS_A_DIRECTORY', 'NOT_EMPTY', 'PERMISSION_DENIED',
  'OUTSIDE_ROOT', 'INVALID_NAME', 'INVALID_OFFSET', 'NO_SPACE', 'QUOTA_EXCEEDED', 'UNSUPPORTED', 'UNAVAILABLE',
]);

/** Names planted in the home, so generated paths hit the escape hatches often. */
const PLANTED = [
  'real.txt', 'sub', 'deeper', 'inner.txt', 'abs-file', 'abs-dir', 'rel-file', 'rel-dir', 'sibling', 'up',
  'chain', 'chain-2', 'chain-3', 'chain-in', 'hard-link.txt', 'dangling', 'in-link', 'fifo',
  'outside', 'secret.txt', 'secret-dir', 'inner-secret.txt', 'linked.txt', 'root', 'alice', 'bob', 'bob.txt',
];

/**
 * Hostile path pieces: dot segments (plain, percent-encoded, with a trailing slash encoded),
 * backslash traversal, NUL, lookalikes of "." and "/" (one/two dot leader, fullwidth full stop
 * and solidus, division slash, combining marks), RTL override, "~", drive letters, trailing
 * spaces and dots, and names beyond NAME_MAX (255 bytes) in ASCII and in 2-byte UTF-8.
 */
const HOSTILE = [
  '..', '.', '', '...', '....', '%2e', '%2e%2e', '%2E%2E', '..%2f', '..%2F..', '%2f', '%252e%252e', '%c0%ae%c0%ae',
  '\\', '\\..\\', '..\\..', '\\..\\..\\outside', '..\\..\\outside\\secret.txt', '\0', 'a\0b', '..\0',
  '\u2024\u2024', '\u2025', '\uff0e\uff0e', '\uff0f', '\u2215', '.\u0301.', '\u202e', '\u200b..', '..\u200b',
  '~', '~root', '~alice', '$HOME', 'C:', 'C:\\Windows', '.. ', '..  ', '. ', 'real.txt ', 'real.txt.', 'sub.', ' sub',
  'x'.repeat(255), 'x'.repeat(256), 'é'.repeat(127), 'é'.repeat(128), '😀'.repeat(64),
];

const piece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 5, arbitrary: fc.constantFrom(...PLANTED) },
  { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);

/** Separators: a single slash mostly, also repeated slashes and a backslash. */
const separator = fc.constantFrom('/', '/', '/', '//', '///', '\\');

/** A client path argument: relative or absolute, hostile pieces, optional trailing slash. */
const clientPath = fc
  .tuple(fc.constantFrom('', '/', '//', '\\', '~/'), fc.array(fc.tuple(piece, separator), { maxLength: 7 }), fc.boolean())
  .map(([lead, parts, trailing]) => {
    const joined = parts.map(([p, s], i) => (i === parts.length - 1 ? p : p + s)).join('');
    return `${lead}${joined}${trailing ? '/' : ''}`;
  });

/** Paths longer than PATH_MAX (4096 bytes) in total, with ".." sprinkled in. */
const overlongPath = fc
  .tuple(fc.integer({ min: 17, max: 40 }), fc.constantFrom('d', 'é', '..'))
  .map(([n, fill]) => Array.from({ length: n }, (_, i) => (i % 5 === 4 ? '..' : fill.repeat(fill === '..' ? 1 : 250))).join('/'));

const anyClientPath = fc.oneof({ weight: 9, arbitrary: clientPath }, { weight: 1, arbitrary: overlongPath });

/** A working directory the session may be in (always a normalised result of CWD). */
const cwdArb = fc.constantFrom('/', '/sub', '/sub/deeper', '/chain-in', '/in-dir-missing');

// ---------------------------------------------------------------------------------------------
// (a) the pure virtual-path layer
// ---------------------------------------------------------------------------------------------

describe('(a) virtual paths never climb above the home', () => {
  const home = '/srv/ftp/alice';

  it('resolveVirtualPath: normalised, absolute, idempotent, inside "/", and inside the home once joined on the host', () => {
    fc.assert(
      fc.property(cwdArb, anyClientPath, (cwd, arg) => {
        const r = resolveVirtualPath(cwd, arg);
        if (arg.includes('\0')) {
          assert.equal(r, null, 'a NUL byte must be refused, not truncated');
          return;
        }
        assert.ok(r !== null);
        assert.ok(r.startsWith('/'), r);
        if (r !== '/') {
          for (const segment of r.slice(1).split('/')) {
            assert.ok(segment !== '' && segment !== '.' && segment !== '..', `segment "${segment}" in ${r}`);
          }
        }
        assert.equal(resolveVirtualPath('/', r), r, 'normalisation is idempotent');
        assert.ok(isWithin('/', r));
        // Percent-encodings, backslashes and lookalikes are literal name characters: joined onto
        // the host home the result never leaves it, whatever the platform's path module does.
        const host = path.posix.join(home, r);
        assert.ok(host === home || host.startsWith(`${home}/`), `${JSON.stringify(arg)} -> ${host}`);
      }),
      { numRuns: 3000 },
    );
  });

  it('a chain of CWDs (any arguments) always leaves the session in a normalised path', () => {
    fc.assert(
      fc.property(fc.array(anyClientPath, { maxLength: 12 }), (args) => {
        let cwd = '/';
        for (const arg of args) {
          const next = resolveVirtualPath(cwd, arg);
          if (next === null) continue;
          cwd = next;
          assert.ok(isWithin('/', cwd) && resolveVirtualPath('/', cwd) === cwd, cwd);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('every normalised path is either accepted by the storage layer as plain segments or refused as INVALID_NAME', () => {
    fc.assert(
      fc.property(cwdArb, anyClientPath, (cwd, arg) => {
        const r = resolveVirtualPath(cwd, arg);
        if (r === null) return;
        try {
          const segments = splitVirtualPath(r);
          for (const s of segments) assert.ok(s !== '..' && s !== '.' && s !== '' && !s.includes('/') && Buffer.byteLength(s) <= 255);
        } catch (error) {
          assert.ok(isStorageError(error) && error.code === 'INVALID_NAME', String(error));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the storage layer refuses every un-normalised path with INVALID_NAME (a bug upstream never becomes an escape)', () => {
    fc.assert(
      fc.property(anyClientPath, (arg) => {
        const raw = arg.startsWith('/') ? arg : `/${arg}`;
        if (resolveVirtualPath('/', raw) === raw) return;
        assert.throws(() => splitVirtualPath(raw), (e: unknown) => isStorageError(e) && e.code === 'INVALID_NAME');
      }),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// (b) the local storage adapter on a real tree
// ---------------------------------------------------------------------------------------------

interface Layout {
  readonly base: string;
  readonly root: string;
  readonly home: string;
  readonly outside: string;
  readonly bob: string;
}

async function makeLayout(prefix: string, root?: string): Promise<Layout> {
  const base = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), prefix)));
  const r = root ?? path.join(base, 'root');
  const l: Layout = { base, root: r, home: path.join(r, 'alice'), outside: path.join(base, 'outside'), bob: path.join(r, 'bob') };
  await fsp.mkdir(path.join(l.outside, 'secret-dir'), { recursive: true });
  await fsp.writeFile(path.join(l.outside, 'secret.txt'), SECRET_FILE);
  await fsp.writeFile(path.join(l.outside, 'secret-dir', 'inner-secret.txt'), SECRET_INNER);
  await fsp.mkdir(l.bob, { recursive: true });
  await fsp.writeFile(path.join(l.bob, 'bob.txt'), SECRET_BOB);
  await populateHome(l);
  return l;
}

/** (Re)creates the home and every escape hatch in it; restores the hard-linked outside file. */
async function populateHome(l: Layout): Promise<void> {
  await fsp.rm(l.home, { recursive: true, force: true });
  await fsp.mkdir(path.join(l.home, 'sub', 'deeper'), { recursive: true });
  await fsp.writeFile(path.join(l.home, 'real.txt'), 'inside');
  await fsp.writeFile(path.join(l.home, 'sub', 'inner.txt'), 'inner');
  const h = (name: string) => path.join(l.home, name);
  await fsp.symlink(path.join(l.outside, 'secret.txt'), h('abs-file'));
  await fsp.symlink(path.join(l.outside, 'secret-dir'), h('abs-dir'));
  await fsp.symlink('../../outside/secret.txt', h('rel-file'));
  await fsp.symlink('../../outside/secret-dir', h('rel-dir'));
  await fsp.symlink('../bob', h('sibling'));
  await fsp.symlink('../../bob/bob.txt', h('sub/up'));
  // A chain whose last hop leaves the home, and one that stays inside.
  await fsp.symlink('chain-2', h('chain'));
  await fsp.symlink('chain-3', h('chain-2'));
  await fsp.symlink(path.join(l.outside, 'secret-dir'), h('chain-3'));
  await fsp.symlink('chain-in-2', h('chain-in'));
  await fsp.symlink('sub', h('chain-in-2'));
  await fsp.symlink('real.txt', h('in-link'));
  await fsp.symlink(path.join(l.outside, 'created-by-attack.txt'), h('dangling'));
  // The hard link: see the module comment for why reading it is allowed.
  const linked = path.join(l.outside, 'linked.txt');
  await fsp.rm(linked, { force: true });
  await fsp.writeFile(linked, SECRET_LINKED);
  await fsp.link(linked, h('hard-link.txt'));
}

/** Everything observable outside the home (the hard-linked file: existence and link count only). */
async function snapshot(l: Layout): Promise<string[]> {
  const out: string[] = [`base: ${(await fsp.readdir(l.base)).sort().join(',')}`, `root: ${(await fsp.readdir(l.root)).sort().join(',')}`];
  async function walk(dir: string): Promise<void> {
    for (const name of (await fsp.readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const st = await fsp.lstat(p);
      if (p === path.join(l.outside, 'linked.txt')) {
        // Written in place through the home's name is allowed; removed or linked again is not.
        out.push(`${name} nlink<=2:${st.nlink <= 2}`);
        continue;
      }
      let detail = `${st.mode.toString(8)} ${st.size} ${st.mtimeMs} nlink=${st.nlink}`;
      if (st.isFile()) detail += ` ${createHash('sha256').update(await fsp.readFile(p)).digest('hex')}`;
      if (st.isSymbolicLink()) detail += ` -> ${await fsp.readlink(p)}`;
      out.push(`${path.relative(l.base, p)} ${detail}`);
      if (st.isDirectory()) await walk(p);
    }
  }
  await walk(l.outside);
  await walk(l.bob);
  return out;
}

/** No file in the home has gained a link: only the planted hard link may have nlink 2. */
async function assertNoNewHardLinks(l: Layout): Promise<void> {
  const linkedIno = (await fsp.stat(path.join(l.outside, 'linked.txt'))).ino;
  async function walk(dir: string): Promise<void> {
    for (const name of await fsp.readdir(dir)) {
      const p = path.join(dir, name);
      const st = await fsp.lstat(p);
      if (st.isDirectory()) await walk(p);
      else if (st.isFile() && st.ino !== linkedIno) assert.equal(st.nlink, 1, `${path.relative(l.base, p)} has ${st.nlink} links`);
    }
  }
  await walk(l.home);
}

/**
 * fast-check's interruptAfterTimeLimit races an async run against the clock and abandons it
 * when time is up (it keeps going in the background). On a busy machine that run would still
 * be rebuilding the home while the next test starts (ENOTEMPTY, a missing home); `idle()`
 * waits for it.
 */
function tracked<A extends unknown[]>(body: (...args: A) => Promise<void>): { run: (...args: A) => Promise<void>; idle: () => Promise<void> } {
  let last: Promise<void> = Promise.resolve();
  return {
    run: (...args) => {
      const current = body(...args);
      last = current.catch(() => undefined);
      return current;
    },
    idle: () => last,
  };
}

function assertCleanStorageError(error: unknown, l: Layout): void {
  if (error instanceof assert.AssertionError) throw error;
  assert.ok(isStorageError(error), `a non-storage error escaped: ${String(error)}`);
  assert.ok(STORAGE_CODES.has(error.code), `unknown code ${error.code}`);
  assert.ok(!error.message.includes(l.base) && !error.message.includes('/'), `host detail in the message: ${error.message}`);
}

const OPERATIONS = [
  'stat', 'size', 'mdtm', 'list', 'read', 'stor', 'appe', 'resume', 'stou', 'dele', 'rnfr', 'rnto', 'rename',
  'mkd', 'rmd', 'mfmt',
] as const;
type Operation = (typeof OPERATIONS)[number];

/** Runs one operation the way the session would (SIZE/MDTM are stats); checks what comes back. */
async function runOperation(b: LocalStorage, op: Operation, p: string, q: string): Promise<void> {
  switch (op) {
    case 'stat':
    case 'size':
    case 'mdtm': {
      const e = await b.stat(p);
      // The outside files have distinctive sizes: a stat that followed a link out would show one.
      assert.ok(!LEAKING.some((s) => s.length === e.size && e.type === 'file'), `stat of ${p} has the size of an outside file`);
      break;
    }
    case 'list':
      for (const e of await collect(b.list(p))) assert.ok(!['secret.txt', 'inner-secret.txt', 'bob.txt', 'linked.txt'].includes(e.name), `listed ${e.name} via ${p}`);
      break;
    case 'read': {
      const text = await readText(b, p);
      for (const s of LEAKING) assert.ok(!text.includes(s), `read ${JSON.stringify(s)} via ${p}`);
      break;
    }
    case 'stor':
      await writeAll(b, p, 'PWNED', 'overwrite');
      break;
    case 'appe':
      await writeAll(b, p, 'PWNED', 'append');
      break;
    case 'resume':
      await writeAll(b, p, 'PWNED', 'resume');
      break;
    case 'stou':
      await writeAll(b, p, 'PWNED', 'create');
      break;
    case 'dele':
      await b.remove(p);
      break;
    case 'rnfr':
      await b.rename(p, '/moved');
      break;
    case 'rnto':
      await b.rename('/real.txt', p);
      break;
    case 'rename':
      await b.rename(p, q);
      break;
    case 'mkd':
      await b.makeDirectory(p);
      break;
    case 'rmd':
      await b.removeDirectory(p);
      break;
    case 'mfmt':
      await b.setModifiedTime(p, new Date(0));
      break;
  }
}

describe('(b) the local storage adapter keeps every operation inside the home', () => {
  let l: Layout;
  let b: LocalStorage;
  let reference: string[];

  before(async () => {
    l = await makeLayout('kftpd-prop-confine-');
    b = await new LocalStorageProvider({ root: l.root }).forHome('/alice');
    reference = await snapshot(l);
  });
  after(async () => {
    await fsp.rm(l.base, { recursive: true, force: true });
  });

  it('property: any operation on any (normalised) client path: a clean StorageError or an effect inside the home', async () => {
    const started = Date.now();
    const property = tracked(async (op: Operation, cwd: string, arg: string, arg2: string) => {
      await populateHome(l);
      const p = resolveVirtualPath(cwd, arg);
      const q = resolveVirtualPath(cwd, arg2) ?? '/moved';
      if (p === null) return; // the session answers 553 itself (checked in (c))
      try {
        await runOperation(b, op, p, q);
      } catch (error) {
        assertCleanStorageError(error, l);
      }
      assert.deepEqual(await snapshot(l), reference, `${op} ${JSON.stringify(p)} ${JSON.stringify(q)} changed something outside`);
      await assertNoNewHardLinks(l);
    });
    try {
      await fc.assert(fc.asyncProperty(fc.constantFrom(...OPERATIONS), cwdArb, anyClientPath, anyClientPath, property.run), {
        numRuns: 600,
        interruptAfterTimeLimit: 15_000,
        markInterruptAsFailure: false,
      });
    } finally {
      await property.idle();
    }
    assert.ok(Date.now() - started < 30_000);
  });

  it('property: un-normalised paths handed straight to the adapter are refused with INVALID_NAME', async () => {
    const property = tracked(async (op: Operation, arg: string) => {
      const raw = `/${arg}`;
      fc.pre(resolveVirtualPath('/', raw) !== raw && !raw.includes('\0'));
      await assert.rejects(runOperation(b, op, raw, '/moved'), (e: unknown) => isStorageError(e) && e.code === 'INVALID_NAME');
    });
    try {
      await fc.assert(fc.asyncProperty(fc.constantFrom(...OPERATIONS), anyClientPath, property.run), { numRuns: 300, interruptAfterTimeLimit: 5000, markInterruptAsFailure: false });
    } finally {
      await property.idle();
    }
    assert.deepEqual(await snapshot(l), reference);
  });

  it('every escape hatch, every operation: refused with OUTSIDE_ROOT (or NOT_FOUND for a dangling link)', async () => {
    const hatches = ['/abs-file', '/rel-file', '/abs-dir', '/rel-dir', '/sibling', '/sub/up', '/chain', '/chain-2', '/chain-3', '/abs-dir/inner-secret.txt', '/rel-dir/inner-secret.txt', '/chain/inner-secret.txt', '/sibling/bob.txt'];
    for (const op of OPERATIONS) {
      if (op === 'rnto' || op === 'mkd' || op === 'stou') continue; // operations that create: checked below
      for (const p of hatches) {
        await populateHome(l);
        await assert.rejects(runOperation(b, op, p, '/moved'), (e: unknown) => isStorageError(e) && e.code === 'OUTSIDE_ROOT', `${op} ${p}`);
      }
    }
    for (const op of ['rnto', 'mkd', 'stor', 'stou', 'appe'] as const) {
      for (const p of ['/abs-dir/new', '/rel-dir/new', '/chain/new', '/sibling/new', '/sibling/bob.txt', '/abs-dir/inner-secret.txt']) {
        await populateHome(l);
        await assert.rejects(runOperation(b, op, p, '/moved'), (e: unknown) => isStorageError(e) && e.code === 'OUTSIDE_ROOT', `${op} ${p}`);
      }
    }
    // A dangling link is never written through (O_NOFOLLOW), so nothing is created outside.
    for (const mode of ['overwrite', 'append', 'resume'] as const) {
      await assert.rejects(writeAll(b, '/dangling', 'x', mode), (e: unknown) => isStorageError(e) && e.code === 'OUTSIDE_ROOT');
    }
    assert.deepEqual(await snapshot(l), reference);
  });

  it('hard link: served as a file of the home; deleting it removes only the home name; nothing links anew', async () => {
    await populateHome(l);
    assert.equal(await readText(b, '/hard-link.txt'), SECRET_LINKED);
    await writeAll(b, '/hard-link.txt', 'rewritten', 'overwrite');
    // Overwritten in place, like vsftpd and SFTPGo would: the same inode, so the outside name sees it.
    assert.equal(await fsp.readFile(path.join(l.outside, 'linked.txt'), 'utf8'), 'rewritten');
    await b.rename('/hard-link.txt', '/renamed.txt');
    await b.rename('/real.txt', '/renamed.txt');
    await b.remove('/renamed.txt');
    assert.equal((await fsp.stat(path.join(l.outside, 'linked.txt'))).nlink, 1);
    await assertNoNewHardLinks(l);
  });

  it('links that stay inside (in-link, chain-in) work like their targets', async () => {
    await populateHome(l);
    assert.equal(await readText(b, '/in-link'), 'inside');
    // sub/up points outside, so the listing hides it.
    assert.deepEqual((await collect(b.list('/chain-in'))).map((e) => e.name).sort(), ['deeper', 'inner.txt']);
    assert.equal(await readText(b, '/chain-in/inner.txt'), 'inner');
  });
});

// ---------------------------------------------------------------------------------------------
// (c) the real server over sockets
// ---------------------------------------------------------------------------------------------

/** What each command may answer. 150 means a transfer started and 226/4xx followed. */
const ALLOWED: Readonly<Record<string, readonly number[]>> = {
  CWD: [250, 550, 553, 501, 500],
  LIST: [150, 550, 553, 501, 500, 450],
  NLST: [150, 550, 553, 501, 500, 450],
  RETR: [150, 550, 553, 501, 500, 450],
  STOR: [150, 550, 553, 501, 500, 450],
  APPE: [150, 550, 553, 501, 500, 450],
  DELE: [250, 550, 553, 501, 500],
  RNFR: [350, 550, 553, 501, 500],
  RNTO: [250, 550, 553, 501, 500, 503],
  MKD: [257, 550, 553, 501, 500],
  RMD: [250, 550, 553, 501, 500],
  SIZE: [213, 550, 553, 501, 500],
  MDTM: [213, 550, 553, 501, 500],
  MFMT: [213, 550, 553, 501, 500],
};

function assertWellFormed(reply: Reply, base: string, label: string): void {
  assert.match(reply.lines[0] ?? '', /^\d{3}[ -]/, label);
  assert.ok(!reply.text.includes(base), `${label}: host path in the reply: ${reply.text}`);
  assert.ok(!/\bat \S+ \(|Error:|ENOENT|EACCES|ELOOP/.test(reply.text), `${label}: internal error text: ${reply.text}`);
}

/** Over the wire a path cannot carry CR or LF (they end the command line): the fuzz test covers those. */
const wirePath = anyClientPath.map((p) => p.replace(/[\r\n]/g, '_'));

describe('(c) over real sockets: generated paths through every path command', () => {
  let t: TestServer;
  let l: Layout;
  let reference: string[];
  let client: RawClient;

  before(async () => {
    t = await startTestServer({ users: [{ name: 'alice', password: 'alice-pass-123', home: '/alice' }] });
    // The outside tree lives beside the storage root, inside the helper's temp dir (removed on close).
    const dir = path.dirname(t.root);
    l = { base: dir, root: t.root, home: path.join(t.root, 'alice'), outside: path.join(dir, 'outside'), bob: path.join(t.root, 'bob') };
    await fsp.mkdir(path.join(l.outside, 'secret-dir'), { recursive: true });
    await fsp.writeFile(path.join(l.outside, 'secret.txt'), SECRET_FILE);
    await fsp.writeFile(path.join(l.outside, 'secret-dir', 'inner-secret.txt'), SECRET_INNER);
    await fsp.mkdir(l.bob, { recursive: true });
    await fsp.writeFile(path.join(l.bob, 'bob.txt'), SECRET_BOB);
    await populateHome(l);
    client = await RawClient.connect(t.port);
    await client.login('alice', 'alice-pass-123');
    reference = await snapshotWire(l);
  });
  after(async () => {
    client?.close();
    await t?.close();
  });

  /** The outside as in (b), but the helper's own files (users file, state) are not ours to watch. */
  async function snapshotWire(layout: Layout): Promise<string[]> {
    return (await snapshot(layout)).filter((line) => !line.startsWith('base: '));
  }

  it('property: replies are well-formed and allowed, transfers never carry outside bytes, the outside never changes', async () => {
    const verbs = Object.keys(ALLOWED);
    const property = tracked(async (verb: string, arg: string, arg2: string) => {
      await populateHome(l);
      const label = `${verb} ${JSON.stringify(arg)}`;
      let reply: Reply;
      if (verb === 'LIST' || verb === 'NLST' || verb === 'RETR') {
        const result = await rawDownload(client, `${verb} ${arg}`, 10_000);
        reply = result.first;
        if (result.final) assertWellFormed(result.final, l.base, label);
        const data = result.data.toString('utf8');
        for (const s of LEAKING) assert.ok(!data.includes(s), `${label} sent outside bytes`);
        if (verb !== 'RETR') for (const n of ['secret.txt', 'inner-secret.txt', 'bob.txt']) assert.ok(!data.includes(n), `${label} listed ${n}`);
      } else if (verb === 'STOR' || verb === 'APPE') {
        const result = await rawUpload(client, `${verb} ${arg}`, Buffer.from('PWNED'), 10_000);
        reply = result.first;
        if (result.final) assertWellFormed(result.final, l.base, label);
      } else if (verb === 'RNTO') {
        const from = await client.send(`RNFR ${arg2}`);
        assertWellFormed(from, l.base, `RNFR ${arg2}`);
        reply = await client.send(`RNTO ${arg}`);
      } else if (verb === 'MFMT') {
        reply = await client.send(`MFMT 20000101000000 ${arg}`);
      } else {
        reply = await client.send(`${verb} ${arg}`);
      }
      assertWellFormed(reply, l.base, label);
      assert.ok((ALLOWED[verb] ?? []).includes(reply.code), `${label} -> ${reply.text}`);
      if (verb === 'CWD') {
        const pwd = await client.send('PWD');
        const shown = /^257 "(.*)"/.exec(pwd.text)?.[1]?.replace(/""/g, '"') ?? '';
        assert.ok(shown.startsWith('/') && resolveVirtualPath('/', shown) === shown, `PWD after ${label}: ${pwd.text}`);
        assert.equal((await client.send('CWD /')).code, 250);
      }
      assert.deepEqual(await snapshotWire(l), reference, `${label} changed something outside`);
      await assertNoNewHardLinks(l);
    });
    try {
      await fc.assert(fc.asyncProperty(fc.constantFrom(...verbs), wirePath, wirePath, property.run), { numRuns: 120, interruptAfterTimeLimit: 15_000, markInterruptAsFailure: false });
    } finally {
      await property.idle();
    }
  });

  it('no command creates a link (SITE SYMLINK / SITE LINK are not implemented)', async () => {
    for (const line of ['SITE SYMLINK /abs-file /x', 'SITE LINK /hard-link.txt /y', 'SITE CPFR /abs-file', 'SITE COPY /abs-file /z']) {
      const reply = await client.send(line);
      assertWellFormed(reply, l.base, line);
      assert.ok(reply.code >= 500, `${line} -> ${reply.text}`);
    }
    await assertNoNewHardLinks(l);
  });
});

// ---------------------------------------------------------------------------------------------
// (d) a symlink swapped in: between check and use, and during a transfer
// ---------------------------------------------------------------------------------------------

type RealpathCallback = (error: NodeJS.ErrnoException | null, resolved: string) => void;
type NativeRealpath = (p: string, callback: RealpathCallback) => void;

/**
 * The adapter checks a path with realpath and then uses it (open with O_NOFOLLOW, utimes...).
 * This hook runs `swap` once, right after the realpath of `trigger` has answered and before the
 * adapter uses the result: the exact check-to-use window, made deterministic.
 */
function swapAfterRealpath(trigger: string, swap: () => void): () => void {
  const holder = fs.realpath as unknown as { native: NativeRealpath };
  const original = holder.native;
  let fired = false;
  holder.native = (p, callback) =>
    original(p, (error, resolved) => {
      if (!fired && p === trigger) {
        fired = true;
        swap();
      }
      callback(error, resolved);
    });
  return () => {
    holder.native = original;
  };
}

describe('(d) a symlink swapped in', () => {
  let l: Layout;
  let b: LocalStorage;
  let reference: string[];
  let restore: (() => void) | undefined;

  before(async () => {
    l = await makeLayout('kftpd-prop-race-');
    b = await new LocalStorageProvider({ root: l.root }).forHome('/alice');
    reference = await snapshot(l);
  });
  beforeEach(async () => {
    await populateHome(l);
    await fsp.writeFile(path.join(l.home, 'victim.txt'), 'victim');
  });
  afterEach(async () => {
    restore?.();
    restore = undefined;
    assert.deepEqual(await snapshot(l), reference, 'something outside the home changed');
  });
  after(async () => {
    await fsp.rm(l.base, { recursive: true, force: true });
  });

  /** Replaces home/<name> by a symlink to `target`. */
  function swapToLink(name: string, target: string): () => void {
    return () => {
      fs.rmSync(path.join(l.home, name), { recursive: true, force: true });
      fs.symlinkSync(target, path.join(l.home, name));
    };
  }

  it('final component swapped after the check: RETR refused (O_NOFOLLOW -> OUTSIDE_ROOT)', async () => {
    const victim = path.join(l.home, 'victim.txt');
    restore = swapAfterRealpath(victim, swapToLink('victim.txt', path.join(l.outside, 'secret.txt')));
    await assert.rejects(readText(b, '/victim.txt'), (e: unknown) => isStorageError(e) && e.code === 'OUTSIDE_ROOT');
  });

  it('final component swapped after the check: STOR/APPE refused, nothing written outside', async () => {
    for (const mode of ['overwrite', 'append', 'resume', 'update'] as const) {
      await populateHome(l);
      await fsp.writeFile(path.join(l.home, 'victim.txt'), 'victim');
      restore?.();
      // The write path resolves the parent (the home) first: swap right after that check.
      restore = swapAfterRealpath(l.home, swapToLink('victim.txt', path.join(l.outside, 'secret.txt')));
      await assert.rejects(writeAll(b, '/victim.txt', 'PWNED', mode), (e: unknown) => isStorageError(e) && e.code === 'OUTSIDE_ROOT', mode);
    }
  });

  it('final component swapped after the check: MFMT does not touch the outside file', async () => {
    const victim = path.join(l.home, 'victim.txt');
    restore = swapAfterRealpath(victim, swapToLink('victim.txt', path.join(l.outside, 'secret.txt')));
    await assert.rejects(b.setModifiedTime('/victim.txt', new Date(0)), (e: unknown) => isStorageError(e) && e.code === 'OUTSIDE_ROOT');
  });

  it('final component swapped after the check: SITE CHMOD / SETSTAT mode does not touch the outside file', async () => {
    const victim = path.join(l.home, 'victim.txt');
    restore = swapAfterRealpath(victim, swapToLink('victim.txt', path.join(l.outside, 'secret.txt')));
    await assert.rejects(b.setMode('/victim.txt', 0o777), (e: unknown) => isStorageError(e) && e.code === 'OUTSIDE_ROOT');
  });

  it('final component swapped after the check: SFTP truncate does not cut the outside file', async () => {
    const victim = path.join(l.home, 'victim.txt');
    restore = swapAfterRealpath(victim, swapToLink('victim.txt', path.join(l.outside, 'secret.txt')));
    await assert.rejects(b.truncate('/victim.txt', 0), (e: unknown) => isStorageError(e) && e.code === 'OUTSIDE_ROOT');
  });

  it('final component swapped after the check: SIZE/MDTM do not report the outside file', async () => {
    const victim = path.join(l.home, 'victim.txt');
    restore = swapAfterRealpath(victim, swapToLink('victim.txt', path.join(l.outside, 'secret.txt')));
    try {
      const e = await b.stat('/victim.txt');
      assert.notEqual(e.size, SECRET_FILE.length, 'stat followed the swapped link to the outside file');
    } catch (error) {
      assertCleanStorageError(error, l);
    }
  });

  // A directory ABOVE the final component swapped for a link between the realpath check and
  // the open is followed by open(2) (O_NOFOLLOW only guards the last component and Node has no
  // openat2/RESOLVE_BENEATH). The adapter proves every opened file inside the home through
  // /proc/self/fd and creates files relative to a proven directory fd (see #openConfined), so
  // nothing outside is read or created.
  it('intermediate directory swapped after the check: RETR must not read the outside file', async () => {
    await fsp.mkdir(path.join(l.home, 'dir'));
    await fsp.writeFile(path.join(l.home, 'dir', 'inner-secret.txt'), 'inside copy');
    restore = swapAfterRealpath(path.join(l.home, 'dir', 'inner-secret.txt'), swapToLink('dir', path.join(l.outside, 'secret-dir')));
    try {
      assert.ok(!(await readText(b, '/dir/inner-secret.txt')).includes(SECRET_INNER), 'read the outside file');
    } catch (error) {
      assertCleanStorageError(error, l);
    }
  });

  it('intermediate directory swapped after the check: STOR must not create a file outside', async () => {
    await fsp.mkdir(path.join(l.home, 'dir'));
    restore = swapAfterRealpath(path.join(l.home, 'dir'), swapToLink('dir', path.join(l.outside, 'secret-dir')));
    const planted = path.join(l.outside, 'secret-dir', 'planted.txt');
    const dirBefore = await fsp.stat(path.join(l.outside, 'secret-dir'));
    try {
      await writeAll(b, '/dir/planted.txt', 'PWNED', 'overwrite');
    } catch (error) {
      assertCleanStorageError(error, l);
    }
    const escaped = fs.existsSync(planted);
    if (escaped) {
      // Undo the escape so the other tests still compare against a clean outside.
      await fsp.rm(planted, { force: true });
      await fsp.utimes(path.join(l.outside, 'secret-dir'), dirBefore.atime, dirBefore.mtime);
    }
    assert.ok(!escaped, 'created a file outside the home');
  });
});

describe('(d) a symlink swapped in during a transfer over the real server', () => {
  let t: TestServer;
  let wl: Layout;
  let wireReference: string[];
  const BIG = 8 * 1024 * 1024;

  before(async () => {
    t = await startTestServer({ users: [{ name: 'alice', password: 'alice-pass-123', home: '/alice' }] });
    const dir = path.dirname(t.root);
    wl = { base: dir, root: t.root, home: path.join(t.root, 'alice'), outside: path.join(dir, 'outside'), bob: path.join(t.root, 'bob') };
    await fsp.mkdir(path.join(wl.outside, 'secret-dir'), { recursive: true });
    await fsp.writeFile(path.join(wl.outside, 'secret.txt'), SECRET_FILE);
    await fsp.writeFile(path.join(wl.outside, 'secret-dir', 'inner-secret.txt'), SECRET_INNER);
    // Same name as the file being transferred, so following a swapped link would hit it.
    await fsp.writeFile(path.join(wl.outside, 'secret-dir', 'big.bin'), Buffer.alloc(BIG, 0x53));
    await fsp.mkdir(wl.bob, { recursive: true });
    await fsp.writeFile(path.join(wl.bob, 'bob.txt'), SECRET_BOB);
    await populateHome(wl);
    wireReference = (await snapshot(wl)).filter((line) => !line.startsWith('base: '));
  });
  after(async () => {
    await t?.close();
  });

  async function swapDirForLink(): Promise<void> {
    await fsp.rename(path.join(wl.home, 'dir'), path.join(wl.home, 'dir-old'));
    await fsp.symlink(path.join(wl.outside, 'secret-dir'), path.join(wl.home, 'dir'));
  }

  async function reset(): Promise<void> {
    await fsp.rm(path.join(wl.home, 'dir'), { recursive: true, force: true });
    await fsp.rm(path.join(wl.home, 'dir-old'), { recursive: true, force: true });
    await fsp.mkdir(path.join(wl.home, 'dir'));
  }

  it('download: the directory swapped for a link mid-transfer; the file already open is sent, nothing outside is read', async () => {
    await reset();
    const original = Buffer.alloc(BIG, 0x49);
    await fsp.writeFile(path.join(wl.home, 'dir', 'big.bin'), original);
    const client = await RawClient.connect(t.port);
    try {
      await client.login('alice', 'alice-pass-123');
      const socket = await client.openPassiveData();
      // Read nothing at first: backpressure stalls the server mid-file.
      socket.pause();
      const first = await client.send('RETR dir/big.bin');
      assert.equal(first.code, 150);
      await swapDirForLink();
      const data = collectSocket(socket, 20_000);
      socket.resume();
      const [bytes, final] = await Promise.all([data, client.read(20_000)]);
      assert.equal(final.code, 226);
      assert.equal(bytes.length, BIG);
      assert.ok(bytes.equals(original), 'the download mixed in bytes from outside');
      // A new RETR on the swapped path is refused.
      const again = await rawDownload(client, 'RETR dir/big.bin', 10_000);
      assert.equal(again.first.code, 550);
    } finally {
      client.close();
    }
    assert.deepEqual((await snapshot(wl)).filter((line) => !line.startsWith('base: ')), wireReference);
  });

  it('upload: the directory swapped for a link mid-transfer; the bytes land in the moved directory, never outside', async () => {
    await reset();
    const client = await RawClient.connect(t.port);
    try {
      await client.login('alice', 'alice-pass-123');
      const socket = await client.openPassiveData();
      socket.on('error', () => undefined);
      const first = await client.send('STOR dir/up.bin');
      assert.equal(first.code, 150);
      const half = Buffer.alloc(1024 * 1024, 0x41);
      await new Promise<void>((resolve) => socket.write(half, () => resolve()));
      // Wait until the server has the file open and written some of it.
      for (let i = 0; i < 100 && !fs.existsSync(path.join(wl.home, 'dir', 'up.bin')); i++) await new Promise((r) => setTimeout(r, 20));
      await swapDirForLink();
      socket.end(half);
      const final = await client.read(20_000);
      assert.equal(final.code, 226);
      assert.equal((await fsp.stat(path.join(wl.home, 'dir-old', 'up.bin'))).size, 2 * half.length);
      assert.ok(!fs.existsSync(path.join(wl.outside, 'secret-dir', 'up.bin')), 'the upload was written outside');
      // A new STOR through the swapped path is refused before any byte moves.
      const again = await rawUpload(client, 'STOR dir/up2.bin', Buffer.from('PWNED'), 10_000);
      assert.equal(again.first.code, 550);
    } finally {
      client.close();
    }
    assert.deepEqual((await snapshot(wl)).filter((line) => !line.startsWith('base: ')), wireReference);
  });
});
