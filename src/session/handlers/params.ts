/**
 * @module session/handlers/params
 * Transfer parameters (RFC 959 §4.1.2): TYPE, MODE, STRU, plus ALLO and OPTS (RFC 2389 §4).
 * Only what works is accepted: TYPE A (non-print) and I, MODE S, STRU F.
 */
import { ReplyCode } from '../../protocol/reply.js';
import { parseMlstOpts } from '../../protocol/listing.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';
import { optsHash } from './hash.js';

function type(ctx: SessionContext, arg: string): void {
  const parts = arg.trim().toUpperCase().split(/\s+/);
  const [code, format] = parts;
  if (parts.length > 2 || code === undefined || code === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'TYPE needs A, I or L 8.');
    return;
  }
  switch (code) {
    case 'A':
      // RFC 959 §3.1.1.5: only the Non-print format is supported.
      if (format === undefined || format === 'N') {
        ctx.state.type = 'A';
        ctx.reply(ReplyCode.Ok, 'Switching to ASCII mode.');
      } else if (format === 'T' || format === 'C') {
        ctx.reply(ReplyCode.ParameterNotImplemented, 'Only the Non-print format is supported.');
      } else {
        ctx.reply(ReplyCode.ArgumentSyntaxError, 'Unknown format.');
      }
      return;
    case 'I':
      if (format !== undefined) {
        ctx.reply(ReplyCode.ArgumentSyntaxError, 'TYPE I takes no format.');
        return;
      }
      ctx.state.type = 'I';
      ctx.reply(ReplyCode.Ok, 'Switching to Binary mode.');
      return;
    case 'L':
      // RFC 959 §3.1.1.4: local byte size 8 is the same as image.
      if (format === '8') {
        ctx.state.type = 'I';
        ctx.reply(ReplyCode.Ok, 'Switching to Binary mode.');
      } else if (format !== undefined && /^\d+$/.test(format)) {
        ctx.reply(ReplyCode.ParameterNotImplemented, 'Only byte size 8 is supported.');
      } else {
        ctx.reply(ReplyCode.ArgumentSyntaxError, 'TYPE L needs a byte size.');
      }
      return;
    case 'E':
      ctx.reply(ReplyCode.ParameterNotImplemented, 'EBCDIC is not supported.');
      return;
    default:
      ctx.reply(ReplyCode.ArgumentSyntaxError, 'Unknown TYPE.');
  }
}

function mode(ctx: SessionContext, arg: string): void {
  const value = arg.trim().toUpperCase();
  if (value === 'S') ctx.reply(ReplyCode.Ok, 'Mode set to S.');
  else if (value === 'B' || value === 'C' || value === 'Z') ctx.reply(ReplyCode.ParameterNotImplemented, 'Only stream mode is supported.');
  else ctx.reply(ReplyCode.ArgumentSyntaxError, 'Unknown MODE.');
}

function stru(ctx: SessionContext, arg: string): void {
  const value = arg.trim().toUpperCase();
  if (value === 'F') ctx.reply(ReplyCode.Ok, 'Structure set to F.');
  else if (value === 'R' || value === 'P') ctx.reply(ReplyCode.ParameterNotImplemented, 'Only file structure is supported.');
  else ctx.reply(ReplyCode.ArgumentSyntaxError, 'Unknown STRU.');
}

function allo(ctx: SessionContext): void {
  // RFC 959 §4.1.3: servers that need no allocation treat ALLO as NOOP (202).
  ctx.reply(ReplyCode.NotImplementedSuperfluous, 'No storage allocation necessary.');
}

function opts(ctx: SessionContext, arg: string): void {
  const space = arg.indexOf(' ');
  const name = (space === -1 ? arg : arg.slice(0, space)).toUpperCase();
  const value = space === -1 ? '' : arg.slice(space + 1).trim();
  if (name === 'UTF8' || name === 'UTF-8') {
    // RFC 2640 §3.1: paths are always UTF-8 here, so ON and OFF are both accepted.
    const v = value.toUpperCase();
    if (v === 'ON' || v === '' || v === 'OFF') ctx.reply(ReplyCode.Ok, 'Always in UTF8 mode.');
    else ctx.reply(ReplyCode.ArgumentSyntaxError, 'OPTS UTF8 takes ON or OFF.');
    return;
  }
  if (name === 'HASH') {
    optsHash(ctx, value);
    return;
  }
  if (name === 'MLST') {
    // RFC 3659 §7.9: reply with the facts now selected.
    ctx.state.mlstFacts = parseMlstOpts(value);
    const list = [...ctx.state.mlstFacts].map((f) => `${f};`).join('');
    ctx.reply(ReplyCode.Ok, `MLST OPTS ${list}`);
    return;
  }
  ctx.reply(ReplyCode.ArgumentSyntaxError, 'Option not understood.');
}

export const PARAM_COMMANDS: readonly CommandSpec[] = [
  { verb: 'TYPE', requiresLogin: true, syntax: 'TYPE <A|I|L 8>', handle: type },
  { verb: 'MODE', requiresLogin: true, syntax: 'MODE S', handle: mode },
  { verb: 'STRU', requiresLogin: true, syntax: 'STRU F', handle: stru },
  { verb: 'ALLO', requiresLogin: true, syntax: 'ALLO <bytes>', handle: allo },
  // RFC 2640 §3.3: UTF-8 path names, switched on with OPTS UTF8 ON.
  { verb: 'OPTS', requiresLogin: false, syntax: 'OPTS <UTF8 ON|MLST facts|HASH algorithm>', feat: 'UTF8', handle: opts },
];
