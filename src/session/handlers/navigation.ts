/**
 * @module session/handlers/navigation
 * PWD, CWD, CDUP and their RFC 775 X-aliases (XPWD, XCWD, XCUP).
 */
import { ReplyCode } from '../../protocol/reply.js';
import { parentPath, quotePath } from '../../protocol/virtual-path.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';

function pwd(ctx: SessionContext): void {
  // RFC 959 Appendix II: the path is quoted, embedded quotes doubled.
  ctx.reply(ReplyCode.PathCreated, `${quotePath(ctx.state.cwd)} is the current directory.`);
}

async function changeTo(ctx: SessionContext, path: string): Promise<void> {
  const entry = await ctx.user().storage.stat(path);
  if (entry.type !== 'directory') {
    ctx.reply(ReplyCode.FileUnavailable, 'Not a directory.');
    return;
  }
  ctx.state.cwd = path;
  ctx.reply(ReplyCode.FileActionOk, 'Directory successfully changed.');
}

async function cwd(ctx: SessionContext, arg: string): Promise<void> {
  if (arg === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'CWD needs a directory.');
    return;
  }
  const path = ctx.resolvePath(arg);
  if (path !== null) await changeTo(ctx, path);
}

async function cdup(ctx: SessionContext): Promise<void> {
  await changeTo(ctx, parentPath(ctx.state.cwd));
}

const pwdSpec = { requiresLogin: true, syntax: 'PWD', handle: pwd } as const;
const cwdSpec = { requiresLogin: true, syntax: 'CWD <path>', handle: cwd } as const;
const cdupSpec = { requiresLogin: true, syntax: 'CDUP', handle: cdup } as const;

export const NAVIGATION_COMMANDS: readonly CommandSpec[] = [
  { verb: 'PWD', ...pwdSpec },
  { verb: 'XPWD', ...pwdSpec },
  // RFC 3659 §6: paths are one Unix-like tree, "/"-separated, rooted at the user's home.
  { verb: 'CWD', ...cwdSpec, feat: 'TVFS' },
  { verb: 'XCWD', ...cwdSpec },
  { verb: 'CDUP', ...cdupSpec },
  { verb: 'XCUP', ...cdupSpec },
];
