/**
 * @module core/clock
 * The time port: "now" and a sleep, injected so login delays, audit timestamps and transfer
 * durations can be driven by a test clock.
 * Must not: hold an implementation beyond the type (the runtime passes Date and setTimeout).
 */

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}
