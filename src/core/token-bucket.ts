/**
 * @module core/token-bucket
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. Used to pace the
 * commands of one session (limits.commandsPerSecond): a command that finds the bucket empty
 * waits for its token instead of being dropped. Time is passed in, so it is pure and testable.
 */

export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  /** `ratePerSecond` <= 0 disables the bucket (every take() is free). */
  constructor(ratePerSecond: number, burst: number, nowMs: number) {
    this.#rate = ratePerSecond;
    this.#burst = Math.max(1, burst);
    this.#tokens = this.#burst;
    this.#last = nowMs;
  }

  /**
   * Takes one token and returns how long (ms) the caller must wait before acting: 0 when a
   * token was available. Waiting callers reserve future tokens, so a flood is paced at exactly
   * the configured rate.
   */
  take(nowMs: number): number {
    if (this.#rate <= 0) return 0;
    const elapsed = Math.max(0, nowMs - this.#last);
    this.#last = nowMs;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed * this.#rate) / 1000);
    this.#tokens -= 1;
    if (this.#tokens >= 0) return 0;
    return Math.ceil((-this.#tokens * 1000) / this.#rate);
  }
}
