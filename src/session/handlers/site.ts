/**
 * @module session/handlers/site
 * SITE (RFC 959 §4.1.3, "services specific to his system"): SITE CHMOD <octal> <path>, what
 * FileZilla's "File permissions", lftp's `chmod` and `curl -Q "SITE CHMOD 644 f"` send, through
 * the file service (permission "chmod", the storage's modes: the same rule as SFTP SETSTAT);
 * SITE HELP lists the subcommands. Any other subcommand gets 500, as vsftpd and ProFTPD answer.
 */
import { parseCommand } from '../../protocol/command.js';
import { ReplyCode } from '../../protocol/reply.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';

/** An octal mode as chmod(1) takes it: up to four digits. */
const OCTAL_MODE = /^[0-7]{1,4}$/;

function splitFirst(text: string): [string, string] {
  const space = text.indexOf(' ');
  return space === -1 ? [text, ''] : [text.slice(0, space), text.slice(space + 1)];
}

async function chmod(ctx: SessionContext, rest: string): Promise<void> {
  const [modeText, target] = splitFirst(rest);
  if (!OCTAL_MODE.test(modeText) || target === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'SITE CHMOD needs an octal mode and a path.');
    return;
  }
  const files = ctx.files();
  if (!files.canSetMode) {
    ctx.reply(ReplyCode.ParameterNotImplemented, 'SITE CHMOD is not available on this storage.');
    return;
  }
  const path = ctx.resolvePath(target);
  if (path === null) return;
  const applied = await files.setMode(path, Number.parseInt(modeText, 8));
  ctx.log.info({ event: 'file.chmod', path, mode: applied.toString(8) }, 'mode changed');
  ctx.reply(ReplyCode.Ok, `SITE CHMOD command ok: mode 0${applied.toString(8).padStart(3, '0')}.`);
}

async function site(ctx: SessionContext, arg: string): Promise<void> {
  // "SITE <subcommand> SP <arg>" is a command line of its own (RFC 959 §5.3 syntax).
  const sub = parseCommand(arg.trim());
  switch (sub?.verb ?? '') {
    case 'CHMOD':
      await chmod(ctx, sub?.arg ?? '');
      return;
    case 'HELP':
      ctx.reply(ReplyCode.HelpMessage, ['SITE commands recognized:', ' CHMOD <octal mode> <path>', ' HELP', 'Help OK.']);
      return;
    case '':
      ctx.reply(ReplyCode.ArgumentSyntaxError, 'SITE needs a command (SITE HELP lists them).');
      return;
    default:
      ctx.reply(ReplyCode.SyntaxError, 'Unknown SITE command.');
  }
}

export const SITE_COMMANDS: readonly CommandSpec[] = [{ verb: 'SITE', requiresLogin: true, syntax: 'SITE <CHMOD <octal mode> <path> | HELP>', handle: site }];
