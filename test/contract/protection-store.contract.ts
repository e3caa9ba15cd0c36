/**
 * @module test/contract/protection-store.contract
 * The contract every ProtectionStore keeps (cluster/protection-store), run against the
 * in-memory store and against a real redis-server: scores add up within the window and ban
 * at the threshold exactly once; bans grow on repeat offences and end on time; a lift
 * forgets the offences; manual bans, the sorted list, restore keeping the later end; user
 * name scores and trust marks; every handle on the same backend hears each ban change;
 * leased session slots with a maximum; a stable epoch. Real time with short windows: the
 * Redis store cannot be given a fake clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BanChange, BanPolicy, ProtectionStore } from '../../src/cluster/protection-store.js';
import { waitFor } from '../helpers/integration.js';

export interface StoreBackend {
  /** A new handle on the backend (a replica's connection). */
  open(): Promise<ProtectionStore>;
  dispose(): Promise<void>;
}

const POLICY: BanPolicy = { threshold: 10, observationWindowMs: 60_000, banTimeMs: 300, banTimeMaxMs: 5000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


let unique = 0;
/** A fresh documentation address per test, so tests on one backend never share state. */
const address = () => `192.0.2.${++unique}`;

export function runProtectionStoreContract(name: string, backendFactory: () => Promise<StoreBackend>, skip: () => string | null = () => null): void {
  describe(`ProtectionStore contract: ${name}`, { skip: skip() ?? false }, () => {
    let backend: StoreBackend;
    let store: ProtectionStore;
    before(async () => {
      backend = await backendFactory();
      store = await backend.open();
      await waitFor(() => store.up, 5000, 'store up');
    });
    after(async () => {
      await store.close();
      await backend.dispose();
    });

    it('adds points within the window and bans at the threshold, once', async () => {
      const key = address();
      for (let i = 1; i <= 4; i++) {
        const result = await store.score({ key, points: 2, reason: 'login-failed', now: Date.now() }, POLICY);
        assert.equal(result.score, 2 * i);
        assert.equal(result.ban, null);
      }
      const fifth = await store.score({ key, points: 2, reason: 'login-failed', now: Date.now() }, POLICY);
      assert.equal(fifth.score, 10);
      assert.ok(fifth.ban, 'the threshold bans');
      assert.equal(fifth.ban.key, key);
      assert.equal(fifth.ban.offences, 1);
      assert.equal(fifth.ban.reason, 'login-failed');
      assert.equal(fifth.ban.manual, false);
      assert.equal(fifth.ban.until - fifth.ban.since, POLICY.banTimeMs);
      // While banned, more events ban nothing more; the score starts over from the ban.
      const more = await store.score({ key, points: 20, reason: 'login-failed', now: Date.now() }, POLICY);
      assert.equal(more.ban, null);
      assert.equal(more.score, 20);
      assert.deepEqual((await store.bans(Date.now())).filter((b) => b.key === key).length, 1);
    });

    it('events of 0 points never ban', async () => {
      const key = address();
      const result = await store.score({ key, points: 0, reason: 'proxy-refused', now: Date.now() }, { ...POLICY, threshold: 1 });
      assert.equal(result.ban, null);
    });

    it('forgets points outside the observation window', async () => {
      const key = address();
      const policy = { ...POLICY, observationWindowMs: 200 };
      await store.score({ key, points: 5, reason: 'x', now: Date.now() }, policy);
      await sleep(450);
      const later = await store.score({ key, points: 1, reason: 'x', now: Date.now() }, policy);
      assert.equal(later.score, 1);
    });

    it('a repeat offence doubles the ban; the ban ends on time; a lift forgets the offences', async () => {
      const key = address();
      const first = await store.score({ key, points: 10, reason: 'login-failed', now: Date.now() }, POLICY);
      assert.equal(first.ban?.offences, 1);
      await sleep(POLICY.banTimeMs + 50);
      assert.equal((await store.bans(Date.now())).some((b) => b.key === key), false, 'the first ban ended');
      const second = await store.score({ key, points: 10, reason: 'login-failed', now: Date.now() }, POLICY);
      assert.equal(second.ban?.offences, 2);
      assert.equal((second.ban?.until ?? 0) - (second.ban?.since ?? 0), 2 * POLICY.banTimeMs);
      assert.equal(await store.lift(key), true);
      assert.equal(await store.lift(key), false, 'nothing left to lift');
      const third = await store.score({ key, points: 10, reason: 'login-failed', now: Date.now() }, POLICY);
      assert.equal(third.ban?.offences, 1, 'the lift forgot the history');
    });

    it('manual bans with a duration; growth without one; the list is sorted by end', async () => {
      const a = address();
      const b = address();
      const now = Date.now();
      const long = await store.ban(a, { reason: 'operator', manual: true, durationMs: 60_000, now }, POLICY);
      assert.deepEqual({ ...long }, { key: a, since: now, until: now + 60_000, offences: 1, reason: 'operator', manual: true });
      const short = await store.ban(b, { reason: 'manual', manual: true, now }, POLICY);
      assert.equal(short.until, now + POLICY.banTimeMs);
      const listed = (await store.bans(Date.now())).filter((ban) => ban.key === a || ban.key === b);
      assert.deepEqual(
        listed.map((ban) => ban.key),
        [b, a],
      );
      assert.deepEqual(listed[1], long);
      await store.lift(a);
      await store.lift(b);
    });

    it('restore puts a ban back unless a later-ending one is there', async () => {
      const key = address();
      const now = Date.now();
      await store.restore({ key, since: now, until: now + 30_000, offences: 3, reason: 'login-failed', manual: false }, POLICY);
      await store.restore({ key, since: now, until: now + 10_000, offences: 1, reason: 'other', manual: false }, POLICY);
      const ban = (await store.bans(Date.now())).find((b) => b.key === key);
      assert.equal(ban?.until, now + 30_000);
      assert.equal(ban?.offences, 3);
      // Its offences count on: the next ban is the fourth.
      await store.lift(key);
    });

    it('scores a user name across addresses and reads the trust mark', async () => {
      const user = `user${++unique}`;
      const key1 = address();
      const key2 = address();
      const one = await store.score({ key: key1, points: 2, reason: 'login-failed', user, userPoints: 2, now: Date.now() }, POLICY);
      const two = await store.score({ key: key2, points: 2, reason: 'login-failed', user, userPoints: 2, now: Date.now() }, POLICY);
      assert.equal(one.userScore, 2);
      assert.equal(two.userScore, 4);
      assert.equal(two.score, 2, 'addresses are scored apart');
      assert.equal(two.trusted, false);
      await store.trust(key2, user, 60_000);
      const three = await store.score({ key: key2, points: 2, reason: 'login-failed', user, userPoints: 2, now: Date.now() }, POLICY);
      assert.equal(three.trusted, true);
      const other = await store.score({ key: key1, points: 2, reason: 'login-failed', user, userPoints: 2, now: Date.now() }, POLICY);
      assert.equal(other.trusted, false, 'trust is per address and user');
    });

    it('every handle on the backend hears bans and lifts, its own included', async () => {
      const other = await backend.open();
      try {
        await waitFor(() => other.up, 5000, 'other store up');
        const heard: BanChange[] = [];
        const own: BanChange[] = [];
        other.onChange((change) => heard.push(change));
        store.onChange((change) => own.push(change));
        // Give a subscription time to be in place.
        await sleep(100);
        const key = address();
        await store.score({ key, points: 10, reason: 'login-failed', now: Date.now() }, POLICY);
        await waitFor(() => heard.some((c) => c.type === 'ban' && c.ban.key === key), 2000, 'the other store heard the ban');
        await waitFor(() => own.some((c) => c.type === 'ban' && c.ban.key === key), 2000, 'own feed carries the ban');
        const change = heard.find((c) => c.type === 'ban' && c.ban.key === key);
        assert.equal(change?.type === 'ban' ? change.ban.reason : '', 'login-failed');
        assert.equal(await other.lift(key), true);
        await waitFor(() => own.some((c) => c.type === 'lift' && c.key === key), 2000, 'own feed carries the lift');
        const manual = address();
        await other.ban(manual, { reason: 'operator', manual: true, durationMs: 5000, now: Date.now() }, POLICY);
        await waitFor(() => own.some((c) => c.type === 'ban' && c.ban.key === manual && c.ban.manual), 2000, 'own feed carries the manual ban');
        await store.lift(manual);
      } finally {
        await other.close();
      }
    });

    it('session slots: a maximum, release, lease expiry and renewal', async () => {
      const user = `user${++unique}`;
      const now = Date.now();
      assert.equal(await store.claimSession(user, 'a', 2, 60_000, now), true);
      assert.equal(await store.claimSession(user, 'a', 2, 60_000, now), true, 'the same holder twice is one slot');
      assert.equal(await store.claimSession(user, 'b', 2, 60_000, now), true);
      assert.equal(await store.claimSession(user, 'c', 2, 60_000, now), false, 'full');
      assert.equal(await store.sessionCount(user, Date.now()), 2);
      await store.releaseSession(user, 'a');
      assert.equal(await store.claimSession(user, 'c', 2, 60_000, Date.now()), true);
      assert.equal(await store.claimSession(user, 'd', 0, 60_000, Date.now()), true, 'max 0: counted, never refused');
      // Lease 800 ms: x claimed at 0 ends at 800; y renewed at 400 ends at 1200; counted at
      // 900 (timer lateness on a busy machine only makes x's end surer).
      const lease = `user${++unique}`;
      await store.claimSession(lease, 'x', 1, 800, Date.now());
      await store.claimSession(lease, 'y', 0, 800, Date.now());
      await sleep(400);
      await store.renewSessions([{ user: lease, holder: 'y' }], 800, Date.now());
      await sleep(500);
      assert.equal(await store.sessionCount(lease, Date.now()), 1, 'x expired, y renewed');
      assert.equal(await store.claimSession(lease, 'z', 2, 800, Date.now()), true);
    });

    it('renewal puts back a slot the backend lost', async () => {
      const user = `user${++unique}`;
      await store.renewSessions([{ user, holder: 'p' }], 60_000, Date.now());
      assert.equal(await store.sessionCount(user, Date.now()), 1);
      assert.equal(await store.claimSession(user, 'q', 1, 60_000, Date.now()), false);
    });

    it('the epoch is the same for every handle', async () => {
      const other = await backend.open();
      try {
        await waitFor(() => other.up, 5000, 'other store up');
        assert.equal(await store.epoch(), await other.epoch());
        assert.match(await store.epoch(), /\S/);
      } finally {
        await other.close();
      }
    });
  });
}
