/**
 * @module test/unit/cluster/shared-protection
 * Two replicas' SharedProtection on one in-memory store, each with its own defender, one of
 * them cut off from the store by a switch (the store's own behaviour is proven against a real
 * redis-server in test/contract and test/integration/cluster; the switch only decides
 * reachability): failures spread over both ban at the threshold in total; while cut off a
 * replica decides alone, misses the others' changes, and on return writes back its bans and
 * lifts and drops a ban lifted meanwhile elsewhere; per-user slots are shared, counted locally
 * while cut off and put back on return.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryProtectionStore } from '../../../src/cluster/memory-store.js';
import type { BanChange, ProtectionStore } from '../../../src/cluster/protection-store.js';
import { SharedProtection } from '../../../src/cluster/shared-protection.js';
import { Defender, type DefenderOptions } from '../../../src/security/defender.js';
import type { Logger } from '../../../src/core/logger.js';

const OPTIONS: DefenderOptions = {
  enabled: true,
  threshold: 10,
  observationWindowMs: 60_000,
  banTimeMs: 60_000,
  banTimeMaxMs: 3_600_000,
  baseLoginDelayMs: 100,
  maxLoginDelayMs: 1000,
  maxTrackedAddresses: 1000,
  ipv6Prefix: 64,
  safeList: [],
  scores: { loginFailed: 2, commandsBeforeLogin: 5, proxyRefused: 5, dataRefused: 3, tooManyConnections: 1 },
};

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/** A replica's connection to the shared store, which the test can cut and restore. */
class SwitchedStore implements ProtectionStore {
  readonly kind = 'switched';
  #up = true;
  readonly #status: ((up: boolean) => void)[] = [];
  constructor(private readonly inner: MemoryProtectionStore) {}
  get up(): boolean {
    return this.#up;
  }
  set(up: boolean): void {
    this.#up = up;
    for (const listener of this.#status) listener(up);
  }
  #call<T>(run: () => Promise<T>): Promise<T> {
    return this.#up ? run() : Promise.reject(new Error('store unreachable'));
  }
  score: ProtectionStore['score'] = (...a) => this.#call(() => this.inner.score(...a));
  trust: ProtectionStore['trust'] = (...a) => this.#call(() => this.inner.trust(...a));
  ban: ProtectionStore['ban'] = (...a) => this.#call(() => this.inner.ban(...a));
  restore: ProtectionStore['restore'] = (...a) => this.#call(() => this.inner.restore(...a));
  lift: ProtectionStore['lift'] = (...a) => this.#call(() => this.inner.lift(...a));
  bans: ProtectionStore['bans'] = (...a) => this.#call(() => this.inner.bans(...a));
  claimSession: ProtectionStore['claimSession'] = (...a) => this.#call(() => this.inner.claimSession(...a));
  renewSessions: ProtectionStore['renewSessions'] = (...a) => this.#call(() => this.inner.renewSessions(...a));
  releaseSession: ProtectionStore['releaseSession'] = (...a) => this.#call(() => this.inner.releaseSession(...a));
  sessionCount: ProtectionStore['sessionCount'] = (...a) => this.#call(() => this.inner.sessionCount(...a));
  epoch: ProtectionStore['epoch'] = () => this.#call(() => this.inner.epoch());
  onChange(listener: (change: BanChange) => void): void {
    // A cut-off replica misses what is published meanwhile.
    this.inner.onChange((change) => {
      if (this.#up) listener(change);
    });
  }
  onStatus(listener: (up: boolean) => void): void {
    this.#status.push(listener);
  }
  async close(): Promise<void> {}
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

function cluster(maxSessionsPerUser = 0) {
  const shared = new MemoryProtectionStore();
  const replica = () => {
    const defender = new Defender(OPTIONS);
    const store = new SwitchedStore(shared);
    const protection = new SharedProtection(defender, store, { sessionLeaseMs: 60_000, banSyncIntervalMs: 3_600_000, maxSessionsPerUser }, { logger: quiet });
    protection.start();
    return { defender, store, protection };
  };
  return { shared, a: replica(), b: replica() };
}

describe('SharedProtection', () => {
  it('failures spread over two replicas ban at the threshold in total, on both', async () => {
    const { a, b } = cluster();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) delays.push(await (i % 2 ? b : a).protection.loginFailed('192.0.2.1', 'alice'));
    assert.deepEqual(delays, [100, 200, 300, 400], 'the delay grows with the shared failures');
    assert.equal(a.defender.banFor('192.0.2.1'), undefined);
    await b.protection.loginFailed('192.0.2.1', 'alice');
    assert.ok(b.defender.banFor('192.0.2.1'), 'in force at once where it was decided');
    await settle();
    assert.ok(a.defender.banFor('192.0.2.1'), 'and on the other replica from the change feed');
    assert.equal(await a.protection.lift('192.0.2.1'), true);
    await settle();
    assert.equal(b.defender.banFor('192.0.2.1'), undefined);
  });

  it('cut off, a replica decides alone; back, it writes its bans and lifts and drops one lifted elsewhere', async () => {
    const { shared, a, b } = cluster();
    await b.protection.ban('192.0.2.20', { durationMs: 600_000 });
    await b.protection.ban('192.0.2.21', { durationMs: 600_000 });
    await settle();
    assert.ok(a.defender.banFor('192.0.2.20') && a.defender.banFor('192.0.2.21'));
    a.store.set(false);
    // Alone: five failures on A alone ban locally, without a wait on the store.
    for (let i = 0; i < 5; i++) await a.protection.loginFailed('192.0.2.30', 'bob');
    assert.ok(a.defender.banFor('192.0.2.30'));
    assert.equal(b.defender.banFor('192.0.2.30'), undefined, 'B does not know yet');
    assert.equal(await a.protection.lift('192.0.2.20'), true, 'lifted here, the store cannot hear it');
    assert.equal(await b.protection.lift('192.0.2.21'), true, 'lifted elsewhere, A cannot hear it');
    await settle();
    assert.ok(a.defender.banFor('192.0.2.21'), 'A missed the lift');
    assert.deepEqual((await a.protection.list()).map((ban) => ban.address).sort(), ['192.0.2.21', '192.0.2.30'], 'A lists its own view');
    a.store.set(true);
    await settle();
    assert.deepEqual((await shared.bans(Date.now())).map((ban) => ban.key), ['192.0.2.30'], 'A wrote back its ban and its lift');
    assert.ok(b.defender.banFor('192.0.2.30'), 'B learnt of the ban made meanwhile');
    assert.equal(b.defender.banFor('192.0.2.20'), undefined);
    assert.equal(a.defender.banFor('192.0.2.21'), undefined, 'A dropped the ban lifted meanwhile');
  });

  it('per-user slots across replicas; counted locally while cut off; put back on return', async () => {
    const { shared, a, b } = cluster(2);
    const one = await a.protection.claimSession('carol', 's1');
    const two = await b.protection.claimSession('carol', 's2');
    assert.ok(one && two);
    assert.equal(await b.protection.claimSession('carol', 's3'), null, 'the third, on either replica, is refused');
    one();
    await settle();
    const three = await b.protection.claimSession('carol', 's3');
    assert.ok(three);
    b.store.set(false);
    assert.ok(await b.protection.claimSession('dave', 'd1'));
    assert.ok(await b.protection.claimSession('dave', 'd2'));
    assert.equal(await b.protection.claimSession('dave', 'd3'), null, 'the limit holds per replica while cut off');
    assert.equal(await shared.sessionCount('dave', Date.now()), 0);
    b.store.set(true);
    await settle();
    assert.equal(await shared.sessionCount('dave', Date.now()), 2, 'the sessions opened meanwhile joined the shared count');
    assert.equal(await a.protection.claimSession('dave', 'd4'), null);
  });
});
