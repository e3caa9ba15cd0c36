/**
 * @module test/integration/sftp-runtime.test
 * SFTP on the shared runtime, driven by the `ssh2` client: a PROXY header on the SSH listener
 * gives the real client address (and no header is refused when required); a ban earned over
 * SFTP refuses FTP from that address, and SSH from a banned address is closed before the SSH
 * version exchange; limits.maxSessionsPerUser counts FTP and SFTP sessions together; an SSH
 * connection counts as waiting to log in (access.maxUnauthenticated[PerAddress], with the
 * oldest-waiting eviction) until its login succeeds; a drain lets a running SFTP download finish intact and closes an idle session;
 * oversized and malformed SFTP packets are answered or closed without harming the server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { randomBuffer, sha256, waitFor } from '../helpers/integration.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { seedFile } from '../helpers/storage.js';

const PASSWORD = 'secret-password';

interface Connected {
  readonly client: ssh2.Client;
  readonly closed: Promise<void>;
}

function connect(port: number, options: { localAddress?: string; sock?: net.Socket; password?: string } = {}): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const closed = new Promise<void>((done) => client.on('close', () => done()));
    // A connection closed by the server before login (a ban, a refusal) ends with 'close' only.
    void closed.then(() => reject(new Error('closed before login')));
    client.on('ready', () => resolve({ client, closed }));
    client.on('error', reject);
    client.connect({
      host: '127.0.0.1',
      port,
      username: 'alice',
      password: options.password ?? PASSWORD,
      readyTimeout: 10_000,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.sock ? { sock: options.sock } : {}),
    });
  });
}

/** A TCP connection to the SSH port that never speaks SSH: what it received, and when it closed. */
async function rawSsh(port: number, localAddress: string): Promise<{ socket: net.Socket; received: () => Buffer; closed: Promise<void> }> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/** Resolves with `promise`, or fails after `ms` (a regression fails the test instead of hanging it). */
function within<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sftpOf(client: ssh2.Client): Promise<ssh2.SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp))));
}

function sftpPort(t: TestServer): number {
  return t.server.sftpAddress()?.port ?? 0;
}

describe('SFTP on the shared runtime', () => {
  it('PROXY v1 on the SSH listener: the header gives the client address; no header is refused', async () => {
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0 }, proxy: { sftp: 'required', trustedCidrs: ['127.0.0.1/32'] } } });
    try {
      const sock = net.connect(sftpPort(t), '127.0.0.1');
      await new Promise((resolve) => sock.once('connect', resolve));
      sock.write('PROXY TCP4 198.51.100.9 127.0.0.1 40000 22\r\n');
      const { client } = await connect(sftpPort(t), { sock });
      const sftp = await sftpOf(client);
      const names = await new Promise<string>((resolve, reject) => sftp.realpath('.', (e, p) => (e ? reject(e) : resolve(p))));
      assert.equal(names, '/');
      client.end();
      assert.ok(t.logs.some((l) => l.event === 'session.open' && l.remote === '198.51.100.9' && l.protocol === 'sftp'));
      await assert.rejects(connect(sftpPort(t)));
      assert.ok(t.logs.some((l) => l.event === 'proxy.refused' && l.listener === 'sftp'));
    } finally {
      await t.close();
    }
  });

  it('a ban earned over SFTP refuses FTP from that address; the per-user cap counts both protocols', async () => {
    const t = await startTestServer({
      config: {
        sftp: { enabled: true, port: 0 },
        limits: { maxSessionsPerUser: 1 },
        defender: { safeList: [], threshold: 2, scores: { loginFailed: 1 }, maxLoginDelayMs: 10 },
      },
    });
    try {
      for (let i = 0; i < 2; i++) await assert.rejects(connect(sftpPort(t), { localAddress: '127.0.0.3', password: 'wrong' }));
      assert.ok(t.logs.some((l) => l.event === 'defender.ban'), 'banned');
      const ftp = await RawClient.connect(t.port, '127.0.0.1', '127.0.0.3');
      const greeting = await ftp.read();
      assert.equal(greeting.code, 421);
      ftp.close();
      await assert.rejects(connect(sftpPort(t), { localAddress: '127.0.0.3' }), 'SFTP refused while banned');
      // Refused before the SSH handshake: not even the server's version line is sent.
      const banned = await rawSsh(sftpPort(t), '127.0.0.3');
      await within(banned.closed, 5000, 'banned SSH connection closed');
      assert.equal(banned.received().length, 0, 'no SSH identification sent to a banned address');

      const user = await RawClient.connect(t.port, '127.0.0.1', '127.0.0.4');
      await user.login('alice', PASSWORD);
      await assert.rejects(connect(sftpPort(t), { localAddress: '127.0.0.4' }), 'second session of alice refused');
      assert.ok(t.logs.some((l) => l.event === 'login' && l.result === 'refused' && l.reason === 'max-sessions-per-user'));
      user.close();
    } finally {
      await t.close();
    }
  });

  it('an SSH connection waits to log in like an FTP one: per-address cap, eviction of the oldest, freed by its login', async () => {
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0 }, access: { maxUnauthenticated: 2, maxUnauthenticatedPerAddress: 1 } } });
    try {
      // An SSH connection that never logs in (nor even speaks SSH): admitted, it gets the
      // server's identification line, and it holds 127.0.0.5's one pre-login place.
      const loris = await rawSsh(sftpPort(t), '127.0.0.5');
      await waitFor(() => loris.received().toString('latin1').startsWith('SSH-2.0-'), 5000, 'SSH identification from the server');
      const refused = await RawClient.connect(t.port, '127.0.0.1', '127.0.0.5');
      assert.equal((await refused.read()).code, 421, 'FTP from the same address refused: its SSH connection waits to log in');
      refused.close();
      assert.ok(t.logs.some((l) => l.event === 'session.rejected' && l.reason === 'max-unauthenticated-per-address' && l.remote === '127.0.0.5' && l.protocol === 'ftp'));
      await assert.rejects(connect(sftpPort(t), { localAddress: '127.0.0.5' }), 'a second SSH connection from that address is refused too');

      // A logged-in SSH session no longer waits: FTP from its address is admitted.
      const { client } = await connect(sftpPort(t), { localAddress: '127.0.0.6' });
      const ftp = await RawClient.connect(t.port, '127.0.0.1', '127.0.0.6');
      assert.equal((await ftp.read()).code, 220);

      // Two connections wait (the SSH loris, the FTP one): a newcomer evicts the oldest, the SSH loris.
      const newcomer = await RawClient.connect(t.port, '127.0.0.1', '127.0.0.7');
      assert.equal((await newcomer.read()).code, 220);
      await within(loris.closed, 5000, 'the waiting SSH connection evicted');
      assert.ok(t.logs.some((l) => l.event === 'session.evicted' && l.remote === '127.0.0.5'));
      newcomer.close();
      ftp.close();
      client.end();
    } finally {
      await t.close();
    }
  });

  it('an SSH connection that never sends its version line is closed after limits.loginTimeoutMs', async () => {
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0 }, limits: { loginTimeoutMs: 1000 } } });
    try {
      const started = Date.now();
      const silent = await rawSsh(sftpPort(t), '127.0.0.8');
      await within(silent.closed, 5000, 'the silent SSH connection closed by the server');
      assert.ok(Date.now() - started >= 900, 'not before the timeout');
      assert.ok(t.logs.some((l) => l.event === 'session.login-timeout' && l.remote === '127.0.0.8' && l.protocol === 'sftp'));
    } finally {
      await t.close();
    }
  });

  it('drain: a running download finishes intact, an idle session is closed, then the server stops', async () => {
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0 }, shutdown: { drainIdleMs: 300, drainTimeoutMs: 20_000 } } });
    const content = randomBuffer(8 * 1024 * 1024);
    await seedFile(t.storage, '/big.bin', content);
    const idle = await connect(sftpPort(t));
    await sftpOf(idle.client);
    const busy = await connect(sftpPort(t));
    const sftp = await sftpOf(busy.client);
    const hash = createHash('sha256');
    const download = new Promise<string>((resolve, reject) => {
      // Small chunks, read slowly: the transfer outlasts the start of the drain.
      const stream = sftp.createReadStream('/big.bin', { highWaterMark: 64 * 1024 });
      stream.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        stream.pause();
        setTimeout(() => stream.resume(), 5);
      });
      stream.on('end', () => resolve(hash.digest('hex')));
      stream.on('error', reject);
    });
    const closing = t.server.close({ drainTimeoutMs: 20_000, readinessDelayMs: 0 });
    await idle.closed;
    assert.equal(await download, sha256(content));
    busy.client.end();
    await closing;
    await t.close().catch(() => undefined);
  });

  it('an oversized SFTP packet closes the session; a malformed one gets SSH_FX_BAD_MESSAGE; the server keeps serving', async () => {
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0, maxPacketBytes: 40_000 } } });
    try {
      const { client } = await connect(sftpPort(t));
      const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) => client.subsys('sftp', (e, c) => (e ? reject(e) : resolve(c))));
      const replies: Buffer[] = [];
      channel.on('data', (d: Buffer) => replies.push(d));
      const init = Buffer.from([0, 0, 0, 5, 1, 0, 0, 0, 3]);
      // A RENAME (18) with id 7 whose body stops after the first path's length.
      const malformed = Buffer.from([0, 0, 0, 7, 18, 0, 0, 0, 7, 0, 0]);
      channel.write(Buffer.concat([init, malformed]));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const all = Buffer.concat(replies);
      assert.equal(all[4], 2, 'VERSION');
      const status = all.subarray(all.readUInt32BE(0) + 4);
      assert.equal(status[4], 101);
      assert.equal(status.readUInt32BE(5), 7);
      assert.equal(status.readUInt32BE(9), 5, 'SSH_FX_BAD_MESSAGE');
      const closed = new Promise((resolve) => channel.on('close', resolve));
      const huge = Buffer.alloc(8);
      huge.writeUInt32BE(1_000_000);
      channel.write(huge);
      await closed;
      assert.ok(t.logs.some((l) => l.event === 'sftp.protocol-error'));
      client.end();
      const again = await connect(sftpPort(t));
      await sftpOf(again.client);
      again.client.end();
    } finally {
      await t.close();
    }
  });
});
