/**
 * @module session/handlers/misc
 * NOOP and SYST (RFC 959 §4.1.3). FEAT and HELP, which describe the whole command table, are
 * in introspection.ts.
 */
import { ReplyCode } from '../../protocol/reply.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';

function noop(ctx: SessionContext): void {
  ctx.reply(ReplyCode.Ok, 'NOOP ok.');
}

function syst(ctx: SessionContext): void {
  // The de-facto answer clients use to pick the LIST parser (RFC 959 §4.1.3, Assigned Numbers).
  ctx.reply(ReplyCode.SystemType, 'UNIX Type: L8');
}

export const MISC_COMMANDS: readonly CommandSpec[] = [
  { verb: 'NOOP', requiresLogin: false, syntax: 'NOOP', duringTransfer: true, keepsRename: true, handle: noop },
  { verb: 'SYST', requiresLogin: false, syntax: 'SYST', handle: syst },
];
