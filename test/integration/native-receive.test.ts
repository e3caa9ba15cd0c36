/**
 * @module test/integration/native-receive.test
 * The native upload receiver (data/native-receive over native/receive-file.c) on real TCP
 * sockets and real files: every byte lands where it is aimed (offset, O_APPEND); the client's
 * reset, an abort and a storage failure each end the receive with their own error after what
 * arrived is written; the cases it must leave to the stream path (TLS, a 'data' listener,
 * bytes already buffered, no thread left) are returned untouched, and the stream path then
 * still gets every byte; no fd is left behind. Skipped, with the reason, when the module was
 * not built (no C compiler); CI builds it with KFTPD_NATIVE=required.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { loadNativeReceive, NativeReceiver, type ReceivedBytes } from '../../src/data/native-receive.js';
import { MiB, waitFor } from '../helpers/integration.js';
import { createTestPki } from '../helpers/pki.js';

const binding = loadNativeReceive();
const skip = binding ? false : 'the native module is not built (scripts/build-native.mjs: no C compiler or Node headers)';

/** A connected pair of real TCP sockets on loopback: the server side paused, as a passive lease holds it. */
async function socketPair(): Promise<{ server: net.Socket; client: net.Socket; close: () => void }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect({ port, host: '127.0.0.1' });
  client.on('error', () => undefined);
  const server = await accepted;
  server.pause();
  server.on('error', () => undefined);
  listener.close();
  return { server, client, close: () => (server.destroy(), client.destroy()) };
}

function signal(): AbortSignal {
  return new AbortController().signal;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('native upload receiver source', { skip }, () => {
  it('compiles with no warning under -Wall -Wextra -Werror (the install build does not fail on warnings)', () => {
    const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const headers = ['/usr/include/node', path.resolve(path.dirname(process.execPath), '..', 'include', 'node')].find((dir) => existsSync(path.join(dir, 'node_api.h')));
    assert.ok(headers, 'the module was built, so the headers are there');
    execFileSync(process.env.CC ?? 'cc', ['-std=gnu11', '-fsyntax-only', '-Wall', '-Wextra', '-Werror', '-pthread', `-I${headers}`, path.join(repo, 'native', 'receive-file.c')], { stdio: 'pipe' });
  });
});

describe('native upload receiver', { skip }, () => {
  let dir: string;
  const receiver = (threads = 4) => new NativeReceiver(binding!, threads);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-native-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('receives a 24 MiB upload into the file with every byte in place and the count kept', async () => {
    const fdsBefore = openFds();
    const { server, client, close } = await socketPair();
    const file = path.join(dir, 'big.bin');
    const fd = openSync(file, 'w');
    const payload = randomBytes(24 * MiB);
    const moved: ReceivedBytes = { bytes: 0 };
    const controller = new AbortController();
    const received = receiver().hold(server)?.receive({ fd, position: 0 }, controller.signal, moved);
    assert.ok(received, 'a plain socket with nothing buffered is received natively');
    client.end(payload);
    await received;
    closeSync(fd);
    close();
    assert.equal(moved.bytes, payload.length);
    assert.ok(readFileSync(file).equals(payload), 'the file holds exactly the bytes sent');
    await waitFor(() => openFds() <= fdsBefore, 2000, 'the receiver\'s fds closed');
  });

  it('writes from the given offset, and at the end of an O_APPEND file', async () => {
    const resumed = path.join(dir, 'resumed.bin');
    writeFileSync(resumed, 'abcdefgh');
    const pair = await socketPair();
    const fd = openSync(resumed, 'r+');
    const atOffset = receiver().hold(pair.server)?.receive({ fd, position: 3 }, new AbortController().signal, { bytes: 0 });
    pair.client.end('XYZ');
    await atOffset;
    closeSync(fd);
    pair.close();
    assert.equal(readFileSync(resumed, 'utf8'), 'abcXYZgh');

    const appended = path.join(dir, 'appended.bin');
    writeFileSync(appended, 'head-');
    const second = await socketPair();
    const appendFd = openSync(appended, 'a');
    const atEnd = receiver().hold(second.server)?.receive({ fd: appendFd, position: null }, new AbortController().signal, { bytes: 0 });
    second.client.end('tail');
    await atEnd;
    closeSync(appendFd);
    second.close();
    assert.equal(readFileSync(appended, 'utf8'), 'head-tail');
  });

  it('fails with ECONNRESET when the client resets, after writing what arrived', async () => {
    const { server, client, close } = await socketPair();
    const file = path.join(dir, 'reset.bin');
    const fd = openSync(file, 'w');
    const moved: ReceivedBytes = { bytes: 0 };
    const received = receiver().hold(server)?.receive({ fd, position: 0 }, new AbortController().signal, moved);
    assert.ok(received);
    const first = randomBytes(MiB);
    client.write(first);
    await waitFor(() => moved.bytes === first.length, 5000, 'first MiB written');
    client.resetAndDestroy();
    await assert.rejects(received, (error: NodeJS.ErrnoException) => error.code === 'ECONNRESET' && error.syscall === 'read');
    assert.ok(server.destroyed, 'a failed data connection errors as on the stream path (426)');
    closeSync(fd);
    close();
    assert.ok(readFileSync(file).equals(first), 'the bytes before the reset are kept (REST/APPE continue from them)');
  });

  it('stops on abort with an AbortError, keeping what arrived, while the client still holds the connection', async () => {
    const { server, client, close } = await socketPair();
    const file = path.join(dir, 'aborted.bin');
    const fd = openSync(file, 'w');
    const moved: ReceivedBytes = { bytes: 0 };
    const controller = new AbortController();
    const received = receiver().hold(server)?.receive({ fd, position: 0 }, controller.signal, moved);
    assert.ok(received);
    client.write('partial');
    await waitFor(() => moved.bytes === 7, 5000, 'partial bytes written');
    controller.abort(new Error('ABOR'));
    await assert.rejects(received, (error: Error) => error.name === 'AbortError');
    closeSync(fd);
    close();
    assert.equal(readFileSync(file, 'utf8'), 'partial');
  });

  it('reports the storage errno (ENOSPC from /dev/full)', async () => {
    const { server, client, close } = await socketPair();
    const fd = openSync('/dev/full', 'w');
    const received = receiver().hold(server)?.receive({ fd, position: null }, new AbortController().signal, { bytes: 0 });
    assert.ok(received);
    client.end(randomBytes(64 * 1024));
    await assert.rejects(received, (error: NodeJS.ErrnoException) => error.code === 'ENOSPC' && error.syscall === 'write');
    assert.ok(!server.destroyed, 'a storage failure leaves the data connection to the transfer (452)');
    closeSync(fd);
    close();
  });

  it('leaves to the stream path a socket with a data listener, bytes already buffered, or no thread left; the stream then gets every byte', async () => {
    const signal = new AbortController().signal;
    const tapped = await socketPair();
    tapped.server.on('data', () => undefined);
    assert.equal(receiver().hold(tapped.server), null);
    tapped.close();

    const early = await socketPair();
    early.client.write('sent before the command');
    await waitFor(() => early.server.readableLength > 0, 5000, 'early bytes buffered');
    assert.equal(receiver().hold(early.server), null);
    const chunks: Buffer[] = [];
    early.server.on('data', (chunk: Buffer) => chunks.push(chunk));
    // What session/pump does with a socket the native receiver left alone.
    early.server.resume();
    const ended = new Promise((resolve) => early.server.once('end', resolve));
    early.client.end(' and after it');
    await ended;
    assert.equal(Buffer.concat(chunks).toString(), 'sent before the command and after it');
    early.close();

    const busy = receiver(1);
    const first = await socketPair();
    const fd = openSync(path.join(dir, 'busy.bin'), 'w');
    const running = busy.hold(first.server)?.receive({ fd, position: 0 }, signal, { bytes: 0 });
    assert.ok(running);
    const second = await socketPair();
    assert.equal(busy.hold(second.server), null, 'beyond storage.nativeUploads: the stream path');
    first.client.end();
    await running;
    closeSync(fd);
    first.close();
    second.close();
  });

  it('a held connection released to the stream path delivers every byte, and frees its slot', async () => {
    const single = receiver(1);
    const { server, client, close } = await socketPair();
    // Reading started at accept (net.Socket asks libuv for a read at once): the hold stops it
    // while the stream still waits for that read, and release() must restart it.
    const held = single.hold(server);
    assert.ok(held);
    assert.equal(single.running, 1);
    client.write('sent while held');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(server.readableLength, 0, 'nothing is read while held');
    held.release();
    held.release();
    assert.equal(single.running, 0);
    assert.equal(held.receive({ fd: -1, position: 0 }, signal(), { bytes: 0 }), null, 'no receive after release');
    const chunks: Buffer[] = [];
    server.on('data', (chunk: Buffer) => chunks.push(chunk));
    server.resume();
    const ended = new Promise((resolve) => server.once('end', resolve));
    client.end(', then the rest');
    await ended;
    assert.equal(Buffer.concat(chunks).toString(), 'sent while held, then the rest');
    close();
  });

  it('leaves a TLS socket to the stream path (its bytes are decrypted in Node)', async () => {
    const pki = await createTestPki(path.join(dir, 'pki'));
    const tlsServer = tls.createServer({ key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const { port } = tlsServer.address() as net.AddressInfo;
    const accepted = new Promise<tls.TLSSocket>((resolve) => tlsServer.once('secureConnection', resolve));
    const client = tls.connect({ port, host: '127.0.0.1', ca: pki.caPem, servername: 'localhost' });
    client.on('error', () => undefined);
    const secured = await accepted;
    assert.equal(receiver().hold(secured), null);
    client.destroy();
    secured.destroy();
    tlsServer.close();
  });
});
