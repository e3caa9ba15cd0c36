/**
 * @module test/integration/admin-drain
 * The admin HTTP listener (/healthz, /readyz, /metrics) and the drain sequence a rolling update
 * relies on: readiness fails at once, the listener keeps accepting for readinessDelayMs, then
 * idle sessions get 421 while a running transfer finishes before its session gets 421.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';
import { seedFile } from '../helpers/storage.js';

async function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${urlPath}`);
  return { status: response.status, body: await response.text() };
}

async function login(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  await client.login('alice', 'secret-password');
  return client;
}

describe('admin listener and drain', () => {
  it('serves /healthz, /readyz with each check, and Prometheus /metrics', async () => {
    const t = await startTestServer({ config: { admin: { enabled: true, port: 0 } } });
    try {
      const admin = t.server.adminAddress();
      assert.ok(admin);
      assert.deepEqual(await get(admin.port, '/healthz'), { status: 200, body: 'ok\n' });
      const ready = await get(admin.port, '/readyz');
      assert.equal(ready.status, 200, ready.body);
      for (const check of ['listeners', 'storage', 'users', 'not-draining']) assert.match(ready.body, new RegExp(`\\[\\+\\] ${check}`));
      const client = await login(t.port);
      await client.send('NOOP');
      const metrics = await get(admin.port, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^kftpd_sessions 1$/m);
      assert.match(metrics.body, /^kftpd_logins_total\{protocol="ftp",result="ok"\} 1$/m);
      assert.match(metrics.body, /^kftpd_commands_total\{verb="NOOP"\} 1$/m);
      assert.match(metrics.body, /^kftpd_passive_ports_in_use 0$/m);
      assert.equal((await get(admin.port, '/nope')).status, 404);
      client.close();
    } finally {
      await t.close();
    }
  });

  it('fails readiness at once, keeps accepting during readinessDelayMs, then 421s idle sessions and lets a transfer finish', async () => {
    const t = await startTestServer({ config: { admin: { enabled: true, port: 0 }, shutdown: { readinessDelayMs: 1500, drainTimeoutMs: 15_000 } } });
    const admin = t.server.adminAddress();
    assert.ok(admin);
    await seedFile(t.storage, '/big.bin', Buffer.alloc(8 * 1024 * 1024, 7));
    const idle = await login(t.port);
    const busy = await login(t.port);
    await busy.send('TYPE I');
    const data = await busy.openPassiveData();
    data.pause(); // hold the transfer open: the server cannot finish while we do not read
    assert.equal((await busy.send('RETR big.bin')).code, 150);

    const closing = t.server.close({ readinessDelayMs: 1500, drainTimeoutMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ready = await get(admin.port, '/readyz');
    assert.equal(ready.status, 503, ready.body);
    assert.match(ready.body, /\[-\] not-draining/);
    // Still accepting during the readiness delay: a new client gets a normal greeting.
    const late = await RawClient.connect(t.port);
    assert.equal((await late.read()).code, 220);

    // After the delay: the idle sessions get 421 ...
    assert.equal((await idle.read(6000)).code, 421);
    assert.equal((await late.read(6000)).code, 421);
    // ... while the transfer is still allowed to finish, then its session gets 421 too.
    let received = 0;
    data.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    // 226 means every byte left the server; the client may still be reading the last ones.
    const dataEnded = new Promise((resolve) => data.once('close', resolve));
    data.resume();
    assert.equal((await busy.read(15_000)).code, 226);
    await dataEnded;
    assert.equal(received, 8 * 1024 * 1024);
    assert.equal((await busy.read(6000)).code, 421);
    await closing;
    assert.ok(t.logs.some((record) => record.event === 'server.draining'));
    await t.close(); // a second close is harmless; it removes the temp folders
  });
});
