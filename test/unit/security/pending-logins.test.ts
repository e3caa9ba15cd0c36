/**
 * @module test/unit/security/pending-logins
 * The bookkeeping of connections waiting to log in: per-address counts and oldest-first order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LruMap } from '../../../src/security/lru-map.js';
import { PendingLogins } from '../../../src/security/pending-logins.js';

describe('PendingLogins', () => {
  it('counts per address and hands out the oldest first', () => {
    const pending = new PendingLogins<string>();
    pending.add('a1', '192.0.2.1');
    pending.add('a2', '192.0.2.1');
    pending.add('b1', '192.0.2.2');
    pending.add('a1', '192.0.2.1'); // idempotent
    assert.equal(pending.size, 3);
    assert.equal(pending.countFor('192.0.2.1'), 2);
    assert.equal(pending.oldest(), 'a1');
    pending.delete('a1');
    pending.delete('a1');
    assert.equal(pending.countFor('192.0.2.1'), 1);
    assert.equal(pending.oldest(), 'a2');
    pending.delete('a2');
    pending.delete('b1');
    assert.equal(pending.size, 0);
    assert.equal(pending.countFor('192.0.2.1'), 0);
    assert.equal(pending.oldest(), undefined);
  });
});

describe('LruMap', () => {
  it('evicts the least recently used entry beyond its size', () => {
    const evicted: string[] = [];
    const map = new LruMap<string, number>(2, (key) => evicted.push(key));
    map.set('a', 1);
    map.set('b', 2);
    map.get('a'); // a is now the most recent
    map.set('c', 3);
    assert.deepEqual(evicted, ['b']);
    assert.equal(map.size, 2);
    assert.equal(map.peek('a'), 1);
    assert.equal(map.has('b'), false);
    assert.throws(() => new LruMap(0), RangeError);
  });
});
