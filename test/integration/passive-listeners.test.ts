/**
 * @module test/integration/passive-listeners
 * Passive listeners kept bound across PASV/EPSV commands (issue 14): consecutive transfers
 * reuse one listening socket instead of binding a port per command; a full range still
 * answers 425 and recovers; a connection to a port nobody waits on is refused without
 * scoring, one from a foreign address while a lease waits is refused and scored; idle
 * listeners close after passive.listenerIdleMs; closing the server closes every listener.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/integration.js';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { seedFile } from '../helpers/storage.js';

const epsvPort = (text: string) => Number(/\|\|\|(\d+)\|/.exec(text)?.[1]);

/** Below the ephemeral range (32768+), so no outgoing connection of another test holds these ports. */
const randomBase = (from: number) => from + Math.floor(Math.random() * 500) * 4;

/** Connects and resolves once the server has closed the connection (or it was refused). */
function connectUntilClosed(port: number, localAddress: string): Promise<{ refused: boolean; bytes: number }> {
  return new Promise((resolve) => {
    let bytes = 0;
    let refused = false;
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      refused = error.code === 'ECONNREFUSED';
    });
    socket.on('close', () => resolve({ refused, bytes }));
    socket.setTimeout(5000, () => socket.destroy());
  });
}

async function retr(t: TestServer, client: RawClient, name: string): Promise<{ port: number; body: string }> {
  const data = await client.openPassiveData();
  const port = data.remotePort ?? 0;
  assert.equal((await client.send(`RETR ${name}`)).code, 150);
  const body = (await readAll(data)).toString();
  assert.equal((await client.read()).code, 226);
  await waitFor(() => t.server.passivePortsInUse === 0, 3000, 'lease released after the transfer');
  return { port, body };
}

const foreignPeerEvents = (t: TestServer) => t.logs.filter((entry) => entry['event'] === 'passive.foreign-peer').length;

describe('passive listeners kept across commands', () => {
  it('serves consecutive transfers through one bound listener, then closes it once idle', async () => {
    const base = randomBase(24000);
    const t = await startTestServer({ config: { passive: { portMin: base, portMax: base + 3, listenerIdleMs: 300 } } });
    try {
      await seedFile(t.storage, '/f.txt', 'kept');
      const client = await RawClient.connect(t.port);
      await client.login(t.user, t.password);
      const ports = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const { port, body } = await retr(t, client, 'f.txt');
        assert.equal(body, 'kept');
        ports.add(port);
        // The listener stays bound without a lease: no bind per command.
        assert.equal(t.server.passivePortsBound, 1);
      }
      assert.equal(ports.size, 1, `one port for sequential transfers, saw ${[...ports].join(',')}`);
      // Idle past listenerIdleMs: the port goes back (closed at most two idle periods later).
      await waitFor(() => t.server.passivePortsBound === 0, 3000, 'idle listener closed');
      const [port] = ports;
      assert.equal((await connectUntilClosed(port ?? 0, '127.0.0.1')).refused, true, 'the idle port is no longer listening');
      // And the next PASV binds again.
      assert.equal((await retr(t, client, 'f.txt')).body, 'kept');
      client.close();
    } finally {
      await t.close();
    }
  });

  it('with listenerIdleMs 0 closes each port as soon as its lease ends', async () => {
    const t = await startTestServer({ config: { passive: { listenerIdleMs: 0 } } });
    try {
      await seedFile(t.storage, '/f.txt', 'once');
      const client = await RawClient.connect(t.port);
      await client.login(t.user, t.password);
      assert.equal((await retr(t, client, 'f.txt')).body, 'once');
      assert.equal(t.server.passivePortsBound, 0);
      client.close();
    } finally {
      await t.close();
    }
  });

  it('answers 425 when every bound port has a lease, and leases the freed listener again', async () => {
    const base = randomBase(28000);
    const t = await startTestServer({ config: { passive: { portMin: base, portMax: base + 1 }, limits: { maxSessionsPerAddress: 10 } } });
    try {
      await seedFile(t.storage, '/f.txt', 'two ports');
      const [a, b, c] = await Promise.all([0, 1, 2].map(() => RawClient.connect(t.port))) as [RawClient, RawClient, RawClient];
      for (const client of [a, b, c]) await client.login(t.user, t.password);
      const portA = epsvPort((await a.send('EPSV')).text);
      const portB = epsvPort((await b.send('EPSV')).text);
      assert.deepEqual([portA, portB].sort(), [base, base + 1]);
      // Both ports are bound and leased: the pool must not take its own ports for free ones.
      assert.equal((await c.send('EPSV')).code, 425);
      // a's connection ends its lease (the port may serve another session during a's transfer).
      const data = net.connect({ port: portA, host: '127.0.0.1' });
      assert.equal((await a.send('RETR f.txt')).code, 150);
      assert.equal((await readAll(data)).toString(), 'two ports');
      assert.equal((await a.read()).code, 226);
      await waitFor(() => t.server.passivePortsInUse === 1, 3000, 'lease released');
      const again = await c.send('EPSV');
      assert.equal(again.code, 229, again.text);
      assert.equal(epsvPort(again.text), portA, 'the listener a used is leased again');
      assert.equal(t.server.passivePortsBound, 2);
      for (const client of [a, b, c]) client.close();
    } finally {
      await t.close();
    }
  });

  it('refuses a connection to a port nobody waits on without scoring it, and scores a foreign peer during a lease', async (ctx) => {
    const probe = net.connect({ port: 9, host: '127.0.0.1', localAddress: '127.0.0.2' });
    const secondLoopback = await new Promise<boolean>((resolve) => {
      probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'EADDRNOTAVAIL'));
      probe.once('connect', () => resolve(true));
    });
    probe.destroy();
    if (!secondLoopback) return ctx.skip('127.0.0.2 not usable here');
    const t = await startTestServer();
    try {
      await seedFile(t.storage, '/f.txt', 'mine');
      const client = await RawClient.connect(t.port);
      await client.login(t.user, t.password);
      const { port } = await retr(t, client, 'f.txt');
      assert.equal(t.server.passivePortsBound, 1);
      // Bound but without a lease: closed at once, no data, not a foreign peer.
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        const outcome = await connectUntilClosed(port, from);
        assert.equal(outcome.bytes, 0);
      }
      assert.equal(foreignPeerEvents(t), 0);
      // The next lease reuses the same listener; a foreign peer is refused and scored, the real client served.
      const epsv = await client.send('EPSV');
      assert.equal(epsvPort(epsv.text), port);
      assert.equal((await connectUntilClosed(port, '127.0.0.2')).bytes, 0);
      assert.equal(foreignPeerEvents(t), 1);
      const data = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
      assert.equal((await client.send('RETR f.txt')).code, 150);
      assert.equal((await readAll(data)).toString(), 'mine');
      assert.equal((await client.read()).code, 226);
      client.close();
    } finally {
      await t.close();
    }
  });

  it('closes every passive listener, leased or idle, when the server closes', async () => {
    const t = await startTestServer();
    await seedFile(t.storage, '/f.txt', 'bye');
    const a = await RawClient.connect(t.port);
    const b = await RawClient.connect(t.port);
    await a.login(t.user, t.password);
    await b.login(t.user, t.password);
    const idle = (await retr(t, a, 'f.txt')).port;
    const leasedReply = await b.send('EPSV');
    const leased = epsvPort(leasedReply.text);
    const other = await a.send('EPSV');
    assert.equal(leased, idle, 'the idle listener was leased again');
    assert.notEqual(epsvPort(other.text), idle, 'a second lease binds a second port');
    await t.close();
    assert.equal(t.server.passivePortsBound, 0);
    for (const port of [idle, leased]) assert.equal((await connectUntilClosed(port, '127.0.0.1')).refused, true, `port ${port} closed`);
  });
});
