/**
 * @module test/integration/upload-modes
 * storage.uploadMode over real sockets with basic-ftp and the local adapter:
 * - atomic: while an upload runs, neither a listing nor the disk shows the file under its name
 *   (an overwritten file keeps its old, complete content for readers); an upload cut off by
 *   the client leaves nothing behind (no file, no temporary file); a completed one appears
 *   whole; APPE and REST+STOR continue from the current file; STOU never replaces a file;
 * - resumable (the default): an upload cut off stays as a partial file that APPE completes.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client } from 'basic-ftp';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { randomBuffer, waitFor } from '../helpers/integration.js';
import { RawClient } from '../helpers/raw-client.js';
import { assertTransferOk, expectCode, rawUpload } from '../helpers/raw-transfer.js';
import { readAll, readText, seedFile } from '../helpers/storage.js';

const ATOMIC_PREFIX = '.kftpd-upload-';

async function connect(t: TestServer): Promise<Client> {
  const client = new Client(10_000);
  await client.access({ host: t.host, port: t.port, user: t.user, password: t.password });
  return client;
}

async function download(client: Client, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await client.downloadTo(
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
    name,
  );
  return Buffer.concat(chunks);
}

/** Starts an upload fed by hand; the caller writes parts and ends (or abandons) it. */
function startUpload(client: Client, name: string): { source: PassThrough; done: Promise<unknown> } {
  const source = new PassThrough();
  const done = client.uploadFrom(source, name).then(
    (response) => response,
    (error: unknown) => error,
  );
  return { source, done };
}

describe('storage.uploadMode atomic', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ config: { storage: { uploadMode: 'atomic' } } });
  });
  after(() => t.close());

  it('shows a new file only when complete: not listed, not on disk under its name, while the upload runs', async () => {
    const uploader = await connect(t);
    const observer = await connect(t);
    try {
      const first = randomBuffer(256 * 1024);
      const second = randomBuffer(256 * 1024);
      const { source, done } = startUpload(uploader, 'ledger.csv');
      source.write(first);
      // The bytes are on disk, in the hidden temporary file only.
      await waitFor(async () => (await readdir(t.root)).some((name) => name.startsWith(ATOMIC_PREFIX)), 10_000, 'the temporary file');
      assert.ok(!(await readdir(t.root)).includes('ledger.csv'), 'the file is not on disk under its name mid-upload');
      const listed = (await observer.list()).map((entry) => entry.name);
      assert.ok(!listed.includes('ledger.csv'), 'a listing does not show the upload in progress');
      assert.ok(!listed.some((name) => name.startsWith(ATOMIC_PREFIX)), 'nor its temporary file');
      source.end(second);
      const result = await done;
      assert.ok(!(result instanceof Error), String(result));
      assert.deepEqual(await readAll(t.storage, '/ledger.csv'), Buffer.concat([first, second]));
      assert.deepEqual((await readdir(t.root)).filter((name) => name.startsWith(ATOMIC_PREFIX)), [], 'no temporary file is left');
    } finally {
      uploader.close();
      observer.close();
    }
  });

  it('an upload cut off (data connection reset) or aborted (ABOR) leaves no file and no temporary file', async () => {
    const c = await RawClient.connect(t.port, t.host);
    try {
      await c.login(t.user, t.password);
      await expectCode(c, 'TYPE I', 200);
      for (const [name, cut] of [
        ['reset.bin', 'reset'],
        ['abor.bin', 'abor'],
      ] as const) {
        const data = await c.openPassiveData();
        data.on('error', () => undefined);
        assert.equal((await c.send(`STOR ${name}`)).code, 150);
        data.write(randomBuffer(128 * 1024));
        await waitFor(async () => (await readdir(t.root)).some((entry) => entry.startsWith(ATOMIC_PREFIX)), 10_000, 'the temporary file');
        if (cut === 'reset') {
          // The network fails mid-transfer: RST, not an orderly end of file.
          data.resetAndDestroy();
          assert.equal((await c.read(10_000)).code, 426);
        } else {
          c.write('ABOR\r\n');
          const codes = [(await c.read(10_000)).code, (await c.read(10_000)).code];
          assert.deepEqual(codes, [426, 226]);
          data.destroy();
        }
        await waitFor(async () => !(await readdir(t.root)).some((entry) => entry.startsWith(ATOMIC_PREFIX)), 10_000, 'the temporary file to be removed');
        assert.ok(!(await readdir(t.root)).includes(name), `${cut}: no partial file shows under the name`);
      }
    } finally {
      c.close();
    }
  });

  it('an overwrite keeps the old complete file readable until the new one replaces it', async () => {
    const old = randomBuffer(100_000);
    await seedFile(t.storage, '/rates.csv', old);
    const uploader = await connect(t);
    const reader = await connect(t);
    try {
      const fresh = randomBuffer(300_000);
      const { source, done } = startUpload(uploader, 'rates.csv');
      source.write(fresh.subarray(0, 150_000));
      await waitFor(async () => (await readdir(t.root)).some((name) => name.startsWith(ATOMIC_PREFIX)), 10_000, 'the temporary file');
      assert.deepEqual(await download(reader, 'rates.csv'), old, 'a reader mid-upload gets the old file whole');
      source.end(fresh.subarray(150_000));
      assert.ok(!((await done) instanceof Error));
      assert.deepEqual(await download(reader, 'rates.csv'), fresh);
    } finally {
      uploader.close();
      reader.close();
    }
  });

  it('APPE and REST+STOR continue from the current file', async () => {
    const client = await connect(t);
    try {
      const head = randomBuffer(50_000);
      const tail = randomBuffer(70_000);
      await seedFile(t.storage, '/append.bin', head);
      await client.appendFrom(Readable.from([tail]), 'append.bin');
      assert.deepEqual(await readAll(t.storage, '/append.bin'), Buffer.concat([head, tail]));
      const whole = randomBuffer(90_000);
      await seedFile(t.storage, '/resume.bin', whole.subarray(0, 40_000));
      const raw = await RawClient.connect(t.port, t.host);
      try {
        await raw.login(t.user, t.password);
        await expectCode(raw, 'TYPE I', 200);
        await expectCode(raw, 'REST 40000', 350);
        assertTransferOk(await rawUpload(raw, 'STOR resume.bin', whole.subarray(40_000)), 'REST+STOR');
      } finally {
        raw.close();
      }
      assert.deepEqual(await readAll(t.storage, '/resume.bin'), whole);
      assert.deepEqual((await readdir(t.root)).filter((name) => name.startsWith(ATOMIC_PREFIX)), []);
    } finally {
      client.close();
    }
  });

  it('STOU stores under a fresh name, announced in the 150 reply, and leaves existing files alone', async () => {
    await seedFile(t.storage, '/keep.txt', 'keep me');
    const c = await RawClient.connect(t.port, t.host);
    try {
      await c.login(t.user, t.password);
      await expectCode(c, 'TYPE I', 200);
      const names: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await rawUpload(c, 'STOU', Buffer.from(`unique ${i}`));
        assertTransferOk(r, 'STOU');
        const name = /FILE: (.+)$/.exec(r.first.text)?.[1];
        assert.ok(name, r.first.text);
        names.push(name);
        assert.equal(await readText(t.storage, `/${name}`), `unique ${i}`);
      }
      assert.equal(new Set(names).size, 3);
      assert.equal(await readText(t.storage, '/keep.txt'), 'keep me');
      assert.deepEqual((await readdir(t.root)).filter((name) => name.startsWith(ATOMIC_PREFIX)), []);
    } finally {
      c.close();
    }
  });
});

describe('storage.uploadMode resumable (default)', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('an upload cut off stays as a partial file that APPE completes', async () => {
    const whole = randomBuffer(400_000);
    const uploader = await connect(t);
    const { source, done } = startUpload(uploader, 'partial.bin');
    source.write(whole.subarray(0, 200_000));
    await waitFor(async () => {
      try {
        return (await readAll(t.storage, '/partial.bin')).length >= 200_000;
      } catch {
        return false;
      }
    }, 10_000, 'the partial bytes on disk');
    uploader.close();
    await done;
    const client = await connect(t);
    try {
      const size = await client.size('partial.bin');
      assert.ok(size >= 200_000 && size < whole.length, `partial size ${size}`);
      await client.appendFrom(Readable.from([whole.subarray(size)]), 'partial.bin');
      assert.deepEqual(await readAll(t.storage, '/partial.bin'), whole);
    } finally {
      client.close();
    }
  });
});
