/**
 * @module session/handlers/introspection
 * HELP (RFC 959 §4.1.3) and FEAT (RFC 2389 §3), generated from the command table: HELP lists
 * the verbs offered in this session, FEAT the lines their specs declare (`enabled`, `feat` in
 * command-spec.ts), so both advertise exactly what is implemented, enabled and supported by
 * the storage adapter. The table is passed in by command-table.ts, which builds these two
 * entries last: nothing here imports the table, so there is no import cycle.
 */
import { ReplyCode } from '../../protocol/reply.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';

/** The verb is offered in this session (HELP, FEAT). */
export function isOffered(ctx: SessionContext, spec: CommandSpec): boolean {
  return spec.enabled === undefined || spec.enabled(ctx);
}

/**
 * The FEAT feature lines, each with its leading space (RFC 2389 §3.2), sorted (the RFC gives
 * the order no meaning) and without duplicates (aliases such as XCWD share their spec).
 */
export function featureLines(commands: ReadonlyMap<string, CommandSpec>, ctx: SessionContext): string[] {
  const lines = new Set<string>();
  for (const spec of commands.values()) {
    if (spec.feat === undefined || !isOffered(ctx, spec)) continue;
    const line = typeof spec.feat === 'string' ? spec.feat : spec.feat(ctx);
    if (line !== undefined) lines.add(line);
  }
  return [...lines].sort().map((line) => ` ${line}`);
}

/** The FEAT and HELP entries of `commands` (the table they are added to). */
export function introspectionCommands(commands: ReadonlyMap<string, CommandSpec>): CommandSpec[] {
  const feat = (ctx: SessionContext): void => {
    ctx.reply(ReplyCode.SystemStatus, ['Features:', ...featureLines(commands, ctx), 'End']);
  };
  const help = (ctx: SessionContext, arg: string): void => {
    const verb = arg.trim().toUpperCase();
    if (verb !== '') {
      const spec = commands.get(verb);
      if (!spec || !isOffered(ctx, spec)) {
        ctx.reply(ReplyCode.ArgumentSyntaxError, `Unknown command ${verb}.`);
        return;
      }
      ctx.reply(ReplyCode.HelpMessage, `Syntax: ${spec.syntax}`);
      return;
    }
    const verbs = [...commands.values()].filter((spec) => isOffered(ctx, spec)).map((spec) => spec.verb).sort();
    const rows: string[] = [];
    for (let i = 0; i < verbs.length; i += 8) rows.push(` ${verbs.slice(i, i + 8).map((v) => v.padEnd(5)).join(' ')}`);
    ctx.reply(ReplyCode.HelpMessage, ['The following commands are recognized:', ...rows, 'Help OK.']);
  };
  return [
    { verb: 'FEAT', requiresLogin: false, syntax: 'FEAT', handle: feat },
    { verb: 'HELP', requiresLogin: false, syntax: 'HELP [command]', handle: help },
  ];
}
