/**
 * @module session/handlers/files
 * File and directory management: MKD/XMKD, RMD/XRMD, DELE, RNFR/RNTO (RFC 959 §4.1.3),
 * SIZE and MDTM (RFC 3659 §3, §4), MFMT (draft-somers-ftp-mfxx).
 */
import { formatTimeVal, parseTimeVal } from '../../protocol/listing.js';
import { ReplyCode } from '../../protocol/reply.js';
import { quotePath } from '../../protocol/virtual-path.js';
import { StorageError } from '../../storage/errors.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';
import { storageCapabilities } from '../capabilities.js';

function requireArg(ctx: SessionContext, arg: string, verb: string): boolean {
  if (arg !== '') return true;
  ctx.reply(ReplyCode.ArgumentSyntaxError, `${verb} needs a path.`);
  return false;
}

async function mkd(ctx: SessionContext, arg: string): Promise<void> {
  if (!requireArg(ctx, arg, 'MKD')) return;
  const path = ctx.resolvePath(arg);
  if (path === null) return;
  try {
    await ctx.files().makeDirectory(path);
  } catch (error) {
    if (error instanceof StorageError && error.code === 'ALREADY_EXISTS') {
      ctx.reply(ReplyCode.FileUnavailable, 'Directory already exists.');
      return;
    }
    throw error;
  }
  ctx.log.info({ event: 'file.mkdir', path }, 'directory created');
  // RFC 959 Appendix II: 257 with the quoted absolute path.
  ctx.reply(ReplyCode.PathCreated, `${quotePath(path)} created.`);
}

async function rmd(ctx: SessionContext, arg: string): Promise<void> {
  if (!requireArg(ctx, arg, 'RMD')) return;
  const path = ctx.resolvePath(arg);
  if (path === null) return;
  await ctx.files().removeDirectory(path);
  ctx.log.info({ event: 'file.rmdir', path }, 'directory removed');
  ctx.reply(ReplyCode.FileActionOk, 'Directory removed.');
}

async function dele(ctx: SessionContext, arg: string): Promise<void> {
  if (!requireArg(ctx, arg, 'DELE')) return;
  const path = ctx.resolvePath(arg);
  if (path === null) return;
  await ctx.files().remove(path);
  ctx.log.info({ event: 'file.delete', path }, 'file deleted');
  ctx.reply(ReplyCode.FileActionOk, 'File deleted.');
}

async function rnfr(ctx: SessionContext, arg: string): Promise<void> {
  if (!requireArg(ctx, arg, 'RNFR')) return;
  const path = ctx.resolvePath(arg);
  if (path === null) return;
  await ctx.files().checkRenameSource(path);
  ctx.state.renameFrom = path;
  ctx.reply(ReplyCode.PendingFurtherInfo, 'Ready for RNTO.');
}

async function rnto(ctx: SessionContext, arg: string): Promise<void> {
  const from = ctx.state.renameFrom;
  ctx.state.renameFrom = null;
  if (from === null) {
    ctx.reply(ReplyCode.BadSequence, 'RNFR required first.');
    return;
  }
  if (!requireArg(ctx, arg, 'RNTO')) return;
  const to = ctx.resolvePath(arg);
  if (to === null) return;
  // RFC 959 RNTO replaces an existing file (with the overwrite permission).
  await ctx.files().rename(from, to);
  ctx.log.info({ event: 'file.rename', from, to }, 'renamed');
  ctx.reply(ReplyCode.FileActionOk, 'Rename successful.');
}

async function statFile(ctx: SessionContext, arg: string, verb: string) {
  if (!requireArg(ctx, arg, verb)) return null;
  const path = ctx.resolvePath(arg);
  if (path === null) return null;
  const entry = await ctx.user().storage.stat(path);
  if (entry.type === 'directory') {
    ctx.reply(ReplyCode.FileUnavailable, 'Not a plain file.');
    return null;
  }
  return { path, entry };
}

async function size(ctx: SessionContext, arg: string): Promise<void> {
  const found = await statFile(ctx, arg, 'SIZE');
  // The stored size in both TYPE I and TYPE A, as vsftpd and pure-ftpd answer; computing the
  // ASCII size would need a full read of the file (RFC 3659 §4.1 allows refusing instead).
  if (found) ctx.reply(ReplyCode.FileStatus, String(found.entry.size));
}

async function mdtm(ctx: SessionContext, arg: string): Promise<void> {
  const found = await statFile(ctx, arg, 'MDTM');
  if (found) ctx.reply(ReplyCode.FileStatus, formatTimeVal(found.entry.modifiedAt));
}

async function mfmt(ctx: SessionContext, arg: string): Promise<void> {
  const space = arg.indexOf(' ');
  const time = space === -1 ? null : parseTimeVal(arg.slice(0, space));
  if (space === -1 || time === null || arg.slice(space + 1) === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'MFMT needs YYYYMMDDHHMMSS and a path.');
    return;
  }
  const path = ctx.resolvePath(arg.slice(space + 1));
  if (path === null) return;
  await ctx.files().setModifiedTime(path, time);
  ctx.reply(ReplyCode.FileStatus, `Modify=${formatTimeVal(time)}; ${arg.slice(space + 1)}`);
}

// Offered only when the storage adapter declares it can (StorageCapabilities).
const canRename = (ctx: SessionContext): boolean => storageCapabilities(ctx).rename !== 'none';
const canSetModifiedTime = (ctx: SessionContext): boolean => storageCapabilities(ctx).setModifiedTime;

export const FILE_COMMANDS: readonly CommandSpec[] = [
  { verb: 'MKD', requiresLogin: true, syntax: 'MKD <path>', handle: mkd },
  { verb: 'XMKD', requiresLogin: true, syntax: 'XMKD <path>', handle: mkd },
  { verb: 'RMD', requiresLogin: true, syntax: 'RMD <path>', handle: rmd },
  { verb: 'XRMD', requiresLogin: true, syntax: 'XRMD <path>', handle: rmd },
  { verb: 'DELE', requiresLogin: true, syntax: 'DELE <path>', handle: dele },
  { verb: 'RNFR', requiresLogin: true, syntax: 'RNFR <path>', enabled: canRename, handle: rnfr },
  { verb: 'RNTO', requiresLogin: true, syntax: 'RNTO <path>', keepsRename: true, enabled: canRename, handle: rnto },
  { verb: 'SIZE', requiresLogin: true, syntax: 'SIZE <path>', feat: 'SIZE', handle: size },
  { verb: 'MDTM', requiresLogin: true, syntax: 'MDTM <path>', feat: 'MDTM', handle: mdtm },
  { verb: 'MFMT', requiresLogin: true, syntax: 'MFMT <YYYYMMDDHHMMSS> <path>', enabled: canSetModifiedTime, feat: 'MFMT', handle: mfmt },
];
