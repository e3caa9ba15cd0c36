/**
 * @module test/integration/access-lists
 * Client address allow/deny lists over real sockets (loopback sources 127.0.0.N stand for
 * distinct clients): the global access.allow / access.deny checked when a connection arrives
 * (deny wins, empty allow = everyone), and the per-user allowFrom / denyFrom of the users file
 * (a login from outside answers 530 like a wrong password; the log says why), plus the
 * defender's commands-before-login limit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { controlClosed } from '../helpers/raw-transfer.js';
import { RawClient, greetingCode } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';

async function loginCode(port: number, localAddress: string, user: string, password: string): Promise<number> {
  const client = await RawClient.connect(port, '127.0.0.1', localAddress);
  try {
    await client.read();
    await client.send(`USER ${user}`);
    return (await client.send(`PASS ${password}`)).code;
  } finally {
    client.close();
  }
}

describe('access lists', () => {
  it('global allow and deny: deny wins, others outside allow get 421 at connect, with a log line', async () => {
    const t = await startTestServer({ config: { access: { allow: ['127.0.0.0/29', '2001:db8::/32'], deny: ['127.0.0.5'] } } });
    try {
      assert.equal(await greetingCode(t.port, '127.0.0.1'), 220);
      assert.equal(await greetingCode(t.port, '127.0.0.4'), 220);
      assert.equal(await greetingCode(t.port, '127.0.0.5'), 421, 'denied inside the allowed range');
      assert.equal(await greetingCode(t.port, '127.0.0.9'), 421, 'outside allow');
      const refused = t.logs.filter((r) => r.event === 'session.rejected' && r.reason === 'access-denied').map((r) => r.remote);
      assert.deepEqual(refused.sort(), ['127.0.0.5', '127.0.0.9']);
    } finally {
      await t.close();
    }
  });

  it('an empty allow list lets everyone in except deny', async () => {
    const t = await startTestServer({ config: { access: { deny: ['127.0.0.8/30'] } } });
    try {
      assert.equal(await greetingCode(t.port, '127.0.0.7'), 220);
      assert.equal(await greetingCode(t.port, '127.0.0.9'), 421);
      assert.equal(await greetingCode(t.port, '127.0.0.12'), 220);
    } finally {
      await t.close();
    }
  });

  it('per-user allowFrom/denyFrom: 530 from outside like a wrong password, the log tells the real reason', async () => {
    const t = await startTestServer({
      users: [
        { name: 'alice', password: 'alice-pw' },
        { name: 'bob', password: 'bob-pw', allowFrom: ['127.0.0.16/28'], denyFrom: ['127.0.0.20'] },
      ],
    });
    try {
      assert.equal(await loginCode(t.port, '127.0.0.17', 'bob', 'bob-pw'), 230);
      assert.equal(await loginCode(t.port, '127.0.0.20', 'bob', 'bob-pw'), 530, 'denyFrom wins');
      assert.equal(await loginCode(t.port, '127.0.0.2', 'bob', 'bob-pw'), 530, 'outside allowFrom');
      assert.equal(await loginCode(t.port, '127.0.0.2', 'bob', 'wrong'), 530);
      assert.equal(await loginCode(t.port, '127.0.0.2', 'alice', 'alice-pw'), 230, 'other users unaffected');
      const reasons = t.logs.filter((r) => r.event === 'login' && r.user === 'bob' && r.result === 'failed').map((r) => r.reason);
      assert.deepEqual(reasons, ['address-not-allowed', 'address-not-allowed', 'bad-password']);
    } finally {
      await t.close();
    }
  });

  it('too many commands before login: 421, the connection closes, and the address is scored', async () => {
    const t = await startTestServer({ config: { defender: { maxCommandsBeforeLogin: 5, safeList: [] } } });
    try {
      const client = await RawClient.connect(t.port, t.host, '127.0.0.30');
      await client.read();
      for (let i = 0; i < 5; i++) assert.equal((await client.send('NOOP')).code, 200);
      const last = await client.send('NOOP');
      assert.equal(last.code, 421, last.text);
      await controlClosed(client);
      assert.ok(t.logs.some((r) => r.event === 'defender.event' && r.reason === 'commands-before-login' && r.address === '127.0.0.30'));
      // A logged-in session has no such limit.
      const user = await RawClient.connect(t.port, t.host, '127.0.0.31');
      await user.login(t.user, t.password);
      for (let i = 0; i < 10; i++) assert.equal((await user.send('NOOP')).code, 200);
      user.close();
    } finally {
      await t.close();
    }
  });
});
