/**
 * @module test/integration/passive-routing
 * What a replica announces in PASV/EPSV: only ports of its own slice of the passive range,
 * the configured (or per-client-network) address, and ports shifted by portOffset for
 * balancers that translate ports. Transfers still work through the announced slice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';
import { seedFile } from '../helpers/storage.js';

function pasvTarget(text: string): { host: string; port: number } {
  const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(text);
  assert.ok(m, text);
  return { host: m.slice(1, 5).join('.'), port: Number(m[5]) * 256 + Number(m[6]) };
}

describe('passive slices and advertised address', () => {
  it('hands out only its own slice (replica 1 of 3) and transfers through it', async () => {
    // Pick a range unlikely to be busy; 12 ports over 3 replicas: replica 1 owns base+4..base+7.
    // Below the ephemeral range (32768+), so no outgoing connection of another test holds these ports.
    const base = 20000 + Math.floor(Math.random() * 200) * 12;
    const t = await startTestServer({ config: { passive: { portMin: base, portMax: base + 11, replicas: 3, replicaIndex: 1 } } });
    try {
      assert.deepEqual({ min: t.server.passiveSlice.min, max: t.server.passiveSlice.max }, { min: base + 4, max: base + 7 });
      await seedFile(t.storage, '/f.txt', 'slice');
      const client = await RawClient.connect(t.port);
      await client.login(t.user, t.password);
      const seen = new Set<number>();
      for (let i = 0; i < 6; i++) {
        const data = await client.openPassiveData();
        seen.add(data.remotePort ?? 0);
        assert.equal((await client.send('RETR f.txt')).code, 150);
        assert.equal((await readAll(data)).toString(), 'slice');
        assert.equal((await client.read()).code, 226);
      }
      for (const port of seen) assert.ok(port >= base + 4 && port <= base + 7, `port ${port} outside the slice`);
      client.close();
    } finally {
      await t.close();
    }
  });

  it('announces the per-client-network override and shifts ports by portOffset', async () => {
    const base = 23000 + Math.floor(Math.random() * 500) * 4;
    const t = await startTestServer({
      config: { passive: { address: '192.0.2.10', overrides: ['127.0.0.0/8=198.51.100.7'], portOffset: 1000, portMin: base, portMax: base + 3 } },
    });
    try {
      const client = await RawClient.connect(t.port);
      await client.login(t.user, t.password);
      const pasv = await client.send('PASV');
      assert.equal(pasv.code, 227);
      const target = pasvTarget(pasv.text);
      assert.equal(target.host, '198.51.100.7');
      // Announced = listening + 1000; the listening port is one of the range's.
      assert.ok(target.port - 1000 >= base && target.port - 1000 <= base + 3, pasv.text);
      const epsv = await client.send('EPSV');
      const port = Number(/\|\|\|(\d+)\|/.exec(epsv.text)?.[1]);
      assert.ok(port - 1000 >= base && port - 1000 <= base + 3, epsv.text);
      client.close();
    } finally {
      await t.close();
    }
  });

  it('refuses to start when the slice is too small or the index is out of range', async () => {
    await assert.rejects(startTestServer({ config: { passive: { portMin: 50000, portMax: 50002, replicas: 3 } } }), /passive/);
    await assert.rejects(startTestServer({ config: { passive: { portMin: 50000, portMax: 50099, replicas: 2, replicaIndex: 2 } } }), /replicaIndex/);
  });
});
