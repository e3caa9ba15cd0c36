/**
 * @module test/integration/resource-limits
 * The per-session and per-user resource limits of issue 7 over real sockets: sessions per
 * user, one pending passive reservation per session, the command rate (paced, then 421 for a
 * flood), path length and depth, listing size, and a data connection that never completes
 * its TLS handshake (slow-loris on the data channel).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { controlClosed, expectCode, expectNext, rawDownload } from '../helpers/raw-transfer.js';
import { withTestServer } from '../helpers/server.js';
import { makeTempDir, removeDir, waitClosed, waitFor, withTimeout } from '../helpers/integration.js';
import { createTestPki } from '../helpers/pki.js';
import { ALICE, FtpsClient, startFtpsServer } from '../helpers/ftps-support.js';
import { makeDirectories, seedFile } from '../helpers/storage.js';

describe('resource limits', () => {
  it('maxSessionsPerUser: the login beyond it gets 530, the connection stays, QUIT and REIN free a slot', async () => {
    await withTestServer({ config: { limits: { maxSessionsPerUser: 2 } } }, async (t, connect) => {
      const a = await connect();
      await a.login(t.user, t.password);
      const b = await connect();
      await b.login(t.user, t.password);
      const c = await connect();
      await c.read();
      await expectCode(c, `USER ${t.user}`, 331);
      const refused = await expectCode(c, `PASS ${t.password}`, 530);
      assert.match(refused.text, /Too many sessions/);
      assert.ok(t.logs.some((r) => r.event === 'login' && r.result === 'refused' && r.reason === 'max-sessions-per-user'));
      // Not a failed password: the same connection may try again once a slot frees.
      await expectCode(a, 'REIN', 220);
      await expectCode(c, `USER ${t.user}`, 331);
      await expectCode(c, `PASS ${t.password}`, 230);
      await expectCode(b, 'QUIT', 221);
      await controlClosed(b);
      const d = await connect();
      await d.login(t.user, t.password);
    });
  });

  it('a new PASV/EPSV releases the previous unused reservation: one pending port per session', async () => {
    await withTestServer({}, async (t, connect) => {
      const c = await connect();
      await c.login(t.user, t.password);
      for (let i = 0; i < 30; i++) await expectCode(c, i % 2 === 0 ? 'PASV' : 'EPSV', i % 2 === 0 ? 227 : 229);
      assert.equal(t.server.passivePortsInUse, 1);
      await expectCode(c, 'QUIT', 221);
      await waitFor(() => t.server.passivePortsInUse === 0, 3000, 'reservation released on close');
    });
  });

  it('commandsPerSecond: commands beyond the burst are delayed, none dropped', async () => {
    await withTestServer({ config: { limits: { commandsPerSecond: 20, commandBurst: 5 } } }, async (t, connect) => {
      const c = await connect();
      await c.login(t.user, t.password);
      // Wait for the bucket to refill after the login commands.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      c.write('NOOP\r\n'.repeat(25));
      for (let i = 0; i < 25; i++) await expectNext(c, 200, 5000);
      const elapsed = Date.now() - started;
      // 20 commands beyond the burst at 20/s: about a second.
      assert.ok(elapsed >= 800, `25 commands took only ${elapsed} ms`);
      assert.ok(t.logs.some((r) => r.event === 'command.throttled'));
    });
  });

  it('a command flood beyond the rate fills the queue and gets 421', async () => {
    await withTestServer({ config: { limits: { commandsPerSecond: 5, commandBurst: 1 } } }, async (t, connect) => {
      const c = await connect();
      await c.login(t.user, t.password);
      // Sent in several writes: paced at 5/s, the 256-line queue overflows.
      for (let i = 0; i < 6; i++) {
        c.write('NOOP\r\n'.repeat(60));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await controlClosed(c, 10_000);
      assert.ok(t.logs.some((r) => r.event === 'command.queue-overflow'));
    });
  });

  it('maxPathBytes and maxPathDepth: 553 and a log line, nothing reaches storage', async () => {
    await withTestServer({ config: { limits: { maxPathBytes: 64, maxPathDepth: 3 } } }, async (t, connect) => {
      const c = await connect();
      await c.login(t.user, t.password);
      await expectCode(c, 'MKD a', 257);
      await expectCode(c, 'MKD a/b', 257);
      await expectCode(c, 'MKD a/b/c', 257);
      await expectCode(c, 'MKD a/b/c/d', 553);
      await expectCode(c, `MKD ${'x'.repeat(80)}`, 553);
      await expectCode(c, 'CWD a/b/c', 250);
      await expectCode(c, 'STOR deeper.txt', 553);
      await expectCode(c, 'CWD ..', 250);
      assert.ok(t.logs.some((r) => r.event === 'path.refused' && r.reason === 'too-deep'));
      assert.ok(t.logs.some((r) => r.event === 'path.refused' && r.reason === 'too-long'));
    });
  });

  it('maxListEntries: a bigger listing ends with 451; one within the limit is complete', async () => {
    await withTestServer({ config: { limits: { maxListEntries: 10 } } }, async (t, connect) => {
      await makeDirectories(t.storage, '/ten');
      await makeDirectories(t.storage, '/eleven');
      for (let i = 0; i < 10; i++) await seedFile(t.storage, `/ten/f${i}`, 'x');
      for (let i = 0; i < 11; i++) await seedFile(t.storage, `/eleven/f${i}`, 'x');
      const c = await connect();
      await c.login(t.user, t.password);
      const ok = await rawDownload(c, 'NLST ten');
      assert.equal(ok.final?.code, 226, ok.final?.text);
      assert.equal(ok.data.toString().trim().split('\r\n').length, 10);
      const cut = await rawDownload(c, 'LIST eleven');
      assert.equal(cut.first.code, 150);
      assert.equal(cut.final?.code, 451, cut.final?.text);
      assert.doesNotMatch(cut.final?.text ?? '', /maxListEntries|entries/);
      assert.ok(t.logs.some((r) => r.event === 'storage.failed' && JSON.stringify(r.err).includes('limits.maxListEntries')));
      await expectCode(c, 'NOOP', 200);
    });
  });
});

describe('data-connection slow-loris', () => {
  it('a data connection that never starts its TLS handshake is cut after tls.handshakeTimeoutMs (522)', async () => {
    const dir = await makeTempDir('data-loris');
    const pki = await createTestPki(path.join(dir, 'pki'));
    const t = await startFtpsServer(pki, { config: { tls: { handshakeTimeoutMs: 400 } } });
    const client = await FtpsClient.connect(t.port);
    try {
      await seedFile(t.storage, '/f.txt', 'hello');
      await client.secureLogin(ALICE.name, ALICE.password, { ca: pki.caPem });
      const reply = await client.send('EPSV');
      const port = Number(/\(\|\|\|(\d+)\|\)/.exec(reply.text)?.[1]);
      const data = net.connect({ port, host: '127.0.0.1' });
      data.on('error', () => undefined);
      await withTimeout(new Promise((resolve) => data.once('connect', resolve)), 5000, 'data connect');
      const started = Date.now();
      await client.expect('RETR f.txt', 150);
      // Connected, but not a byte of ClientHello: the server gives up on its own.
      await client.expectNext(522, 5000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 350 && elapsed < 3000, `cut after ${elapsed} ms`);
      await waitClosed(data, 3000);
      await client.expect('NOOP', 200);
      assert.ok(t.logs.some((r) => r.event === 'tls.data-handshake-failed'));
    } finally {
      client.close();
      await t.close();
      await removeDir(dir);
    }
  });
});
