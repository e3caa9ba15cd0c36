/**
 * @module ftp/admitted-control
 * One admitted FTP control connection as the frontend keeps it: what admission may dismiss
 * (with a 421), the admission slot told of logins, and the bookkeeping when it closes (the
 * frontend's set of open connections, the slot, the session.close log line).
 *
 * Why an object with methods: these were a dismiss closure, two wrappers and an onClosed
 * closure over the frontend's locals, each with its context, held by every idle session
 * (issue 14: heap snapshot of 1,000 idle sessions). This is one object.
 */
import type { ConnectionWatcher, ControlConnection } from '../net/control-connection.js';
import { ReplyCode } from '../protocol/reply.js';
import type { AdmissionSlot, AdmittedConnection, DismissReason } from '../runtime/admission.js';

const DISMISS_TEXT: Record<DismissReason, string> = {
  evicted: 'Too many connections waiting to log in, closing control connection.',
  banned: 'Too many failed attempts from your address, closing control connection.',
};

export class AdmittedControl implements AdmittedConnection, ConnectionWatcher {
  readonly remoteAddress: string;
  /** Set once admitted. */
  slot: AdmissionSlot | null = null;
  /** Set once the connection is built (after admission). */
  control: ControlConnection | null = null;
  readonly #open: Set<ControlConnection>;
  readonly #openedAt = Date.now();

  /** `open`: the frontend's open connections, this one added there by the frontend and removed here. */
  constructor(remoteAddress: string, open: Set<ControlConnection>) {
    this.remoteAddress = remoteAddress;
    this.#open = open;
  }

  dismiss(reason: DismissReason): void {
    this.control?.closeWith(ReplyCode.ServiceNotAvailable, DISMISS_TEXT[reason]);
  }

  loginChanged(loggedIn: boolean): void {
    this.slot?.loginChanged(loggedIn);
  }

  closed(): void {
    const control = this.control;
    if (control) this.#open.delete(control);
    this.slot?.leave();
    control?.logger.info({ event: 'session.close', user: control.user(), durationMs: Date.now() - this.#openedAt }, 'session closed');
  }
}
