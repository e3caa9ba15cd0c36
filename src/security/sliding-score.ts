/**
 * @module security/sliding-score
 * Owns the "score within the observation window" arithmetic in O(1) memory per address: two
 * fixed windows (the current and the previous one) with the previous weighted by how much of
 * it still overlaps the sliding window (the estimate rate limiters such as Cloudflare's use).
 * Keeping every event's timestamp instead would let one address cost unbounded memory.
 */
export interface SlidingScore {
  /** Start of the current fixed window (epoch ms). */
  windowStart: number;
  current: number;
  previous: number;
}

export function newSlidingScore(now: number): SlidingScore {
  return { windowStart: now, current: 0, previous: 0 };
}

/** Moves the fixed windows forward to contain `now`. */
function roll(score: SlidingScore, now: number, windowMs: number): void {
  const elapsed = now - score.windowStart;
  if (elapsed < windowMs) return;
  if (elapsed < 2 * windowMs) {
    score.previous = score.current;
    score.windowStart += windowMs;
  } else {
    score.previous = 0;
    score.windowStart = now;
  }
  score.current = 0;
}

/** The score of the last `windowMs` as of `now`. */
export function scoreAt(score: SlidingScore, now: number, windowMs: number): number {
  roll(score, now, windowMs);
  const overlap = 1 - Math.min(1, Math.max(0, now - score.windowStart) / windowMs);
  return score.current + score.previous * overlap;
}

/** Adds `points` at `now` and returns the new windowed score. */
export function addScore(score: SlidingScore, points: number, now: number, windowMs: number): number {
  roll(score, now, windowMs);
  score.current += points;
  return scoreAt(score, now, windowMs);
}
