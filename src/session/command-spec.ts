/**
 * @module session/command-spec
 * The shape of one verb's entry in the command table: dispatch, login requirement,
 * HELP syntax, whether the verb is offered, and its FEAT line all come from here.
 */
import type { SessionContext } from './context.js';

export interface CommandSpec {
  /** Upper-case verb as in the RFC. */
  readonly verb: string;
  /** 530 when called before login. */
  readonly requiresLogin: boolean;
  /** Syntax shown by HELP <verb>. */
  readonly syntax: string;
  /**
   * Offered in this session (HELP lists it, FEAT advertises its line): false when the verb
   * depends on something off here (active mode, TLS, a storage capability). Absent: always.
   * Dispatch does not read it; each handler refuses with its own reply.
   */
  readonly enabled?: (ctx: SessionContext) => boolean;
  /**
   * The verb's FEAT line (RFC 2389 §3.2, without the leading space), when the verb is an
   * extension a client discovers through FEAT; a function for lines that depend on the
   * session (OPTS selections, storage capabilities) and may return undefined to advertise
   * nothing.
   */
  readonly feat?: string | ((ctx: SessionContext) => string | undefined);
  /** Runs while a transfer is in progress instead of waiting for it (ABOR, STAT, NOOP). */
  readonly duringTransfer?: boolean;
  /** Keeps a pending RNFR alive (RFC 959 §4.1.3: RNTO must follow RNFR immediately). */
  readonly keepsRename?: boolean;
  /** Keeps a pending RANG for the next HASH (draft-bryan-ftp-range: any other command clears it). */
  readonly keepsRange?: boolean;
  readonly handle: (ctx: SessionContext, arg: string) => Promise<void> | void;
}
