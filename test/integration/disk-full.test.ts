/**
 * @module test/integration/disk-full.test
 * A full disk, for real: the storage root is a 4 MiB tmpfs, and an upload larger than that
 * fails. Checked: the reply is 452 (RFC 959 §4.2: "Requested action not taken. Insufficient
 * storage space in system"; 552 is "exceeded storage allocation", a quota, not a full disk);
 * the partial file is not presented as complete (its SIZE differs from the source: uploads are
 * resumable by default, so the partial bytes may stay for REST/APPE, and the client knows from
 * the 452 that they are not the file); the session keeps working (LIST, RETR of an existing
 * file); and once space is freed (DELE) the next upload works and is byte-identical. Also with
 * curl as a real client. Needs root to mount the tmpfs: skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CURL_MISSING, describeRun, run } from '../helpers/integration.js';
import { RawClient } from '../helpers/raw-client.js';
import { rawDownload, rawUpload } from '../helpers/raw-transfer.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
const FS_SIZE = 4 * MiB;

/** Null when a tmpfs can be mounted here, else why not (not root, no CAP_SYS_ADMIN...). */
function mountTmpfs(dir: string): string | null {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_SIZE},mode=0755`, 'tmpfs', dir], { encoding: 'utf8', timeout: 10_000 });
  if (result.error) return `mount not available: ${result.error.message}`;
  if (result.status !== 0) return `mount -t tmpfs failed: ${result.stderr.trim()}`;
  return null;
}

describe('disk full (storage root on a 4 MiB tmpfs)', () => {
  let base: string;
  let mounted = false;
  let skipReason: string | null = null;
  let t: TestServer;
  const keep = randomBytes(100 * 1024);

  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'kftpd-diskfull-'));
    skipReason = mountTmpfs(base);
    mounted = skipReason === null;
    if (!mounted) return;
    await writeFile(path.join(base, 'keep.bin'), keep);
    t = await startTestServer({ config: { storage: { root: base } } });
  });

  after(async () => {
    await t?.close();
    if (mounted) spawnSync('umount', [base], { timeout: 10_000 });
    await rm(base, { recursive: true, force: true });
  });

  async function connect(): Promise<RawClient> {
    const client = await RawClient.connect(t.port);
    await client.login(t.user, t.password);
    assert.equal((await client.send('TYPE I')).code, 200);
    return client;
  }

  it('an upload beyond the free space gets 452, leaves no complete-looking file, and the session goes on', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const client = await connect();
    try {
      const big = randomBytes(6 * MiB);
      const result = await rawUpload(client, 'STOR big.bin', big, 30_000);
      assert.equal(result.first.code, 150, result.first.text);
      assert.equal(result.final?.code, 452, `expected 452 insufficient storage, got ${result.final?.text ?? '(none)'}`);
      assert.doesNotMatch(result.final?.text ?? '', /ENOSPC|\/|at /, 'internal detail in the reply');

      // Either gone, or a partial that a client can tell apart from the source by its size.
      const size = await client.send('SIZE big.bin');
      if (size.code === 213) assert.ok(Number(size.text.slice(4)) < big.length, `SIZE ${size.text} looks complete`);
      else assert.equal(size.code, 550, size.text);

      // Nothing else broke: listing and downloading an existing file still work.
      const list = await rawDownload(client, 'NLST', 10_000);
      assert.equal(list.final?.code, 226, list.final?.text);
      assert.ok(list.data.toString().includes('keep.bin'));
      const down = await rawDownload(client, 'RETR keep.bin', 10_000);
      assert.equal(down.final?.code, 226, down.final?.text);
      assert.ok(down.data.equals(keep), 'keep.bin changed');

      // Free the space; the next upload works and is byte-identical.
      const dele = await client.send('DELE big.bin');
      assert.ok(dele.code === 250 || dele.code === 550, dele.text);
      const next = randomBytes(2 * MiB);
      const up = await rawUpload(client, 'STOR next.bin', next, 30_000);
      assert.equal(up.final?.code, 226, up.final?.text);
      assert.ok((await readFile(path.join(base, 'next.bin'))).equals(next));
      const back = await rawDownload(client, 'RETR next.bin', 10_000);
      assert.ok(back.data.equals(next), 'the upload after freeing space came back different');
      assert.equal((await client.send('DELE next.bin')).code, 250);
      assert.equal((await client.send('NOOP')).code, 200);
    } finally {
      client.close();
    }
  });

  it('storage.uploadMode atomic: a full disk gets 452 and leaves neither the file nor its temporary file', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const atomic = await startTestServer({ config: { storage: { root: base, uploadMode: 'atomic' } } });
    const client = await RawClient.connect(atomic.port);
    try {
      await client.login(atomic.user, atomic.password);
      assert.equal((await client.send('TYPE I')).code, 200);
      const result = await rawUpload(client, 'STOR atomic-big.bin', randomBytes(6 * MiB), 30_000);
      assert.equal(result.final?.code, 452, result.final?.text);
      assert.equal((await client.send('SIZE atomic-big.bin')).code, 550, 'no partial file under the name');
      const leftovers = (await readdir(base)).filter((name) => name.startsWith('.kftpd-upload-'));
      assert.deepEqual(leftovers, [], 'the temporary file is removed, so the space is free again');
      const next = randomBytes(2 * MiB);
      const up = await rawUpload(client, 'STOR atomic-next.bin', next, 30_000);
      assert.equal(up.final?.code, 226, up.final?.text);
      assert.ok((await readFile(path.join(base, 'atomic-next.bin'))).equals(next));
      assert.equal((await client.send('DELE atomic-next.bin')).code, 250);
    } finally {
      client.close();
      await atomic.close();
    }
  });

  it('APPE that fills the disk gets 452 too, and REST+STOR can complete the file once space is freed', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const client = await connect();
    try {
      const filler = randomBytes(3 * MiB);
      assert.equal((await rawUpload(client, 'STOR filler.bin', filler, 30_000)).final?.code, 226);
      const source = randomBytes(2 * MiB);
      const first = await rawUpload(client, 'APPE grow.bin', source, 30_000);
      assert.equal(first.final?.code, 452, first.final?.text);
      assert.equal((await client.send('DELE filler.bin')).code, 250);
      // Resume from what was kept (0 if the adapter dropped the partial).
      const size = await client.send('SIZE grow.bin');
      const kept = size.code === 213 ? Number(size.text.slice(4)) : 0;
      assert.ok(kept < source.length);
      assert.equal((await client.send(`REST ${kept}`)).code, 350);
      const rest = await rawUpload(client, 'STOR grow.bin', source.subarray(kept), 30_000);
      assert.equal(rest.final?.code, 226, rest.final?.text);
      assert.ok((await readFile(path.join(base, 'grow.bin'))).equals(source), 'the resumed file is not the source');
      assert.equal((await client.send('DELE grow.bin')).code, 250);
    } finally {
      client.close();
    }
  });

  it('curl -T: a too-large upload fails visibly (exit code, 452), the next one after freeing space works', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const missing = CURL_MISSING();
    if (missing) return ctx.skip(missing);
    const work = await mkdtemp(path.join(os.tmpdir(), 'kftpd-diskfull-curl-'));
    try {
      const tooBig = path.join(work, 'too-big.bin');
      await writeFile(tooBig, randomBytes(6 * MiB));
      const url = `ftp://${t.host}:${t.port}/curl-big.bin`;
      const auth = `${t.user}:${t.password}`;
      const failed = await run('curl', ['-sS', '--max-time', '30', '-u', auth, '-T', tooBig, url]);
      assert.notEqual(failed.code, 0, `curl reported success:\n${describeRun(failed)}`);
      // curl: (25) Failed FTP upload: 452 / (55) Send failure... : what matters is the non-zero exit.
      const del = await run('curl', ['-sS', '--max-time', '30', '-u', auth, `ftp://${t.host}:${t.port}/`, '-Q', 'DELE curl-big.bin']);
      assert.equal(del.code, 0, describeRun(del));
      const fits = path.join(work, 'fits.bin');
      const payload = randomBytes(MiB + 123);
      await writeFile(fits, payload);
      const ok = await run('curl', ['-sS', '--max-time', '30', '-u', auth, '-T', fits, `ftp://${t.host}:${t.port}/curl-fits.bin`]);
      assert.equal(ok.code, 0, describeRun(ok));
      assert.ok((await readFile(path.join(base, 'curl-fits.bin'))).equals(payload));
      await rm(path.join(base, 'curl-fits.bin'));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
