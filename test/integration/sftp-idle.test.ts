/**
 * @module test/integration/sftp-idle.test
 * Idle SSH connections and SSH keepalive, with the `ssh2` client: a logged-in connection
 * without an SFTP channel and an SFTP session without requests are closed after
 * sftp.idleTimeoutMs (each logged as session.idle-timeout), a session that keeps sending
 * requests is not, nor is a slow download that lasts many idle timeouts; the server sends
 * keepalive@openssh.com after sftp.keepAliveIntervalMs of silence, a client that answers
 * stays connected, one that stops reading is closed after sftp.keepAliveCountMax.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { randomBuffer, sha256 } from '../helpers/integration.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Connected {
  readonly client: ssh2.Client;
  readonly closed: Promise<number>;
  readonly debug: string[];
}

function connect(t: TestServer, sock?: net.Socket): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const debug: string[] = [];
    // When the server closed it (a timestamp, to measure against the idle timeout).
    const closed = new Promise<number>((done) => client.on('close', () => done(Date.now())));
    client.on('ready', () => resolve({ client, closed, debug }));
    client.on('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: t.server.sftpAddress()?.port ?? 0,
      username: t.user,
      password: t.password,
      readyTimeout: 10_000,
      debug: (line: string) => debug.push(line),
      ...(sock ? { sock } : {}),
    });
  });
}

function sftpOf(client: ssh2.Client): Promise<ssh2.SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp))));
}

function realpath(sftp: ssh2.SFTPWrapper): Promise<string> {
  return new Promise((resolve, reject) => sftp.realpath('.', (error, p) => (error ? reject(error) : resolve(p))));
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SFTP idle timeout and SSH keepalive', () => {
  it('closes a logged-in connection without a channel and an idle SFTP session after sftp.idleTimeoutMs; requests and a slow download keep a session open', async () => {
    const idleMs = 400;
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0, idleTimeoutMs: idleMs, keepAliveIntervalMs: 0 } } });
    try {
      const content = randomBuffer(1024 * 1024);
      await writeFile(path.join(t.root, 'slow.bin'), content);

      const bare = await connect(t);
      const bareAt = Date.now();
      const session = await connect(t);
      const sftp = await sftpOf(session.client);
      const reader = await connect(t);
      const readerSftp = await sftpOf(reader.client);

      // A download read slowly: 32 KiB pieces 40 ms apart, about 1.3 s, three idle timeouts.
      const hash = createHash('sha256');
      const download = new Promise<string>((resolve, reject) => {
        const stream = readerSftp.createReadStream('/slow.bin', { highWaterMark: 32 * 1024 });
        stream.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          stream.pause();
          setTimeout(() => stream.resume(), 40);
        });
        stream.on('end', () => resolve(hash.digest('hex')));
        stream.on('error', reject);
      });

      // One request every 150 ms for three idle timeouts: the session stays.
      const busyUntil = Date.now() + 3 * idleMs;
      while (Date.now() < busyUntil) {
        assert.equal(await realpath(sftp), '/');
        await sleep(150);
      }
      // Meanwhile the connection without a channel was closed, not before its idle time.
      const bareClosedAt = await within(bare.closed, 3000, 'connection without a channel closed');
      assert.ok(bareClosedAt - bareAt >= idleMs - 50, `closed after ${bareClosedAt - bareAt} ms`);
      assert.equal(await realpath(sftp), '/', 'the busy session is still served');

      // Silent now: closed about idleTimeoutMs after its last request.
      const quietFrom = Date.now();
      const sessionClosedAt = await within(session.closed, 3000, 'idle SFTP session closed');
      assert.ok(sessionClosedAt - quietFrom >= idleMs - 50, `closed ${sessionClosedAt - quietFrom} ms after its last request`);

      assert.equal(await within(download, 10_000, 'slow download'), sha256(content), 'the slow download is intact');
      reader.client.end();
      const idle = t.logs.filter((l) => l.event === 'session.idle-timeout');
      assert.deepEqual(idle.map((l) => l.channel).sort(), [false, true], JSON.stringify(idle));
    } finally {
      await t.close();
    }
  });

  it('a slow reader whose DATA replies still wait for its SSH window is not idle, however long they wait', async () => {
    const idleMs = 300;
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0, idleTimeoutMs: idleMs, keepAliveIntervalMs: 0 } } });
    try {
      // Reads of the announced limits@ read length (261120: a DATA reply fits the 256 KiB
      // packets the ssh2 client accepts), twelve of them: 3 MB, more than the 2 MiB window.
      const piece = 261_120;
      const content = randomBuffer(12 * piece);
      await writeFile(path.join(t.root, 'window.bin'), content);
      const sock = net.connect(t.server.sftpAddress()?.port ?? 0, '127.0.0.1');
      await new Promise((resolve) => sock.once('connect', resolve));
      const { client } = await connect(t, sock);
      const sftp = await sftpOf(client);
      const handle = await new Promise<Buffer>((resolve, reject) => sftp.open('/window.bin', 'r', (error, h) => (error ? reject(error) : resolve(h))));
      // The client stops reading, then asks for the whole file: the server answers every
      // READ at once (the replies stay under the channel's 2 MiB buffer), what exceeds the
      // client's window waits for a window adjust that comes only when the client reads again.
      sock.pause();
      const reads = Array.from({ length: content.length / piece }, (_, k) =>
        new Promise<Buffer>((resolve, reject) => {
          const buffer = Buffer.alloc(piece);
          sftp.read(handle, buffer, 0, piece, k * piece, (error, n) => (error ? reject(error) : resolve(buffer.subarray(0, n))));
        }),
      );
      await sleep(4 * idleMs);
      sock.resume();
      const got = await within(Promise.all(reads), 10_000, 'reads');
      assert.equal(sha256(Buffer.concat(got)), sha256(content));
      assert.equal(await realpath(sftp), '/', 'the session is still open');
      assert.ok(!t.logs.some((l) => l.event === 'session.idle-timeout'), 'not closed as idle while its replies waited');
      client.end();
    } finally {
      await t.close();
    }
  });

  it('drain: a session with a file open outlasts drainIdleMs (a transfer under way), then closes once its file is closed', async () => {
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0, keepAliveIntervalMs: 0 }, shutdown: { drainIdleMs: 300, drainTimeoutMs: 20_000 } } });
    const content = randomBuffer(256 * 1024);
    await writeFile(path.join(t.root, 'open.bin'), content);
    const { client, closed } = await connect(t);
    const sftp = await sftpOf(client);
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open('/open.bin', 'r', (error, h) => (error ? reject(error) : resolve(h))));
    const read = (offset: number, length: number) =>
      new Promise<Buffer>((resolve, reject) => {
        const buffer = Buffer.alloc(length);
        sftp.read(handle, buffer, 0, length, offset, (error, n) => (error ? reject(error) : resolve(buffer.subarray(0, n))));
      });
    const first = await read(0, 64 * 1024);
    const closing = t.server.close({ drainTimeoutMs: 20_000, readinessDelayMs: 0 });
    await sleep(1000);
    const rest = await read(first.length, content.length - first.length);
    await new Promise<void>((resolve, reject) => sftp.close(handle, (error) => (error ? reject(error) : resolve())));
    assert.equal(sha256(Buffer.concat([first, rest])), sha256(content));
    // Now idle without a file: closed within drainIdleMs, and the server finishes its drain.
    await within(closed, 3000, 'session closed after its file');
    await within(closing, 5000, 'drain finished');
    await t.close().catch(() => undefined);
  });

  it('sends SSH keepalives after sftp.keepAliveIntervalMs of silence; an answering client stays, one that stops reading is closed after keepAliveCountMax', async () => {
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0, idleTimeoutMs: 0, keepAliveIntervalMs: 200, keepAliveCountMax: 2 } } });
    try {
      const alive = await connect(t);
      await sftpOf(alive.client);
      await sleep(1000);
      const pings = alive.debug.filter((line) => line.includes('GLOBAL_REQUEST (keepalive@openssh.com)'));
      assert.ok(pings.length >= 2, `keepalives received: ${pings.length}`);

      const sock = net.connect(t.server.sftpAddress()?.port ?? 0, '127.0.0.1');
      await new Promise((resolve) => sock.once('connect', resolve));
      const dead = await connect(t, sock);
      await sftpOf(dead.client);
      // The client stops reading: it never answers a keepalive (a peer gone away).
      sock.pause();
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && !t.logs.some((l) => l.event === 'session.keepalive-timeout')) await sleep(50);
      assert.ok(t.logs.some((l) => l.event === 'session.keepalive-timeout'), 'the server gave up on the silent client');
      assert.ok(!t.logs.some((l) => l.event === 'session.idle-timeout'), 'idleTimeoutMs 0: no idle timeout');
      // The answering client is still served.
      const sftp = await sftpOf(alive.client);
      assert.equal(await realpath(sftp), '/');
      alive.client.end();
      dead.client.destroy();
    } finally {
      await t.close();
    }
  });
});
