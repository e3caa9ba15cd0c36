/**
 * @module test/integration/slow-loris
 * Thousands of connections that never finish logging in (half send nothing, half drip one
 * byte a second) against the real server:
 * - each is closed with 421 within limits.loginTimeoutMs (plus slack), and a legitimate user
 *   logs in fast (< 1 s, a correctness bound) the whole time;
 * - with fewer slots for waiting connections than attackers (access.maxUnauthenticated,
 *   access.maxUnauthenticatedPerAddress) and a long login timeout, a newcomer closes the
 *   connection that has waited longest instead of being refused, so the legitimate user still
 *   gets in, and waiting connections never exceed their cap.
 * Attackers connect from 127.0.0.10..127.0.0.109 (Linux routes all of 127/8 to loopback).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/integration.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Loris {
  socket: net.Socket;
  openedAt: number;
  closedAt: number | null;
  received: string;
}

/** Opens `count` connections spread over 100 source addresses, in batches (the backlog is finite). */
async function openLorises(t: TestServer, count: number): Promise<Loris[]> {
  const lorises: Loris[] = [];
  for (let start = 0; start < count; start += 100) {
    // This process is the attacker too: small batches with a pause keep its own event loop
    // (which also runs the legitimate client) from being the bottleneck being measured.
    if (start > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, count - start) }, (_, j) => {
        const i = start + j;
        return new Promise<Loris>((resolve, reject) => {
          const socket = net.connect({ port: t.port, host: t.host, localAddress: `127.0.0.${10 + (i % 100)}` });
          const loris: Loris = { socket, openedAt: 0, closedAt: null, received: '' };
          socket.setEncoding('utf8');
          socket.on('data', (data: string) => {
            loris.received += data;
          });
          socket.on('error', () => undefined);
          socket.once('close', () => {
            loris.closedAt = performance.now();
          });
          socket.once('connect', () => {
            loris.openedAt = performance.now();
            resolve(loris);
          });
          socket.once('error', reject);
        });
      }),
    );
    lorises.push(...batch);
  }
  return lorises;
}

/** Every other connection sends one byte of "USER alice\r\n" a second, never the whole line. */
function drip(lorises: readonly Loris[]): () => void {
  const text = 'USER alice';
  let position = 0;
  const timer = setInterval(() => {
    const byte = text[position % text.length] ?? 'x';
    position++;
    lorises.forEach((loris, i) => {
      if (i % 2 === 1 && loris.closedAt === null) loris.socket.write(byte);
    });
  }, 1000);
  return () => clearInterval(timer);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Infinity;
}

async function timedLogin(t: TestServer, localAddress: string): Promise<number> {
  const started = performance.now();
  const client = await RawClient.connect(t.port, t.host, localAddress);
  try {
    await client.login(t.user, t.password);
    return performance.now() - started;
  } finally {
    client.close();
  }
}

describe('slow loris', () => {
  it('2,000 connections that never log in are closed on time and do not block a legitimate user', async () => {
    const LOGIN_TIMEOUT_MS = 2000;
    const t = await startTestServer({
      config: {
        limits: { loginTimeoutMs: LOGIN_TIMEOUT_MS, maxSessions: 3000, maxSessionsPerAddress: 50 },
        access: { maxUnauthenticated: 2500, maxUnauthenticatedPerAddress: 25 },
        defender: { safeList: [] },
      },
    });
    const lorises: Loris[] = [];
    let stopDrip = () => {};
    try {
      const opening = openLorises(t, 2000);
      const latencies: number[] = [];
      // The legitimate user logs in while the connections pile up and while they wait.
      const legit = (async () => {
        const until = performance.now() + LOGIN_TIMEOUT_MS + 2000;
        while (performance.now() < until) {
          latencies.push(await timedLogin(t, '127.0.0.3'));
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      lorises.push(...(await opening));
      stopDrip = drip(lorises);
      await legit;
      assert.ok(latencies.length >= 3, `${latencies.length} logins: ${latencies.map(Math.round).join(', ')}`);
      // Typically fast; never as slow as waiting for the lorises to time out (a loaded machine
      // may stretch one login, so the worst case is bounded by the login timeout, not 1 s).
      assert.ok(median(latencies) < 1000 && Math.max(...latencies) < LOGIN_TIMEOUT_MS, `legitimate login latencies: ${latencies.map(Math.round).join(', ')}`);

      // Every slow connection is closed within the login timeout plus slack, with a 421.
      const deadline = performance.now() + LOGIN_TIMEOUT_MS + 5000;
      while (lorises.some((l) => l.closedAt === null) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const open = lorises.filter((l) => l.closedAt === null).length;
      assert.equal(open, 0, `${open} connections still open`);
      const late = lorises.filter((l) => (l.closedAt ?? Infinity) - l.openedAt > LOGIN_TIMEOUT_MS + 2500);
      assert.equal(late.length, 0, `${late.length} closed late (worst ${Math.max(...late.map((l) => (l.closedAt ?? 0) - l.openedAt))} ms)`);
      const told = lorises.filter((l) => /^421 Login timeout/m.test(l.received)).length;
      assert.equal(told, lorises.length, `${told} of ${lorises.length} got "421 Login timeout"`);
      assert.ok(t.logs.filter((r) => r.event === 'session.login-timeout').length >= 2000);
      assert.equal(t.server.sessionCount, 0);
    } finally {
      stopDrip();
      for (const l of lorises) l.socket.destroy();
      await t.close();
    }
  });

  it('when waiting connections fill their cap, a newcomer closes the longest-waiting one: the legitimate user still gets in', async () => {
    const MAX_WAITING = 300;
    const t = await startTestServer({
      config: {
        limits: { loginTimeoutMs: 60_000, maxSessions: 400, maxSessionsPerAddress: 50 },
        access: { maxUnauthenticated: MAX_WAITING, maxUnauthenticatedPerAddress: 5 },
        defender: { safeList: [] },
      },
    });
    const lorises: Loris[] = [];
    try {
      // 2,000 attempts from 100 addresses: 5 may wait per address (500 > 300 in all).
      lorises.push(...(await openLorises(t, 2000)));
      // Evicted connections are gone as soon as their 421 is flushed.
      await waitFor(() => t.server.sessionCount <= MAX_WAITING, 3000, `at most ${MAX_WAITING} sessions (${t.server.sessionCount})`);
      const latencies: number[] = [];
      for (let i = 0; i < 10; i++) latencies.push(await timedLogin(t, '127.0.0.3'));
      assert.ok(median(latencies) < 1000 && Math.max(...latencies) < 5000, `legitimate login latencies: ${latencies.map(Math.round).join(', ')}`);
      // A logged-in user's session is not a waiting connection: a flood does not evict it.
      const user = await RawClient.connect(t.port, t.host, '127.0.0.4');
      await user.login(t.user, t.password);
      const more = await openLorises(t, 400);
      lorises.push(...more);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await user.send('NOOP')).code, 200, 'the logged-in session survived the flood');
      user.close();
      const evictions = t.logs.filter((r) => r.event === 'session.evicted').length;
      assert.ok(evictions >= 1500, `${evictions} longest-waiting connections closed to make room`);
      const evicted = lorises.filter((l) => /^421 Too many connections waiting to log in, closing/m.test(l.received)).length;
      assert.ok(evicted >= 1500, `${evicted} clients told why`);
      // One address cannot take more than its share of the waiting slots.
      const greedy = await Promise.all(Array.from({ length: 20 }, () => RawClient.connect(t.port, t.host, '127.0.0.200')));
      const greetings = await Promise.all(greedy.map((c) => c.read()));
      assert.equal(greetings.filter((g) => g.code === 220).length, 5);
      assert.ok(greetings.filter((g) => g.code === 421).every((g) => /waiting to log in from your address/.test(g.text)));
      for (const c of greedy) c.close();
      assert.ok(t.logs.some((r) => r.event === 'session.rejected' && r.reason === 'max-unauthenticated-per-address' && r.remote === '127.0.0.200'));
    } finally {
      for (const l of lorises) l.socket.destroy();
      await t.close();
    }
  });
});
