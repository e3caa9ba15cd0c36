/**
 * @module sftp/sftp-status
 * The file service's coded failures as SSH_FX_* statuses, with the texts OpenSSH's
 * sftp-server sends (its errno_to_portable mapping: ENOENT/ENOTDIR -> NO_SUCH_FILE,
 * EACCES/EPERM -> PERMISSION_DENIED, EINVAL/ENAMETOOLONG -> BAD_MESSAGE, others FAILURE).
 * Clients print the text ("Couldn't stat remote file: No such file or directory").
 */
import { isFileAccessError } from '../files/file-access-error.js';
import { FX, modeString, type Attrs, type StatusCode } from '../protocol/sftp-packet.js';
import { isStorageError } from '../storage/errors.js';
import type { Entry } from '../storage/types.js';

export const STATUS_TEXT: Readonly<Record<StatusCode, string>> = {
  [FX.OK]: 'Success',
  [FX.EOF]: 'End of file',
  [FX.NO_SUCH_FILE]: 'No such file',
  [FX.PERMISSION_DENIED]: 'Permission denied',
  [FX.FAILURE]: 'Failure',
  [FX.BAD_MESSAGE]: 'Bad message',
  [FX.NO_CONNECTION]: 'No connection',
  [FX.CONNECTION_LOST]: 'Connection lost',
  [FX.OP_UNSUPPORTED]: 'Operation unsupported',
};

export function statusFor(error: unknown): StatusCode {
  if (isFileAccessError(error)) {
    switch (error.code) {
      case 'PERMISSION_DENIED':
      case 'PATH_NOT_ALLOWED':
        return FX.PERMISSION_DENIED;
      case 'NO_SUCH_DIRECTORY':
        return FX.NO_SUCH_FILE;
      default:
        return FX.FAILURE;
    }
  }
  if (isStorageError(error)) {
    switch (error.code) {
      case 'NOT_FOUND':
      case 'NOT_A_DIRECTORY':
        return FX.NO_SUCH_FILE;
      case 'PERMISSION_DENIED':
      case 'OUTSIDE_ROOT':
        return FX.PERMISSION_DENIED;
      case 'INVALID_NAME':
        return FX.BAD_MESSAGE;
      case 'UNSUPPORTED':
        return FX.OP_UNSUPPORTED;
      default:
        return FX.FAILURE;
    }
  }
  return FX.FAILURE;
}

/** S_IFDIR / S_IFREG with the entry's mode bits (defaults when the storage has none). */
export function entryAttrs(entry: Entry): Attrs {
  const dir = entry.type === 'directory';
  const seconds = Math.floor(entry.modifiedAt.getTime() / 1000);
  return {
    size: entry.size,
    permissions: (dir ? 0o040000 : 0o100000) | ((entry.mode ?? (dir ? 0o755 : 0o644)) & 0o7777),
    atime: seconds,
    mtime: seconds,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The `ls -l` line OpenSSH's sftp shows for `ls -l` (draft-02 §7 leaves its format open). */
export function longName(entry: Entry): string {
  const attrs = entryAttrs(entry);
  const t = entry.modifiedAt;
  const date = `${MONTHS[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, ' ')} ${String(t.getUTCHours()).padStart(2, '0')}:${String(t.getUTCMinutes()).padStart(2, '0')}`;
  return `${modeString(attrs.permissions ?? 0)}    1 kftpd    kftpd    ${String(entry.size).padStart(8, ' ')} ${date} ${entry.name}`;
}
