/**
 * @module session/command-spec
 * The shape of one verb's entry in the command table: dispatch, login requirement,
 * HELP syntax and the FEAT line all come from here.
 */
import type { SessionContext } from './context.js';

export interface CommandSpec {
  /** Upper-case verb as in the RFC. */
  readonly verb: string;
  /** 530 when called before login. */
  readonly requiresLogin: boolean;
  /** Syntax shown by HELP <verb>. */
  readonly syntax: string;
  /** Runs while a transfer is in progress instead of waiting for it (ABOR, STAT, NOOP). */
  readonly duringTransfer?: boolean;
  /** Keeps a pending RNFR alive (RFC 959 §4.1.3: RNTO must follow RNFR immediately). */
  readonly keepsRename?: boolean;
  /** Keeps a pending RANG for the next HASH (draft-bryan-ftp-range: any other command clears it). */
  readonly keepsRange?: boolean;
  readonly handle: (ctx: SessionContext, arg: string) => Promise<void> | void;
}
