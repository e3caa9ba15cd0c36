/**
 * @module test/integration/reply-safety
 * Reply texts never carry internal error messages, stack traces, errno names or host paths
 * (issue 7; docs/errors.md), whatever storage throws: real EACCES/ENOENT/EISDIR/ENOTDIR from
 * the local adapter, ENOSPC from the memory adapter's capacity, and raw non-StorageErrors
 * (with a host path in their message) from a broken adapter, before and during transfers.
 * For every file command the reply is checked, and the log is checked to hold the detail.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { MemoryStorageProvider } from '../../src/storage/memory/memory-storage.js';
import { LocalStorageProvider } from '../../src/storage/local/local-storage.js';
import type { StorageBackend, StorageProvider, WriteHandle } from '../../src/storage/types.js';
import { RawClient, type Reply } from '../helpers/raw-client.js';
import { rawDownload, rawUpload } from '../helpers/raw-transfer.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { makeDirectories, seedFile } from '../helpers/storage.js';

const ERRNO = /\b(EACCES|ENOENT|ENOSPC|EISDIR|ENOTDIR|EIO|EPERM|EEXIST|ENOTEMPTY|EBADF|EDQUOT)\b/;

/** Fails when a reply leaks anything internal. */
function assertSafe(reply: Reply | undefined, root: string, label: string): void {
  if (!reply) return;
  const text = reply.text;
  assert.ok(!text.includes(root), `${label}: host path in "${text}"`);
  assert.ok(!text.includes('/tmp/'), `${label}: host path in "${text}"`);
  assert.doesNotMatch(text, /Error:|TypeError|\bat \S+ \(|node:internal|\.js:\d+/, `${label}: error or stack in "${text}"`);
  assert.doesNotMatch(text, ERRNO, `${label}: errno name in "${text}"`);
  assert.doesNotMatch(text, /boom|secret-internal/, `${label}: internal message in "${text}"`);
}

/** Every file command against `target` (a path that makes storage fail), replies checked. */
async function everyCommand(c: RawClient, t: TestServer, target: string): Promise<Reply[]> {
  const replies: Reply[] = [];
  const send = async (line: string) => {
    const reply = await c.send(line, 10_000);
    assertSafe(reply, t.root, line);
    replies.push(reply);
    return reply;
  };
  for (const verb of ['CWD', 'MKD', 'RMD', 'DELE', 'SIZE', 'MDTM', 'MLST', 'STAT', 'HASH', 'XCRC', 'XSHA256']) await send(`${verb} ${target}`);
  await send(`MFMT 20240101000000 ${target}`);
  const rnfr = await send(`RNFR ${target}`);
  if (rnfr.code === 350) await send('RNTO renamed-target');
  await send('RNFR plain.txt');
  await send(`RNTO ${target}`);
  for (const line of [`RETR ${target}`, `LIST ${target}`, `NLST ${target}`, `MLSD ${target}`]) {
    const result = await rawDownload(c, line, 10_000);
    assertSafe(result.first, t.root, line);
    assertSafe(result.final, t.root, line);
    replies.push(result.first, ...(result.final ? [result.final] : []));
  }
  for (const line of [`STOR ${target}`, `APPE ${target}`]) {
    const result = await rawUpload(c, line, Buffer.alloc(10_000, 7), 10_000);
    assertSafe(result.first, t.root, line);
    assertSafe(result.final, t.root, line);
    replies.push(result.first, ...(result.final ? [result.final] : []));
  }
  // The session is still usable afterwards.
  assert.equal((await c.send('NOOP')).code, 200);
  return replies;
}

async function withSession(options: TestServerOptions, body: (t: TestServer, c: RawClient) => Promise<void>): Promise<void> {
  const t = await startTestServer(options);
  const c = await RawClient.connect(t.port, t.host);
  try {
    await c.login(t.user, t.password);
    await seedFile(t.storage, '/plain.txt', 'plain');
    await body(t, c);
  } finally {
    c.close();
    await t.close();
  }
}

function logText(t: TestServer): string {
  return JSON.stringify(t.logs);
}

/** A raw Node-style error whose message names a host path, as fs errors do. */
function nativeError(code: string, root: string): Error {
  return Object.assign(new Error(`${code}: secret-internal failure, open '${root}/private/file'`), { code, errno: -1, syscall: 'open', path: `${root}/private/file` });
}

/**
 * A storage adapter that fails like a broken one: any path under /broken throws a raw errno
 * error (not a StorageError) or a TypeError; /broken-read.bin fails in the middle of reading
 * and /broken-write.bin in the middle of writing.
 */
function brokenProvider(root: string): StorageProvider {
  const inner = new LocalStorageProvider({ root });
  const fail = (target: string): Error => (target.includes('type') ? new TypeError('boom: cannot read properties of undefined') : nativeError('EIO', root));
  const isBroken = (p: unknown) => typeof p === 'string' && p.startsWith('/broken') && !p.startsWith('/broken-read') && !p.startsWith('/broken-write');
  const wrap = (backend: StorageBackend): StorageBackend =>
    new Proxy(backend, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const first = args[0];
          if (key === 'list' && isBroken(first)) {
            return (async function* () {
              yield* [];
              throw fail(String(first));
            })();
          }
          if (isBroken(first) || (key === 'rename' && isBroken(args[1]))) return Promise.reject(fail(String(first)));
          if (key === 'openRead' && first === '/broken-read.bin') {
            let sent = false;
            return Promise.resolve(
              new Readable({
                read() {
                  if (!sent) {
                    sent = true;
                    this.push(Buffer.alloc(1000, 1));
                  } else this.destroy(nativeError('EIO', root));
                },
              }),
            );
          }
          if (key === 'openWrite' && first === '/broken-write.bin') {
            const handle: WriteHandle = {
              stream: new Writable({
                write(_chunk, _encoding, callback) {
                  callback(nativeError('ENOSPC', root));
                },
              }),
              commit: () => Promise.resolve(),
              abort: () => Promise.resolve(),
            };
            return Promise.resolve(handle);
          }
          return method.apply(target, args);
        };
      },
    });
  return { capabilities: inner.capabilities, ping: () => inner.ping(), forHome: async (home) => wrap(await inner.forHome(home)) };
}

describe('reply texts never leak internals', () => {
  it('local adapter: ENOENT on a parent, EISDIR, ENOTDIR (and EACCES when not root)', async () => {
    await withSession({}, async (t, c) => {
      await makeDirectories(t.storage, '/dir');
      await seedFile(t.storage, '/dir/inside.txt', 'x');
      for (const target of ['nodir/child.txt', 'dir', 'plain.txt/child']) await everyCommand(c, t, target);
      if (process.getuid?.() !== 0) {
        await mkdir(path.join(t.root, 'locked'));
        await writeFile(path.join(t.root, 'locked', 'f.txt'), 'x');
        await chmod(path.join(t.root, 'locked'), 0o000);
        try {
          await everyCommand(c, t, 'locked/f.txt');
          assert.match(logText(t), /EACCES/);
        } finally {
          await chmod(path.join(t.root, 'locked'), 0o755);
        }
      }
      // The log has what the reply must not: the native error with its host path.
      assert.ok(logText(t).includes(t.root), 'log keeps the detail');
    });
  });

  it('memory adapter: ENOSPC (capacityBytes) during uploads answers 452 with a safe text', async () => {
    await withSession({ storage: () => new MemoryStorageProvider({ capacityBytes: 5000 }) }, async (t, c) => {
      for (const line of ['STOR full.bin', 'APPE full.bin']) {
        const result = await rawUpload(c, line, Buffer.alloc(20_000, 3), 10_000);
        assertSafe(result.first, t.root, line);
        assertSafe(result.final, t.root, line);
        assert.equal(result.final?.code, 452, result.final?.text);
      }
      assert.ok(t.logs.some((r) => r.code === 'KFTPD_STORAGE_NO_SPACE'));
    });
  });

  it('a broken adapter throwing raw errors (host paths, TypeError) before and during transfers', async () => {
    await withSession({ storage: brokenProvider }, async (t, c) => {
      await seedFile(t.storage, '/broken-read.bin', Buffer.alloc(5000, 1));
      for (const target of ['broken/file.txt', 'broken-type/file.txt']) {
        const replies = await everyCommand(c, t, target);
        assert.ok(replies.some((r) => r.code === 451), 'raw errors answer 451 Local error in processing.');
      }
      const read = await rawDownload(c, 'RETR broken-read.bin', 10_000);
      assertSafe(read.first, t.root, 'RETR broken-read');
      assertSafe(read.final, t.root, 'RETR broken-read');
      assert.equal(read.final?.code, 451, read.final?.text);
      const write = await rawUpload(c, 'STOR broken-write.bin', Buffer.alloc(100_000, 2), 10_000);
      assertSafe(write.first, t.root, 'STOR broken-write');
      assertSafe(write.final, t.root, 'STOR broken-write');
      assert.equal(write.final?.code, 452, write.final?.text);
      // The detail is in the log: the native message with its host path, and the stack.
      const logs = logText(t);
      assert.ok(logs.includes(`${t.root}/private/file`), 'log keeps the native message');
      assert.match(logs, /TypeError/);
      assert.match(logs, /KFTPD_INTERNAL|KFTPD_STORAGE_UNAVAILABLE/);
    });
  });
});
