/**
 * @module net/timeout-sweep
 * One coarse timer for the login and idle timeouts of every control connection of a
 * frontend, instead of a Timeout per connection: each tick asks every member whether its
 * time is up, and each member decides from its own timestamps (a transfer in progress, the
 * last command, the last transfer's end).
 *
 * Why: a Node Timeout with its callback and the closure's context is about 250 bytes of heap
 * per idle session (issue 14: heap snapshot of 1,000 idle sessions), and re-arming it per
 * login or transfer is work too. A tick is a walk over the members, a few comparisons each:
 * 10,000 sessions cost well under a millisecond per second at the default resolution.
 * A timeout never fires early; it fires at most one tick late. The tick is a fraction of the
 * shortest timeout, between MIN_TICK_MS and MAX_TICK_MS. The interval runs (unref'd) only
 * while there are members.
 */

/** A connection with a deadline of its own. */
export interface SweepMember {
  /** Called once per tick with the current time (epoch ms). */
  sweep(now: number): void;
}

/** A timeout fires at most this much after it is due, whatever its length. */
const MAX_TICK_MS = 1000;
const MIN_TICK_MS = 20;
/** Ticks per shortest timeout: a 400 ms login timeout fires within 450 ms. */
const TICKS_PER_TIMEOUT = 8;

/** The tick for timeouts of these lengths (0 = off, ignored). */
export function sweepTickMs(timeoutsMs: readonly number[]): number {
  const shortest = Math.min(...timeoutsMs.filter((ms) => ms > 0), Infinity);
  if (shortest === Infinity) return MAX_TICK_MS;
  return Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(shortest / TICKS_PER_TIMEOUT)));
}

export class TimeoutSweep {
  readonly #tickMs: number;
  readonly #members = new Set<SweepMember>();
  #timer: NodeJS.Timeout | null = null;

  constructor(tickMs: number) {
    this.#tickMs = tickMs;
  }

  get size(): number {
    return this.#members.size;
  }

  add(member: SweepMember): void {
    this.#members.add(member);
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#tick(), this.#tickMs);
    this.#timer.unref();
  }

  delete(member: SweepMember): void {
    this.#members.delete(member);
    if (this.#members.size > 0 || !this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = null;
  }

  #tick(): void {
    const now = Date.now();
    // A member may leave during its own sweep (timed out): deleting while iterating a Set is safe.
    for (const member of this.#members) member.sweep(now);
  }
}
