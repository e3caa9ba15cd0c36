/**
 * @module test/integration/shutdown
 * Graceful shutdown of the real server (FtpServer.close): idle sessions get 421 at once, a
 * running transfer may finish within the drain timeout (then 421), a transfer that outlives
 * it is cut off, and no new connection is accepted once draining started.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { MiB, randomBuffer, sha256, waitFor, withTimeout } from '../helpers/integration.js';
import { collect, controlClosed, expectCode, expectNext } from '../helpers/raw-transfer.js';
import { seedFile } from '../helpers/storage.js';

/** Closes the server with `drainTimeoutMs` and removes its temp directory. */
async function shutdown(t: TestServer, drainTimeoutMs: number): Promise<void> {
  await t.server.close({ drainTimeoutMs });
  await rm(path.dirname(t.root), { recursive: true, force: true });
}

function refused(port: number, host: string): Promise<boolean> {
  return withTimeout(
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        // Accepted at TCP level: it must then be told 421 and closed, never greeted with 220.
        socket.once('data', (chunk: Buffer) => {
          socket.destroy();
          resolve(chunk.toString().startsWith('421'));
        });
      });
      socket.once('error', () => resolve(true));
    }),
    5000,
    'connect during shutdown',
  );
}

describe('graceful shutdown', () => {
  it('closes idle sessions with 421 at once and lets a running transfer finish', async () => {
    const t = await startTestServer();
    const clients: RawClient[] = [];
    let closing: Promise<void> | null = null;
    try {
      const payload = randomBuffer(24 * MiB);
      await seedFile(t.storage, '/drain.bin', payload);
      const idle = await RawClient.connect(t.port, t.host);
      clients.push(idle);
      await idle.login(t.user, t.password);
      const busy = await RawClient.connect(t.port, t.host);
      clients.push(busy);
      await busy.login(t.user, t.password);
      await expectCode(busy, 'TYPE I', 200);
      const data = await busy.openPassiveData();
      data.pause();
      await expectCode(busy, 'RETR drain.bin', 150);

      closing = t.server.close({ drainTimeoutMs: 10_000 });
      const idleReply = await idle.read(3000);
      assert.equal(idleReply.code, 421, idleReply.text);
      await controlClosed(idle);
      assert.ok(await refused(t.port, t.host), 'a new connection during drain is refused');
      assert.ok(!busy.closed, 'the transferring session is kept');

      const bytes = collect(data, 20_000);
      data.resume();
      await expectNext(busy, 226, 20_000);
      assert.equal(sha256(await bytes), sha256(payload));
      const after = await busy.read(3000);
      assert.equal(after.code, 421, after.text);
      await controlClosed(busy);
      await withTimeout(closing, 5000, 'server.close');
      assert.equal(t.server.sessionCount, 0);
    } finally {
      for (const c of clients) c.close();
      await (closing ?? t.server.close({ drainTimeoutMs: 0 }));
      await rm(path.dirname(t.root), { recursive: true, force: true });
    }
  });

  it('cuts off a transfer that outlives the drain timeout', async () => {
    const t = await startTestServer();
    const clients: RawClient[] = [];
    let closing: Promise<void> | null = null;
    try {
      await seedFile(t.storage, '/stuck.bin', randomBuffer(24 * MiB));
      const busy = await RawClient.connect(t.port, t.host);
      clients.push(busy);
      await busy.login(t.user, t.password);
      await expectCode(busy, 'TYPE I', 200);
      const data = await busy.openPassiveData();
      data.pause();
      data.on('error', () => undefined);
      await expectCode(busy, 'RETR stuck.bin', 150);
      const started = Date.now();
      closing = shutdown(t, 500);
      await withTimeout(closing, 5000, 'server.close with a stuck transfer');
      assert.ok(Date.now() - started < 4000);
      await controlClosed(busy, 3000);
      await waitFor(() => t.server.sessionCount === 0, 2000, 'sessions gone');
      data.destroy();
    } finally {
      for (const c of clients) c.close();
      await (closing ?? shutdown(t, 0)).catch(() => undefined);
    }
  });
});
