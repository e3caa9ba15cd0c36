/**
 * @module test/integration/limits
 * Session limits of the real server: concurrent sessions (per address and total), failed
 * logins, the login and idle timeouts (never during a transfer) and the command line length.
 * Each case gets its own server with the limit under test set low.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withTestServer } from '../helpers/server.js';
import { MiB, randomBuffer, sha256, waitFor } from '../helpers/integration.js';
import { collect, controlClosed, expectCode, expectNext } from '../helpers/raw-transfer.js';
import { seedFile } from '../helpers/storage.js';

describe('limits', () => {
  it('maxSessionsPerAddress: the extra connection gets 421 and is closed; a slot frees on disconnect', async () => {
    await withTestServer({ config: { limits: { maxSessionsPerAddress: 2 } } }, async (t, connect) => {
      const a = await connect();
      const b = await connect();
      assert.equal((await a.read()).code, 220);
      assert.equal((await b.read()).code, 220);
      const c = await connect();
      const refused = await c.read();
      assert.equal(refused.code, 421, refused.text);
      await controlClosed(c);
      // The two admitted sessions are unaffected.
      assert.equal((await a.send('NOOP')).code, 200);
      assert.equal((await b.send('NOOP')).code, 200);
      assert.equal(t.server.sessionCount, 2);
      a.close();
      await waitFor(() => t.server.sessionCount === 1, 3000, 'session released');
      const d = await connect();
      assert.equal((await d.read()).code, 220);
      assert.ok(t.logs.some((r) => r.event === 'session.rejected' && r.reason === 'max-sessions-per-address'));
    });
  });

  it('maxSessions: the connection beyond the total gets 421', async () => {
    await withTestServer({ config: { limits: { maxSessions: 1 } } }, async (_t, connect) => {
      const a = await connect();
      assert.equal((await a.read()).code, 220);
      const b = await connect();
      assert.equal((await b.read()).code, 421);
      await controlClosed(b);
      assert.equal((await a.send('NOOP')).code, 200);
    });
  });

  it('maxFailedLogins: 530 for each failure, then 421 and the connection closes', async () => {
    await withTestServer({ config: { limits: { maxFailedLogins: 3 } } }, async (t, connect) => {
      const c = await connect();
      await c.read();
      for (let i = 0; i < 2; i++) {
        assert.equal((await c.send('USER alice')).code, 331);
        assert.equal((await c.send(`PASS wrong-${i}`)).code, 530);
      }
      assert.equal((await c.send('USER nobody')).code, 331);
      const last = await c.send('PASS wrong-again');
      assert.equal(last.code, 421, last.text);
      await controlClosed(c);
      // Counting is per connection: a fresh one may still log in.
      const ok = await connect();
      await ok.login(t.user, t.password);
    });
  });

  it('a failed login is delayed by limits.failedLoginDelayMs', async () => {
    await withTestServer({ config: { limits: { failedLoginDelayMs: 400 } } }, async (t, connect) => {
      const c = await connect();
      await c.read();
      await c.send('USER alice');
      const started = Date.now();
      assert.equal((await c.send('PASS bad')).code, 530);
      assert.ok(Date.now() - started >= 350, `answered after ${Date.now() - started} ms`);
      await c.send(`USER ${t.user}`);
      const okStart = Date.now();
      assert.equal((await c.send(`PASS ${t.password}`)).code, 230);
      assert.ok(Date.now() - okStart < 350, 'a good login is not delayed');
    });
  });

  it('loginTimeoutMs: a connection that does not log in gets 421 and is closed', async () => {
    await withTestServer({ config: { limits: { loginTimeoutMs: 400 } } }, async (_t, connect) => {
      const idle = await connect();
      assert.equal((await idle.read()).code, 220);
      const started = Date.now();
      const reply = await idle.read(3000);
      assert.equal(reply.code, 421, reply.text);
      await controlClosed(idle);
      assert.ok(Date.now() - started < 2500);
    });
  });

  it('loginTimeoutMs does not close a session that has logged in and then stays quiet', async () => {
    await withTestServer({ config: { limits: { loginTimeoutMs: 400 } } }, async (t, connect) => {
      const user = await connect();
      await user.login(t.user, t.password);
      // Quiet for longer than the login timeout (the idle timeout is 15 minutes).
      const unexpected = await user.read(900).then(
        (reply) => reply.text,
        () => null,
      );
      assert.equal(unexpected, null, `logged-in session received: ${String(unexpected)}`);
      assert.ok(!user.closed, 'logged-in session was closed');
      assert.equal((await user.send('NOOP')).code, 200);
    });
  });

  it('idleTimeoutMs closes a quiet logged-in session with 421; commands keep it alive', async () => {
    await withTestServer({ config: { limits: { idleTimeoutMs: 600 } } }, async (t, connect) => {
      const c = await connect();
      await c.login(t.user, t.password);
      for (let i = 0; i < 4; i++) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal((await c.send('NOOP')).code, 200, 'activity resets the idle timer');
      }
      const started = Date.now();
      const reply = await c.read(3000);
      assert.equal(reply.code, 421, reply.text);
      assert.match(reply.text, /[Ii]dle/);
      assert.ok(Date.now() - started >= 450, `closed after only ${Date.now() - started} ms of silence`);
      await controlClosed(c);
    });
  });

  it('idleTimeoutMs never fires during a stalled transfer, and does once it is over', async () => {
    await withTestServer({ config: { limits: { idleTimeoutMs: 500, loginTimeoutMs: 300 } } }, async (t, connect) => {
      const big = randomBuffer(24 * MiB);
      await seedFile(t.storage, '/big.bin', big);
      const c = await connect();
      await c.login(t.user, t.password);
      await expectCode(c, 'TYPE I', 200);
      const data = await c.openPassiveData();
      data.pause();
      await expectCode(c, 'RETR big.bin', 150);
      // Three idle periods without a single control command while the transfer is stuck.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(!c.closed, 'session closed during a transfer');
      const bytes = collect(data, 20_000);
      data.resume();
      await expectNext(c, 226, 20_000);
      assert.equal(sha256(await bytes), sha256(big));
      // Now idle for real.
      const reply = await c.read(3000);
      assert.equal(reply.code, 421, reply.text);
      await controlClosed(c);
    });
  });

  it('maxCommandLineBytes is configurable: a longer line gets 500, the session continues', async () => {
    await withTestServer({ config: { limits: { maxCommandLineBytes: 512 } } }, async (t, connect) => {
      const c = await connect();
      await c.login(t.user, t.password);
      assert.equal((await c.send(`NOOP ${'a'.repeat(507)}`)).code, 200);
      assert.equal((await c.send(`NOOP ${'a'.repeat(508)}`)).code, 500);
      assert.equal((await c.send('PWD')).code, 257);
    });
  });

  it('a client flooding pipelined commands behind a transfer is cut off with 421', async () => {
    await withTestServer({}, async (t, connect) => {
      await seedFile(t.storage, '/f.bin', randomBuffer(16 * MiB));
      const c = await connect();
      await c.login(t.user, t.password);
      await expectCode(c, 'TYPE I', 200);
      const data = await c.openPassiveData();
      data.pause();
      await expectCode(c, 'RETR f.bin', 150);
      c.write('PWD\r\n'.repeat(400));
      const reply = await c.read(5000);
      assert.equal(reply.code, 421, reply.text);
      await controlClosed(c);
      data.destroy();
    });
  });
});
