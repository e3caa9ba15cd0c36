/**
 * @module session/handlers/misc
 * NOOP, SYST, HELP (RFC 959 §4.1.3) and FEAT (RFC 2389 §3). FEAT and HELP are generated from
 * the command table, so they advertise exactly what is implemented and enabled.
 */
import { formatMlstFeat } from '../../protocol/listing.js';
import { ReplyCode } from '../../protocol/reply.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';
import { COMMANDS } from '../command-table.js';
import { hashFeatLine } from './hash.js';

function noop(ctx: SessionContext): void {
  ctx.reply(ReplyCode.Ok, 'NOOP ok.');
}

function syst(ctx: SessionContext): void {
  // The de-facto answer clients use to pick the LIST parser (RFC 959 §4.1.3, Assigned Numbers).
  ctx.reply(ReplyCode.SystemType, 'UNIX Type: L8');
}

export function featureLines(ctx: SessionContext): string[] {
  const tls = ctx.deps.tls.available;
  const lines = [
    // RFC 4217 §6: AUTH TLS, PBSZ and PROT when TLS can be negotiated.
    ...(tls ? ['AUTH TLS', 'PBSZ', 'PROT'] : []),
    ...(tls && ctx.deps.settings.cccEnabled ? ['CCC'] : []),
    // RFC 2428 EPRT only when active mode can actually be used.
    ...(ctx.deps.settings.activeEnabled ? ['EPRT'] : []),
    'EPSV',
    // draft-bryan-ftpext-hash-02 §3.1; RANG applies to HASH only, so no "RANG STREAM".
    hashFeatLine(ctx),
    'HOST',
    'MDTM',
    'MFMT',
    `MLST ${formatMlstFeat(ctx.state.mlstFacts)}`,
    'REST STREAM',
    'SIZE',
    'TVFS',
    'UTF8',
  ];
  return lines.map((line) => ` ${line}`);
}

function feat(ctx: SessionContext): void {
  // RFC 2389 §3.2: each feature line starts with a space.
  ctx.reply(ReplyCode.SystemStatus, ['Features:', ...featureLines(ctx), 'End']);
}

function help(ctx: SessionContext, arg: string): void {
  const verb = arg.trim().toUpperCase();
  if (verb !== '') {
    const spec = COMMANDS.get(verb);
    if (!spec || !isEnabled(ctx, spec)) {
      ctx.reply(ReplyCode.ArgumentSyntaxError, `Unknown command ${verb}.`);
      return;
    }
    ctx.reply(ReplyCode.HelpMessage, `Syntax: ${spec.syntax}`);
    return;
  }
  const verbs = [...COMMANDS.values()].filter((spec) => isEnabled(ctx, spec)).map((spec) => spec.verb).sort();
  const rows: string[] = [];
  for (let i = 0; i < verbs.length; i += 8) rows.push(` ${verbs.slice(i, i + 8).map((v) => v.padEnd(5)).join(' ')}`);
  ctx.reply(ReplyCode.HelpMessage, ['The following commands are recognized:', ...rows, 'Help OK.']);
}

const ACTIVE_VERBS = new Set(['PORT', 'EPRT']);
const TLS_VERBS = new Set(['AUTH', 'PBSZ', 'PROT']);

function isEnabled(ctx: SessionContext, spec: CommandSpec): boolean {
  if (ACTIVE_VERBS.has(spec.verb)) return ctx.deps.settings.activeEnabled;
  if (spec.verb === 'CCC') return ctx.deps.tls.available && ctx.deps.settings.cccEnabled;
  if (TLS_VERBS.has(spec.verb)) return ctx.deps.tls.available;
  return true;
}

export const MISC_COMMANDS: readonly CommandSpec[] = [
  { verb: 'NOOP', requiresLogin: false, syntax: 'NOOP', duringTransfer: true, keepsRename: true, handle: noop },
  { verb: 'SYST', requiresLogin: false, syntax: 'SYST', handle: syst },
  { verb: 'FEAT', requiresLogin: false, syntax: 'FEAT', handle: feat },
  { verb: 'HELP', requiresLogin: false, syntax: 'HELP [command]', handle: help },
];
