/**
 * @module test/integration/concurrency
 * Many clients at once against one real server: parallel uploads, downloads and listings
 * with sha256 checks, then every passive port and session released; and a configured
 * passive port range that runs out answers 425 and recovers.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Client } from 'basic-ftp';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';
import { MiB, randomBuffer, sha256, waitFor } from '../helpers/integration.js';
import { assertTransferOk, expectCode, rawDownload } from '../helpers/raw-transfer.js';
import { readAll } from '../helpers/storage.js';

/** Two consecutive free TCP ports on 127.0.0.1 (checked by binding them), or null. */
async function twoFreePorts(): Promise<number | null> {
  for (let attempt = 0; attempt < 20; attempt++) {
    // Below the ephemeral range (32768+), where outgoing connections of other tests take ports.
    const base = 10_000 + Math.floor(Math.random() * 9_000);
    const servers: net.Server[] = [];
    let ok = true;
    for (const port of [base, base + 1]) {
      const server = net.createServer();
      ok = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(true));
      });
      if (!ok) break;
      servers.push(server);
    }
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    if (ok) return base;
  }
  return null;
}

describe('concurrency', () => {
  it('serves 16 clients transferring and listing in parallel, then releases every port and session', async () => {
    const t = await startTestServer();
    const clients: Client[] = [];
    try {
      const results = await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const client = new Client(20_000);
          clients.push(client);
          await client.access({ host: t.host, port: t.port, user: t.user, password: t.password });
          const body = randomBuffer(2 * MiB + i);
          await client.ensureDir(`/c${i}`);
          await client.uploadFrom(Readable.from([body]), 'data.bin');
          const chunks: Buffer[] = [];
          await client.downloadTo(
            new Writable({
              write(chunk: Buffer, _encoding, callback) {
                chunks.push(chunk);
                callback();
              },
            }),
            'data.bin',
          );
          const listing = await client.list('/');
          client.close();
          return { i, expected: sha256(body), got: sha256(Buffer.concat(chunks)), dirs: listing.length };
        }),
      );
      for (const r of results) {
        assert.equal(r.got, r.expected, `client ${r.i} download`);
        assert.equal(sha256(await readAll(t.storage, `/c${r.i}/data.bin`)), r.expected, `client ${r.i} upload`);
        assert.ok(r.dirs >= 1);
      }
      await waitFor(() => t.server.sessionCount === 0, 5000, 'all sessions closed');
      await waitFor(() => t.server.passivePortsInUse === 0, 5000, 'all passive ports released');
    } finally {
      for (const c of clients) c.close();
      await t.close();
    }
  });

  it('answers 425 when the passive port range is exhausted and recovers when a port frees', async (ctx) => {
    const base = await twoFreePorts();
    if (base === null) {
      ctx.skip('no two consecutive free ports found');
      return;
    }
    const t = await startTestServer({ config: { passive: { portMin: base, portMax: base + 1 } } });
    const raw: RawClient[] = [];
    try {
      const sessions = await Promise.all(
        [0, 1, 2].map(async () => {
          const c = await RawClient.connect(t.port, t.host);
          raw.push(c);
          await c.login(t.user, t.password);
          return c;
        }),
      );
      const [a, b, c] = sessions as [RawClient, RawClient, RawClient];
      const pa = await expectCode(a, 'EPSV', 229);
      const pb = await expectCode(b, 'PASV', 227);
      const portA = Number(/\|\|\|(\d+)\|/.exec(pa.text)?.[1]);
      const m = /(\d+),(\d+)\)/.exec(pb.text);
      const portB = Number(m?.[1]) * 256 + Number(m?.[2]);
      assert.deepEqual([portA, portB].sort(), [base, base + 1]);
      const exhausted = await c.send('EPSV');
      assert.equal(exhausted.code, 425, exhausted.text);
      // Session a uses its port for a transfer; afterwards the port is free again.
      await a.send('ABOR');
      await waitFor(() => t.server.passivePortsInUse === 1, 3000, 'port released by ABOR');
      const list = await rawDownload(c, 'NLST');
      assertTransferOk(list, 'NLST on the freed port');
      assert.ok(t.logs.some((r) => r.event === 'passive.exhausted'));
    } finally {
      for (const c of raw) c.close();
      await t.close();
    }
  });
});
