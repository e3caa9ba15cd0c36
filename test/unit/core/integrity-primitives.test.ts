/**
 * @module test/unit/core/integrity-primitives
 * CRC-32 (native and table implementations agree, incrementally too), the semaphore that
 * bounds concurrent hashing, and the token bucket that paces commands.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Crc32, crc32, crc32Table } from '../../../src/core/crc32.js';
import { Semaphore } from '../../../src/core/semaphore.js';
import { TokenBucket } from '../../../src/core/token-bucket.js';

describe('core/crc32', () => {
  it('matches the standard check value and known vectors', () => {
    // The CRC-32/ISO-HDLC check value of "123456789".
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.alloc(0)), 0);
    assert.equal(crc32Table(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  });

  it('the table implementation equals the runtime one on random data, in any split', () => {
    for (let i = 0; i < 20; i++) {
      const data = randomBytes(1 + Math.floor(Math.random() * 5000));
      const cut = Math.floor(Math.random() * data.length);
      const whole = crc32(data);
      assert.equal(crc32Table(data), whole);
      assert.equal(crc32Table(data.subarray(cut), crc32Table(data.subarray(0, cut))), whole);
      const incremental = new Crc32().update(data.subarray(0, cut)).update(data.subarray(cut));
      assert.equal(incremental.value(), whole);
      assert.equal(incremental.digestHex(), whole.toString(16).toUpperCase().padStart(8, '0'));
    }
  });
});

describe('core/semaphore', () => {
  it('admits up to the limit, then in arrival order; an aborted waiter never takes a slot', async () => {
    const semaphore = new Semaphore(2);
    const a = await semaphore.acquire();
    const b = await semaphore.acquire();
    const order: string[] = [];
    const controller = new AbortController();
    const c = semaphore.acquire().then((release) => {
      order.push('c');
      return release;
    });
    const aborted = semaphore.acquire(controller.signal).catch(() => 'aborted');
    const d = semaphore.acquire().then((release) => {
      order.push('d');
      return release;
    });
    assert.equal(semaphore.waiting, 3);
    controller.abort(new Error('ABOR'));
    assert.equal(await aborted, 'aborted');
    a();
    a(); // idempotent
    (await c)();
    b();
    (await d)();
    assert.deepEqual(order, ['c', 'd']);
    assert.equal(semaphore.active, 0);
  });

  it('limit 0 is unlimited', async () => {
    const semaphore = new Semaphore(0);
    await Promise.all(Array.from({ length: 50 }, () => semaphore.acquire()));
    assert.equal(semaphore.active, 50);
  });
});

describe('core/token-bucket', () => {
  it('a burst is free, then commands wait 1/rate each (paced, never refused)', () => {
    const bucket = new TokenBucket(10, 3, 0);
    assert.deepEqual([bucket.take(0), bucket.take(0), bucket.take(0)], [0, 0, 0]);
    assert.equal(bucket.take(0), 100);
    assert.equal(bucket.take(0), 200);
    // After a second of silence the bucket is full again (capped at the burst).
    assert.equal(bucket.take(10_000), 0);
    assert.equal(bucket.take(10_000), 0);
    assert.equal(bucket.take(10_000), 0);
    assert.equal(bucket.take(10_000), 100);
  });

  it('rate 0 disables it', () => {
    const bucket = new TokenBucket(0, 1, 0);
    for (let i = 0; i < 1000; i++) assert.equal(bucket.take(0), 0);
  });
});
