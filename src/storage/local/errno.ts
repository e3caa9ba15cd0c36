/**
 * @module storage/local/errno
 * Native fs errors (errno codes) mapped onto the closed set of StorageErrors. The native error
 * is kept as `cause` for logs; the message is the fixed client-safe text (never a host path).
 */
import { StorageError, storageError } from '../errors.js';
import type { StorageErrorCode } from '../errors.js';

const ERRNO_CODES: Readonly<Record<string, StorageErrorCode>> = {
  ENOENT: 'NOT_FOUND',
  EEXIST: 'ALREADY_EXISTS',
  ENOTDIR: 'NOT_A_DIRECTORY',
  EISDIR: 'IS_A_DIRECTORY',
  ENOTEMPTY: 'NOT_EMPTY',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  ENOSPC: 'NO_SPACE',
  EDQUOT: 'QUOTA_EXCEEDED',
  ENAMETOOLONG: 'INVALID_NAME',
  // Opening a FIFO without a reader for writing (O_NONBLOCK): not a file we serve.
  ENXIO: 'PERMISSION_DENIED',
  // O_NOFOLLOW reports a symlink in the final component as ELOOP: someone swapped a path for
  // a link after our realpath check, which is exactly the escape we refuse.
  ELOOP: 'OUTSIDE_ROOT',
};

/** The errno code (`ENOENT`...) of a native error, if it has one. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = error.code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Maps a native fs error onto a StorageError (already-mapped errors pass through). The native
 * error is kept as `cause` for logs; the message is a fixed text.
 */
export function toStorageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const errno = errnoOf(error);
  const code = (errno !== undefined ? ERRNO_CODES[errno] : undefined) ?? 'UNAVAILABLE';
  return storageError(code, error);
}
