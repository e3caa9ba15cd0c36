/**
 * @module protocol/sftp-extended
 * The SSH_FXP_EXTENDED requests kftpd answers (OpenSSH's PROTOCOL file, section 4):
 * posix-rename@openssh.com, fsync@openssh.com, limits@openssh.com, statvfs@openssh.com,
 * fstatvfs@openssh.com and hardlink@openssh.com, and the statvfs reply. Pure parsing and
 * encoding.
 */
import { extendedReply, SftpReader } from './sftp-packet.js';

export type ExtendedRequest =
  | { readonly type: 'posix-rename'; readonly from: Buffer; readonly to: Buffer }
  | { readonly type: 'fsync'; readonly handle: Buffer }
  | { readonly type: 'limits' }
  | { readonly type: 'statvfs'; readonly path: Buffer }
  | { readonly type: 'fstatvfs'; readonly handle: Buffer }
  /** PROTOCOL §4.7: string oldpath (the existing file), string newpath (the new name). */
  | { readonly type: 'hardlink'; readonly from: Buffer; readonly to: Buffer }
  | { readonly type: 'unknown'; readonly name: string }
  | { readonly type: 'malformed'; readonly name: string };

export function parseExtended(name: string, body: Buffer): ExtendedRequest {
  const r = new SftpReader(body);
  try {
    switch (name) {
      case 'posix-rename@openssh.com':
        return { type: 'posix-rename', from: r.string(), to: r.string() };
      case 'fsync@openssh.com':
        return { type: 'fsync', handle: r.string() };
      case 'limits@openssh.com':
        return { type: 'limits' };
      case 'statvfs@openssh.com':
        return { type: 'statvfs', path: r.string() };
      case 'fstatvfs@openssh.com':
        return { type: 'fstatvfs', handle: r.string() };
      case 'hardlink@openssh.com':
        return { type: 'hardlink', from: r.string(), to: r.string() };
      default:
        return { type: 'unknown', name };
    }
  } catch {
    return { type: 'malformed', name };
  }
}

/** statvfs(3) fields as PROTOCOL §4.4 orders them (all uint64 on the wire). */
export interface StatvfsReply {
  readonly bsize: number;
  readonly frsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly favail: number;
  readonly fsid: number;
  /** SSH_FXE_STATVFS_ST_RDONLY (0x1) | SSH_FXE_STATVFS_ST_NOSUID (0x2). */
  readonly flag: number;
  readonly namemax: number;
}

export const STATVFS_FLAG = { RDONLY: 0x1, NOSUID: 0x2 } as const;

export function encodeStatvfs(id: number, s: StatvfsReply): Buffer {
  const w = extendedReply(id);
  for (const value of [s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.fsid, s.flag, s.namemax]) w.uint64(value);
  return w.finish();
}
