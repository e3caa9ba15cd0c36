/**
 * @module test/unit/session/pump-handoff.test
 * session/pump's hand-off (an upload past its first MiB offered to the native receiver): the
 * offer comes once, after the given bytes, with the pump's own 'data' listener off; taken,
 * the pump resolves 'handed-off' with every byte so far written and the destination not
 * ended; refused, it goes on to the end with every byte. A mock stands below the real-socket
 * tests of the same path (test/integration/native-uploads.test.ts).
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { pump } from '../../../src/session/pump.js';
import { memorySink } from '../../helpers/integration.js';

describe('pump hand-off', () => {
  it('offers the rest once, after the given bytes, with its own listener off; taken, it resolves without ending the destination', async () => {
    const source = new PassThrough();
    const dest = memorySink();
    const moved = { bytes: 0 };
    const offers: number[] = [];
    const done = pump(source, dest.stream, new AbortController().signal, moved, {
      after: 10,
      take: () => {
        offers.push(source.listenerCount('data'));
        return true;
      },
    });
    source.write(Buffer.alloc(6, 1));
    source.write(Buffer.alloc(6, 2));
    assert.equal(await done, 'handed-off');
    assert.deepEqual(offers, [0], 'one offer, with no data listener of the pump');
    assert.equal(moved.bytes, 12);
    assert.equal(dest.data().length, 12, 'the chunk that crossed the mark is written too');
    assert.equal(dest.stream.writableEnded, false, 'the destination stays open for the rest');
  });

  it('refused, it streams on to the end with every byte, and offers no second time', async () => {
    const source = new PassThrough();
    const dest = memorySink();
    let offers = 0;
    const done = pump(source, dest.stream, new AbortController().signal, undefined, {
      after: 4,
      take: () => {
        offers++;
        return false;
      },
    });
    for (let i = 0; i < 5; i++) source.write(Buffer.alloc(3, i));
    source.end();
    assert.equal(await done, 'ended');
    assert.equal(offers, 1);
    assert.equal(dest.data().length, 15);
  });

  it('a source that ends before the mark is never offered', async () => {
    const source = new PassThrough();
    const dest = memorySink();
    const done = pump(source, dest.stream, new AbortController().signal, undefined, {
      after: 100,
      take: () => assert.fail('offered'),
    });
    source.end(Buffer.alloc(99));
    assert.equal(await done, 'ended');
    assert.equal(dest.data().length, 99);
  });
});
