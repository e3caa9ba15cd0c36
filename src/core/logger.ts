/**
 * @module core/logger
 * The logging port every layer writes through: the subset of pino's logger the code uses
 * (observability/logger.ts builds the real one). Protocol-neutral: sessions of any frontend,
 * the runtime, security and cluster code log through it.
 * Must not: hold an implementation (that is observability/).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): Logger;
  /** pino's: lets a wrapper skip building a record nobody writes. Absent: every level is on. */
  isLevelEnabled?(level: LogLevel): boolean;
}
