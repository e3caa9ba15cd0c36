/**
 * @module core/bound-logger
 * A logger with bindings (session, remote address, user) that writes through its parent with
 * the bindings merged into each record, instead of a pino child per session.
 *
 * Why: a pino child holds its serialised bindings, a formatter table and bound methods, about
 * 350 bytes of heap, and a session had two (one opened with the connection, one at login):
 * a share of every idle session's memory (issue 14: heap snapshot of 1,000 idle sessions).
 * This one holds its parent and one bindings object. A record costs one object spread, and
 * only at an enabled level, which for a session is a handful of lines. The JSON written is the
 * same: pino puts a child's bindings first, and so does the merge (a key of the record wins
 * over a binding of the same name rather than being written twice).
 * Must not: hold a destination or format anything itself (the root logger does).
 */
import type { Logger, LogLevel } from './logger.js';

export class BoundLogger implements Logger {
  readonly #parent: Logger;
  readonly #bindings: object;

  constructor(parent: Logger, bindings: object) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  isLevelEnabled(level: LogLevel): boolean {
    return this.#parent.isLevelEnabled?.(level) ?? true;
  }

  debug(obj: object, msg?: string): void {
    if (this.isLevelEnabled('debug')) this.#parent.debug({ ...this.#bindings, ...obj }, msg);
  }

  info(obj: object, msg?: string): void {
    if (this.isLevelEnabled('info')) this.#parent.info({ ...this.#bindings, ...obj }, msg);
  }

  warn(obj: object, msg?: string): void {
    if (this.isLevelEnabled('warn')) this.#parent.warn({ ...this.#bindings, ...obj }, msg);
  }

  error(obj: object, msg?: string): void {
    if (this.isLevelEnabled('error')) this.#parent.error({ ...this.#bindings, ...obj }, msg);
  }

  child(bindings: object): Logger {
    return new BoundLogger(this.#parent, { ...this.#bindings, ...bindings });
  }
}

/** A session's logger: `parent` with `bindings` on every record (see BoundLogger). */
export function bindLogger(parent: Logger, bindings: object): Logger {
  return parent instanceof BoundLogger ? parent.child(bindings) : new BoundLogger(parent, bindings);
}
