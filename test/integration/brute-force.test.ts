/**
 * @module test/integration/brute-force
 * Password guessing against the real server over real sockets (issue 7, "Prove it"):
 * - thousands of wrong passwords from one address, over many connections, are answered more
 *   and more slowly, then the address is banned: its open connections get 421, new ones get
 *   421 at once, and the ban shows in the log (defender.ban) and in the metrics;
 * - the same from many addresses at one user name: the name's score slows every attacking
 *   address (even one that has just started), each address is banned in turn;
 * - meanwhile the legitimate user, from another address, keeps logging in fast (< 1 s: a
 *   correctness bound, not a benchmark) — the account is never locked.
 * Loopback source addresses 127.0.0.N stand for distinct clients (Linux routes all of 127/8).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface AttackResult {
  failures: number;
  /** PASS round-trip times of wrong passwords, in order. */
  latencies: number[];
  /** A new connection was refused with 421 (banned). */
  refusedAtConnect: boolean;
}

/**
 * Guesses passwords for `user` from `localAddress` on one connection after another until a
 * new connection is refused (or `maxFailures` is reached), recording each PASS latency.
 */
async function attack(t: TestServer, localAddress: string, user: string, maxFailures: number, shared: { failures: number; latencies: number[] }): Promise<AttackResult> {
  const own: AttackResult = { failures: 0, latencies: [], refusedAtConnect: false };
  for (;;) {
    if (shared.failures >= maxFailures) return own;
    const client = await RawClient.connect(t.port, t.host, localAddress);
    try {
      const greeting = await client.read();
      if (greeting.code === 421) {
        own.refusedAtConnect = true;
        return own;
      }
      for (;;) {
        if (shared.failures >= maxFailures) return own;
        if ((await client.send(`USER ${user}`)).code !== 331) break;
        const started = performance.now();
        const reply = await client.send(`PASS wrong-${shared.failures}-${Math.random()}`);
        if (reply.code !== 530) break; // 421: banned, or too many failures on this connection
        const ms = performance.now() - started;
        own.failures++;
        own.latencies.push(ms);
        shared.failures++;
        shared.latencies.push(ms);
      }
    } catch {
      // The server closed the connection under us (ban): try a new one.
    } finally {
      client.close();
    }
  }
}

/** Logs in as the legitimate user every `everyMs` until stopped; returns each login's latency. */
function legitimateUser(t: TestServer, localAddress: string, everyMs: number): { stop: () => Promise<number[]> } {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const client = await RawClient.connect(t.port, t.host, localAddress);
      try {
        await client.login(t.user, t.password);
        latencies.push(performance.now() - started);
        await client.send('QUIT');
      } finally {
        client.close();
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return latencies;
    },
  };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

async function metric(t: TestServer, pattern: RegExp): Promise<number> {
  const text = await t.server.metrics.registry.metrics();
  const match = pattern.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

describe('brute force', () => {
  it('thousands of wrong passwords from one address are slowed, then banned (421), while the real user logs in fast from another address', async () => {
    const THRESHOLD = 2000;
    const t = await startTestServer({
      config: {
        limits: { failedLoginDelayMs: 1, maxFailedLogins: 100, maxSessionsPerAddress: 100 },
        access: { maxUnauthenticatedPerAddress: 100 },
        defender: { safeList: [], threshold: THRESHOLD, scores: { loginFailed: 1 }, maxLoginDelayMs: 100, maxCommandsBeforeLogin: 0 },
      },
    });
    try {
      const legit = legitimateUser(t, '127.0.0.3', 100);
      const shared = { failures: 0, latencies: [] as number[] };
      // The first few guesses, one at a time: answered at once (the base delay is 1 ms).
      await attack(t, '127.0.0.2', 'alice', 5, shared);
      const first = median(shared.latencies);
      const started = performance.now();
      const attackers = await Promise.all(Array.from({ length: 40 }, () => attack(t, '127.0.0.2', 'alice', THRESHOLD + 500, shared)));
      const attackMs = performance.now() - started;
      const legitLatencies = await legit.stop();

      // Thousands of guesses were answered before the ban stopped them.
      assert.ok(shared.failures >= THRESHOLD - 50 && shared.failures < THRESHOLD + 50, `${shared.failures} failures`);
      assert.ok(attackers.some((a) => a.refusedAtConnect), 'a new connection was refused after the ban');
      // Slowed: the first guesses came back at once, the last ones after the capped delay.
      const late = median(shared.latencies.slice(-200));
      assert.ok(late >= 95, `late failures answered after ${late} ms`);
      assert.ok(first * 3 < late, `first guesses ${first} ms vs late ${late} ms`);

      // The legitimate user kept logging in fast during the whole attack.
      assert.ok(legitLatencies.length >= 5, `${legitLatencies.length} legitimate logins in ${Math.round(attackMs)} ms`);
      // A defender delay would hit every login of the user (seconds); one scheduling hiccup on a
      // busy machine must not fail the test, so the typical and the 90th-percentile logins count.
      assert.ok(median(legitLatencies) < 500 && percentile(legitLatencies, 0.9) < 1000, `legitimate login latencies: ${legitLatencies.map(Math.round).join(', ')}`);

      // Banned: a new connection gets 421 right away, with a log line; the log and metrics show the ban.
      const again = await RawClient.connect(t.port, t.host, '127.0.0.2');
      const refused = await again.read();
      assert.equal(refused.code, 421, refused.text);
      again.close();
      const ban = t.logs.find((r) => r.event === 'defender.ban');
      assert.ok(ban, 'defender.ban logged');
      assert.equal(ban.address, '127.0.0.2');
      assert.equal(ban.reason, 'login-failed');
      assert.ok(t.logs.some((r) => r.event === 'session.rejected' && r.reason === 'banned' && r.remote === '127.0.0.2'));
      assert.ok(t.logs.some((r) => r.event === 'defender.event' && r.reason === 'login-failed' && r.address === '127.0.0.2'));
      assert.equal(await metric(t, /^kftpd_defender_bans_total (\d+)$/m), 1);
      assert.equal(await metric(t, /^kftpd_defender_banned_addresses (\d+)$/m), 1);
      assert.ok((await metric(t, /^kftpd_defender_events_total\{event="login-failed"\} (\d+)$/m)) >= THRESHOLD);
      assert.ok((await metric(t, /^kftpd_sessions_rejected_total\{reason="banned"\} (\d+)$/m)) >= 1);

      // Still fine for the real user afterwards, from a clean address.
      const after = await RawClient.connect(t.port, t.host, '127.0.0.4');
      await after.login(t.user, t.password);
      after.close();
    } finally {
      await t.close();
    }
  });

  it('wrong passwords for one user from many addresses slow every attacker and ban each address; the account is not locked', async () => {
    const ADDRESSES = 50;
    const PER_ADDRESS = 20;
    const t = await startTestServer({
      config: {
        limits: { failedLoginDelayMs: 1, maxFailedLogins: 100 },
        defender: { safeList: [], threshold: PER_ADDRESS, scores: { loginFailed: 1 }, maxLoginDelayMs: 100 },
      },
    });
    try {
      // The legitimate user's usual address has logged in before; a second, clean address never did.
      const usual = await RawClient.connect(t.port, t.host, '127.0.0.3');
      await usual.login(t.user, t.password);
      usual.close();
      const legit = legitimateUser(t, '127.0.0.3', 50);
      const newcomer = legitimateUser(t, '127.0.0.4', 50);
      const perAddress = await Promise.all(
        Array.from({ length: ADDRESSES }, async (_, i) => {
          const address = `127.0.0.${10 + i}`;
          const shared = { failures: 0, latencies: [] as number[] };
          // Two connections per address, until the address is banned.
          const results = await Promise.all([attack(t, address, 'alice', 10_000, shared), attack(t, address, 'alice', 10_000, shared)]);
          return { address, failures: shared.failures, latencies: shared.latencies, refused: results.some((r) => r.refusedAtConnect) };
        }),
      );
      // A fresh attacking address, after the name has been under attack: slowed from its first failure.
      const late = { failures: 0, latencies: [] as number[] };
      await attack(t, '127.0.0.99', 'alice', 1, late);
      const usualLatencies = await legit.stop();
      const newcomerLatencies = await newcomer.stop();

      const total = perAddress.reduce((sum, a) => sum + a.failures, 0);
      assert.ok(total >= ADDRESSES * (PER_ADDRESS - 2), `${total} wrong passwords in all`);
      for (const a of perAddress) {
        assert.ok(a.refused, `${a.address} was banned`);
        assert.ok(a.failures <= PER_ADDRESS + 2, `${a.address}: ${a.failures} failures before the ban`);
      }
      assert.equal(late.failures, 1);
      assert.ok((late.latencies[0] ?? 0) >= 95, `a new attacking address waits ${late.latencies[0]} ms on its first failure`);
      const lateFailures = perAddress.flatMap((a) => a.latencies.slice(-5));
      assert.ok(median(lateFailures) >= 95, `attackers' last failures median ${median(lateFailures)} ms`);

      for (const [label, latencies] of [['usual address', usualLatencies], ['clean address', newcomerLatencies]] as const) {
        assert.ok(latencies.length >= 3, `${label}: ${latencies.length} logins`);
        assert.ok(median(latencies) < 500 && percentile(latencies, 0.9) < 1000, `${label} login latencies: ${latencies.map(Math.round).join(', ')}`);
      }
      assert.equal(await metric(t, /^kftpd_defender_bans_total (\d+)$/m), ADDRESSES);
      assert.equal(await metric(t, /^kftpd_defender_banned_addresses (\d+)$/m), ADDRESSES);
      const bannedLogged = new Set(t.logs.filter((r) => r.event === 'defender.ban').map((r) => r.address));
      assert.equal(bannedLogged.size, ADDRESSES);
      assert.ok(!bannedLogged.has('127.0.0.3') && !bannedLogged.has('127.0.0.4'));
    } finally {
      await t.close();
    }
  });
});
