/**
 * @module files/file-access-error
 * Refusals of the file service that are not the storage's: a permission the user lacks, a path
 * beyond the limits, an upload that cannot start. Stable codes; each protocol frontend maps
 * them to its own replies (FTP: session/reply-map; SFTP: SSH_FX_* statuses), the client never
 * sees more than a safe text.
 */
import { isStorageError } from '../storage/errors.js';

export type FileAccessErrorCode =
  /** The user lacks the permission (or the operation targets the home itself). */
  | 'PERMISSION_DENIED'
  /** The path is malformed or beyond limits.maxPathBytes / maxPathDepth. */
  | 'PATH_NOT_ALLOWED'
  /** The parent directory of an upload does not exist (or is not a directory). */
  | 'NO_SUCH_DIRECTORY'
  /** An upload or download names something that is not a plain file. */
  | 'NOT_A_FILE'
  /** A resumed upload starts beyond the end of the existing file. */
  | 'RESTART_BEYOND_END';

export class FileAccessError extends Error {
  readonly code: FileAccessErrorCode;

  constructor(code: FileAccessErrorCode, message: string) {
    super(message);
    this.name = 'FileAccessError';
    this.code = code;
  }
}

export function isFileAccessError(error: unknown): error is FileAccessError {
  return error instanceof FileAccessError;
}

/** The stable code of any failure, for logs and the audit log (never sent to a client). */
export function fileErrorCode(error: unknown): string {
  if (error instanceof FileAccessError) return `KFTPD_ACCESS_${error.code}`;
  if (isStorageError(error)) return `KFTPD_STORAGE_${error.code}`;
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return 'KFTPD_INTERNAL';
}
