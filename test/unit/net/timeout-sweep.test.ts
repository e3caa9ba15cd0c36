/**
 * @module test/unit/net/timeout-sweep
 * The shared timer of the control connections' login and idle timeouts: its tick follows the
 * shortest timeout within bounds, every member is asked each tick, and a member that left
 * (closed, or timed out during its own sweep) is not asked again. The timeouts themselves are
 * tested end to end in test/integration/limits and slow-loris.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sweepTickMs, TimeoutSweep, type SweepMember } from '../../../src/net/timeout-sweep.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sweepTickMs', () => {
  it('is an eighth of the shortest timeout that is on, between 20 ms and 1 s', () => {
    assert.equal(sweepTickMs([400, 900_000]), 50);
    assert.equal(sweepTickMs([0, 600]), 75);
    assert.equal(sweepTickMs([60_000, 900_000]), 1000);
    assert.equal(sweepTickMs([40]), 20);
    assert.equal(sweepTickMs([0, 0]), 1000);
  });
});

describe('TimeoutSweep', () => {
  it('asks every member each tick until it leaves; a member may leave during its own sweep', async () => {
    const sweep = new TimeoutSweep(20);
    const seen: string[] = [];
    const steady: SweepMember = { sweep: () => seen.push('steady') };
    const once: SweepMember = {
      sweep: (now) => {
        assert.ok(Math.abs(now - Date.now()) < 1000);
        seen.push('once');
        sweep.delete(once);
      },
    };
    sweep.add(steady);
    sweep.add(once);
    assert.equal(sweep.size, 2);
    await sleep(150);
    assert.equal(seen.filter((s) => s === 'once').length, 1, 'a member that left is not asked again');
    assert.ok(seen.filter((s) => s === 'steady').length >= 2, 'a member is asked every tick');
    assert.equal(sweep.size, 1);
    sweep.delete(steady);
    const asked = seen.length;
    await sleep(80);
    assert.equal(seen.length, asked, 'no member, no sweep');
    assert.equal(sweep.size, 0);
  });
});
