/**
 * @module test/integration/native-uploads.test
 * Plain binary FTP uploads through the native receiver (storage.nativeUploads), over the real
 * server and raw sockets: an upload is streamed for its first MiB and the rest is handed to the
 * receiver; STOR, REST+STOR and APPE land byte for byte and the log says the receiver took
 * them; a small file never costs a thread; a reset mid-upload is 426 with the bytes that
 * arrived kept; TYPE A and storage.nativeUploads 0 take the JavaScript path with the same
 * result. ABOR, STAT
 * progress, atomic uploads and a full disk through this path are covered by edge-cases,
 * upload-modes and disk-full, which now run on it too. Skipped, with the reason, when the
 * module was not built.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadNativeReceive } from '../../src/data/native-receive.js';
import { MiB, randomBuffer, waitFor } from '../helpers/integration.js';
import { RawClient } from '../helpers/raw-client.js';
import { assertTransferOk, expectCode, rawUpload } from '../helpers/raw-transfer.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const skip = loadNativeReceive() ? false : 'the native module is not built (scripts/build-native.mjs: no C compiler or Node headers)';

function nativeReceives(t: TestServer): number {
  return t.logs.filter((record) => record.event === 'data.native-receive').length;
}

async function login(t: TestServer, clients: RawClient[]): Promise<RawClient> {
  const c = await RawClient.connect(t.port, t.host);
  clients.push(c);
  await c.login(t.user, t.password);
  await expectCode(c, 'TYPE I', 200);
  return c;
}

describe('native uploads (storage.nativeUploads)', { skip }, () => {
  let t: TestServer;
  const clients: RawClient[] = [];

  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    for (const c of clients) c.close();
    await t.close();
  });

  it('STOR, REST+STOR and APPE are received natively, byte for byte', async () => {
    const c = await login(t, clients);
    const before = nativeReceives(t);
    const payload = randomBuffer(8 * MiB + 123);
    assertTransferOk(await rawUpload(c, 'STOR whole.bin', payload), 'STOR');
    assert.ok((await readFile(path.join(t.root, 'whole.bin'))).equals(payload));

    await expectCode(c, 'REST 1000', 350);
    const tail = randomBuffer(MiB);
    assertTransferOk(await rawUpload(c, 'STOR whole.bin', tail), 'REST+STOR');
    assert.ok((await readFile(path.join(t.root, 'whole.bin'))).equals(Buffer.concat([payload.subarray(0, 1000), tail])));

    const more = randomBuffer(2 * MiB + 5);
    assertTransferOk(await rawUpload(c, 'APPE whole.bin', more), 'APPE');
    assert.ok((await readFile(path.join(t.root, 'whole.bin'))).equals(Buffer.concat([payload.subarray(0, 1000), tail, more])));
    assert.equal(nativeReceives(t) - before, 3, 'each upload went through the native receiver past its first MiB');
    assert.match((await c.send('SIZE whole.bin')).text, new RegExp(`\\b${1000 + tail.length + more.length}$`));
  });

  it('a file smaller than a MiB is streamed: no thread for a queue of small files', async () => {
    const c = await login(t, clients);
    const before = nativeReceives(t);
    for (const size of [0, 4096, MiB - 1]) {
      const payload = randomBuffer(size);
      assertTransferOk(await rawUpload(c, `STOR small-${size}.bin`, payload), `STOR ${size}`);
      assert.ok((await readFile(path.join(t.root, `small-${size}.bin`))).equals(payload));
    }
    assert.equal(nativeReceives(t), before);
  });

  it('a reset mid-upload is 426, and the bytes that arrived stay for REST/APPE', async () => {
    const c = await login(t, clients);
    const data = await c.openPassiveData();
    data.on('error', () => undefined);
    await expectCode(c, 'STOR cut.bin', 150);
    const first = randomBuffer(3 * MiB);
    data.write(first);
    await waitFor(async () => Number(/(\d+) bytes transferred/.exec((await c.send('STAT')).text)?.[1] ?? 0) === first.length, 5000, 'the first 3 MiB received');
    assert.ok(nativeReceives(t) > 0, 'past its first MiB, the upload is the native receiver\'s');
    data.resetAndDestroy();
    const reply = await c.read(5000);
    assert.equal(reply.code, 426, reply.text);
    assert.ok((await readFile(path.join(t.root, 'cut.bin'))).equals(first));
    assert.equal((await c.send('NOOP')).code, 200);
  });

  it('TYPE A uploads take the JavaScript path (line ends converted)', async () => {
    const c = await login(t, clients);
    const before = nativeReceives(t);
    await expectCode(c, 'TYPE A', 200);
    assertTransferOk(await rawUpload(c, 'STOR text.txt', Buffer.from('one\r\ntwo\r\n')), 'STOR TYPE A');
    assert.equal(await readFile(path.join(t.root, 'text.txt'), 'utf8'), 'one\ntwo\n');
    assert.equal(nativeReceives(t), before);
  });
});

describe('storage.nativeUploads 0', () => {
  let t: TestServer;
  const clients: RawClient[] = [];

  before(async () => {
    t = await startTestServer({ config: { storage: { nativeUploads: 0 } } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await t.close();
  });

  it('every upload streams through JavaScript, with the same bytes on disk', async () => {
    const c = await login(t, clients);
    const payload = randomBuffer(3 * MiB + 7);
    assertTransferOk(await rawUpload(c, 'STOR js.bin', payload), 'STOR');
    assert.ok((await readFile(path.join(t.root, 'js.bin'))).equals(payload));
    assert.equal(nativeReceives(t), 0);
    assert.equal(t.logs.filter((record) => record.event === 'data.native-receiver-missing').length, 0, 'turned off is not missing');
  });
});
