/**
 * @module session/file-events
 * Where a logged-in FTP session's UserFiles reports (files/user-files FileEventSink): refusals
 * to the session's log, changes to its audit trail. One object holding the session, with
 * methods, and one clock reading shared by every session of a clock.
 *
 * Why: these were two arrow functions and a clock closure per session, held for as long as
 * the session is logged in, idle or not (issue 14: heap snapshot of 1,000 idle sessions).
 */
import type { Clock } from '../core/clock.js';
import type { FileEventDetail, FileEventName, FileEventSink } from '../files/user-files.js';
import { audit } from './audit.js';
import type { SessionContext } from './context.js';

export class SessionFileEvents implements FileEventSink {
  readonly #session: SessionContext;

  constructor(session: SessionContext) {
    this.#session = session;
  }

  refused(event: 'permission.denied' | 'path.refused', detail: Record<string, unknown>): void {
    this.#session.log.warn({ event, ...detail }, event === 'path.refused' ? 'path beyond limits refused' : 'permission denied');
  }

  changed(event: FileEventName, result: 'success' | 'failure', detail: FileEventDetail): void {
    audit(this.#session, event, result, detail);
  }
}

const readers = new WeakMap<Clock, () => number>();

/** `clock`'s time in epoch ms, as one function per clock (not one per session). */
export function epochMsOf(clock: Clock): () => number {
  let read = readers.get(clock);
  if (!read) {
    read = () => clock.now().getTime();
    readers.set(clock, read);
  }
  return read;
}
