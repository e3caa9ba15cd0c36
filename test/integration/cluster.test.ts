/**
 * @module test/integration/cluster
 * Protection shared by several kftpd instances through a real redis-server (issue 15), over
 * real sockets:
 * - password guessing spread round-robin over two and over three instances is banned at the
 *   configured threshold in total, not per instance, and the ban refuses the address on
 *   every instance;
 * - a ban made through one instance (`kftpd bans add`) closes the address's sessions on the
 *   others within a second; a lift through one (`kftpd bans lift`) frees the address on all;
 *   `kftpd bans list` through any one shows the service's bans;
 * - limits.maxSessionsPerUser holds across instances;
 * - a hung Redis holds no login longer than cluster.redis.commandTimeoutMs;
 * - Redis killed mid-run: logins keep working, /readyz stays ready, kftpd_cluster_store_up
 *   drops to 0 and a ban decided locally meanwhile reaches the other instances once Redis
 *   is back (empty), with every key it holds carrying a TTL.
 * Loopback sources 127.0.0.N stand for distinct clients (the helper's safe list is
 * 127.0.0.1).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBans } from '../../src/cli/commands/bans.js';
import { waitFor } from '../helpers/integration.js';
import { RawClient, greetingCode } from '../helpers/raw-client.js';
import { REDIS_MISSING, startTestRedis, type TestRedis } from '../helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runCommand } from '../helpers/cli.js';

const TOKEN = 'c'.repeat(24) + '-cluster-token';
const THRESHOLD = 10;
/** loginFailed scores 2: five failed logins reach the threshold. */
const FAILURES_TO_BAN = THRESHOLD / 2;

async function bansCli(args: string[], t: TestServer, tokenFile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCommand(runBans, [...args, '--admin', `http://127.0.0.1:${t.server.adminAddress()?.port}`, '--token-file', tokenFile]);
}

describe('protection shared through Redis', { skip: REDIS_MISSING() ?? false }, () => {
  let redis: TestRedis;
  let dir: string;
  let tokenFile: string;
  const started: TestServer[] = [];

  async function instances(count: number, prefix: string, extra: Record<string, unknown> = {}): Promise<TestServer[]> {
    const list: TestServer[] = [];
    for (let i = 0; i < count; i++) {
      const t = await startTestServer({
        config: {
          admin: { enabled: true, port: 0, tokenFile },
          limits: { maxFailedLogins: 100, ...((extra['limits'] as object | undefined) ?? {}) },
          defender: { threshold: THRESHOLD, safeList: ['127.0.0.1'] },
          cluster: {
            ...((extra['cluster'] as object | undefined) ?? {}),
            redis: { url: redis.url, keyPrefix: prefix, ...(((extra['cluster'] as { redis?: object } | undefined)?.redis) ?? {}) },
          },
        },
      });
      started.push(t);
      list.push(t);
    }
    return list;
  }

  before(async () => {
    redis = await startTestRedis();
    dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-cluster-'));
    tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  });
  after(async () => {
    await Promise.all(started.map((t) => t.close()));
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const count of [2, 3]) {
    it(`guessing spread over ${count} instances is banned at the threshold in total`, async () => {
      const servers = await instances(count, `spread${count}`);
      const attacker = `127.0.0.${10 + count}`;
      const clients = await Promise.all(servers.map((t) => RawClient.connect(t.port, t.host, attacker)));
      try {
        for (const client of clients) assert.equal((await client.read()).code, 220);
        // Round-robin: each instance alone sees well below the threshold. The failure that
        // reaches it is answered 421: the ban closes the session at once.
        const replies: number[] = [];
        for (let round = 0; round < FAILURES_TO_BAN * 2 && !replies.includes(421); round++) {
          const client = clients[round % count];
          assert.ok(client);
          assert.equal((await client.send('USER alice')).code, 331);
          replies.push((await client.send('PASS wrong')).code);
        }
        assert.deepEqual(replies, [...new Array<number>(FAILURES_TO_BAN - 1).fill(530), 421], 'banned at the fifth failure in total');
        // Every instance refuses the address now, and closed its open session.
        for (const t of servers) await waitFor(async () => (await greetingCode(t.port, attacker)) === 421, 1000, 'refused everywhere');
        for (const client of clients) await waitFor(() => client.closed, 1000, 'open session closed');
        // A different address is untouched.
        for (const t of servers) assert.equal(await greetingCode(t.port, '127.0.0.99'), 220);
        const bans = (await redis.client.keys(`{spread${count}}:b:*`)).length;
        assert.equal(bans, 1, 'one ban in the store');
      } finally {
        for (const client of clients) client.close();
      }
    });
  }

  it('a ban through one instance closes sessions on the others within a second; a lift through one frees all', async () => {
    const [a, b, c] = await instances(3, 'lift');
    assert.ok(a && b && c);
    const victim = '127.0.0.21';
    const onB = await RawClient.connect(b.port, b.host, victim);
    const onC = await RawClient.connect(c.port, c.host, victim);
    try {
      await onB.login(b.user, b.password);
      await onC.login(c.user, c.password);
      const added = await bansCli(['add', victim, '--duration-ms', '600000', '--reason', 'test'], a, tokenFile);
      assert.equal(added.code, 0, added.stderr);
      const at = Date.now();
      await waitFor(() => onB.closed && onC.closed, 1000, 'sessions on the other instances closed');
      assert.ok(Date.now() - at < 1000);
      for (const t of [a, b, c]) assert.equal(await greetingCode(t.port, victim), 421);
      // The list through any one instance is the service's.
      const listed = await bansCli(['list', '--json'], c, tokenFile);
      assert.equal(listed.code, 0, listed.stderr);
      const bans = JSON.parse(listed.stdout) as { address: string; reason: string; manual: boolean }[];
      assert.deepEqual(
        bans.map((ban) => [ban.address, ban.reason, ban.manual]),
        [[victim, 'test', true]],
      );
      const lifted = await bansCli(['lift', victim], b, tokenFile);
      assert.equal(lifted.code, 0, lifted.stderr);
      assert.match(lifted.stdout, /lifted the ban of 127\.0\.0\.21/);
      for (const t of [a, b, c]) await waitFor(async () => (await greetingCode(t.port, victim)) === 220, 1000, 'free everywhere');
      assert.equal(a.server.defender.bannedCount + b.server.defender.bannedCount + c.server.defender.bannedCount, 0);
    } finally {
      onB.close();
      onC.close();
    }
  });

  it('limits.maxSessionsPerUser holds across instances', async () => {
    const [a, b, c] = await instances(3, 'users', { limits: { maxSessionsPerUser: 2 } });
    assert.ok(a && b && c);
    const first = await RawClient.connect(a.port, a.host);
    const second = await RawClient.connect(b.port, b.host);
    const third = await RawClient.connect(c.port, c.host);
    try {
      await first.login(a.user, a.password);
      await second.login(b.user, b.password);
      assert.equal((await third.read()).code, 220);
      assert.equal((await third.send(`USER ${c.user}`)).code, 331);
      const refused = await third.send(`PASS ${c.password}`);
      assert.equal(refused.code, 530);
      assert.match(refused.text, /Too many sessions/);
      await first.send('QUIT');
      await waitFor(async () => (await redis.client.zcard('{users}:us:alice')) === 1, 2000, 'slot released');
      assert.equal((await third.send(`USER ${c.user}`)).code, 331);
      assert.equal((await third.send(`PASS ${c.password}`)).code, 230);
    } finally {
      first.close();
      second.close();
      third.close();
    }
  });

  it('a hung Redis (stopped, connections open) holds no login longer than the command timeout', async () => {
    const [a] = await instances(1, 'hung', { limits: { maxSessionsPerUser: 5 } });
    assert.ok(a);
    redis.pause();
    try {
      const client = await RawClient.connect(a.port, a.host, '127.0.0.41');
      try {
        assert.equal((await client.read()).code, 220);
        assert.equal((await client.send('USER alice')).code, 331);
        let at = Date.now();
        assert.equal((await client.send('PASS wrong')).code, 530);
        assert.ok(Date.now() - at < 1000, `failed login answered after ${Date.now() - at} ms (command timeout 250 ms)`);
        assert.equal((await client.send('USER alice')).code, 331);
        at = Date.now();
        assert.equal((await client.send(`PASS ${a.password}`)).code, 230, 'the per-user slot is counted locally');
        assert.ok(Date.now() - at < 1000, `login answered after ${Date.now() - at} ms`);
      } finally {
        client.close();
      }
      assert.ok(a.logs.some((line) => line['event'] === 'cluster.store-error'), 'the failed command is logged');
    } finally {
      redis.resume();
    }
  });

  it('Redis killed mid-run: logins keep working, state catches up after the restart', async () => {
    // A command timeout far above the bound below: a login that waited on the dead store would
    // take 10 s, so the bound can be generous (a loaded machine) and still tell the two apart.
    // banSyncIntervalMs 2 s: a ban published while B's subscriber was still reconnecting reaches
    // B through its periodic reload (the documented fallback), within the wait below.
    const [a, b] = await instances(2, 'outage', { cluster: { banSyncIntervalMs: 2000, redis: { commandTimeoutMs: 10_000 } } });
    assert.ok(a && b);
    const metric = async (t: TestServer) => (await t.server.metrics.registry.getSingleMetric('kftpd_cluster_store_up')?.get())?.values[0]?.value;
    assert.equal(await metric(a), 1);
    await redis.kill();
    await waitFor(async () => (await metric(a)) === 0 && (await metric(b)) === 0, 5000, 'store reported down');
    // Logins keep working, without waiting on the store.
    for (const t of [a, b]) {
      const client = await RawClient.connect(t.port, t.host);
      const at = Date.now();
      await client.login(t.user, t.password);
      assert.ok(Date.now() - at < 5000, `login answered after ${Date.now() - at} ms: held up by the missing store`);
      client.close();
      const ready = await fetch(`http://127.0.0.1:${t.server.adminAddress()?.port}/readyz`);
      assert.equal(ready.status, 200, '/readyz stays ready');
    }
    // A attacker meets A alone: A bans it on its own (local state), B does not know yet.
    const attacker = '127.0.0.31';
    const client = await RawClient.connect(a.port, a.host, attacker);
    try {
      assert.equal((await client.read()).code, 220);
      for (let i = 1; i <= FAILURES_TO_BAN; i++) {
        assert.equal((await client.send('USER alice')).code, 331);
        assert.equal((await client.send('PASS wrong')).code, i < FAILURES_TO_BAN ? 530 : 421);
      }
    } finally {
      client.close();
    }
    assert.equal(await greetingCode(a.port, attacker), 421);
    assert.equal(await greetingCode(b.port, attacker), 220);
    assert.ok(a.logs.some((line) => line['event'] === 'cluster.store-down'));
    // Redis returns, empty: A puts its ban back and B learns of it.
    await redis.restart();
    await waitFor(async () => (await metric(a)) === 1 && (await metric(b)) === 1, 10_000, 'store reported up');
    await waitFor(async () => (await greetingCode(b.port, attacker)) === 421, 15_000, 'the ban reached B');
    // The ban may reach B through B's own reload before A has logged its reconciliation.
    await waitFor(async () => a.logs.some((line) => line['event'] === 'cluster.reconciled'), 15_000, 'A reconciled');
    const keys = await redis.client.keys('{outage}:*');
    assert.ok(keys.includes(`{outage}:b:${attacker}`), 'the ban is in the store again');
    for (const key of keys) assert.ok((await redis.client.pttl(key)) > 0, `${key} carries a TTL`);
    // And sharing works again: a lift through B frees A.
    assert.equal((await bansCli(['lift', attacker], b, tokenFile)).code, 0);
    await waitFor(async () => (await greetingCode(a.port, attacker)) === 220, 1000, 'lifted on A');
  });
});
