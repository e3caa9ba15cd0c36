/**
 * @module test/integration/passive-sharing
 * passive.shareByClientAddress: one passive port waits for several clients at once (from
 * different addresses) and hands each connection to the session of the address it comes
 * from, so a two-port range serves three concurrent clients; without sharing the third gets 425.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';
import { seedFile } from '../helpers/storage.js';

const port = (text: string) => Number(/\|\|\|(\d+)\|/.exec(text)?.[1]);

describe('passive port sharing by client address', () => {
  for (const share of [true, false]) {
    it(share ? 'serves three clients through a two-port range at the same time' : 'without sharing, a two-port range answers 425 to the third client', async () => {
      // Below the ephemeral range (32768+), so no outgoing connection of another test holds these ports.
      const base = 26000 + Math.floor(Math.random() * 1500) * 2;
      const t = await startTestServer({ config: { passive: { portMin: base, portMax: base + 1, shareByClientAddress: share }, limits: { maxSessionsPerAddress: 10 } } });
      try {
        await seedFile(t.storage, '/a.txt', 'for client A');
        await seedFile(t.storage, '/b.txt', 'for client B');
        // The server listens on 127.0.0.1; clients come from two loopback addresses.
        const a = await RawClient.connect(t.port, '127.0.0.1', '127.0.0.1');
        const b = await RawClient.connect(t.port, '127.0.0.1', '127.0.0.2');
        const c = await RawClient.connect(t.port, '127.0.0.1', '127.0.0.3');
        for (const client of [a, b, c]) await client.login(t.user, t.password);
        const epsvA = await a.send('EPSV');
        const epsvC = await c.send('EPSV');
        const epsvB = await b.send('EPSV');
        assert.equal(epsvA.code, 229);
        assert.equal(epsvC.code, 229);
        if (!share) {
          assert.equal(epsvB.code, 425, epsvB.text);
          for (const client of [a, b, c]) client.close();
          return;
        }
        assert.equal(epsvB.code, 229);
        // A and B wait on the same port (C too): one port, several clients.
        assert.equal(port(epsvA.text), port(epsvB.text));
        c.close();
        // B connects first: it must get B's file, not A's.
        const { connect } = await import('node:net');
        const open = (localAddress: string) =>
          new Promise<import('node:net').Socket>((resolve, reject) => {
            const s = connect({ port: sharedPort, host: '127.0.0.1', localAddress });
            s.once('connect', () => resolve(s));
            s.once('error', reject);
          });
        const sharedPort = port(epsvA.text);
        const dataB = await open('127.0.0.2');
        const dataA = await open('127.0.0.1');
        assert.equal((await b.send('RETR b.txt')).code, 150);
        assert.equal((await a.send('RETR a.txt')).code, 150);
        assert.equal((await readAll(dataB)).toString(), 'for client B');
        assert.equal((await readAll(dataA)).toString(), 'for client A');
        assert.equal((await b.read()).code, 226);
        assert.equal((await a.read()).code, 226);
        a.close();
        b.close();
      } finally {
        await t.close();
      }
    });
  }
});
