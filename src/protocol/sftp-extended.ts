/**
 * @module protocol/sftp-extended
 * The SSH_FXP_EXTENDED requests kftpd answers (OpenSSH's PROTOCOL file, section 4):
 * posix-rename@openssh.com, fsync@openssh.com and limits@openssh.com. Pure parsing.
 */
import { SftpReader } from './sftp-packet.js';

export type ExtendedRequest =
  | { readonly type: 'posix-rename'; readonly from: Buffer; readonly to: Buffer }
  | { readonly type: 'fsync'; readonly handle: Buffer }
  | { readonly type: 'limits' }
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
      default:
        return { type: 'unknown', name };
    }
  } catch {
    return { type: 'malformed', name };
  }
}
