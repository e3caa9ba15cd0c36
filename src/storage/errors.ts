/**
 * @module storage/errors
 * The closed set of storage failures. Adapters map their native errors (ENOENT, EACCES, S3 codes)
 * onto these; the session maps these onto FTP replies with safe texts. `cause` is for logs only.
 */
export type StorageErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'NOT_A_DIRECTORY'
  | 'IS_A_DIRECTORY'
  | 'NOT_EMPTY'
  | 'PERMISSION_DENIED'
  | 'OUTSIDE_ROOT'
  | 'INVALID_NAME'
  | 'INVALID_OFFSET'
  | 'NO_SPACE'
  | 'QUOTA_EXCEEDED'
  | 'UNSUPPORTED'
  | 'UNAVAILABLE';

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  /**
   * NOT_FOUND only: the adapter reached the parent directory and only the last component is
   * missing, so an upload to this path needs no separate look at the parent.
   */
  readonly parentIsDirectory: boolean;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown; parentIsDirectory?: boolean }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
    this.parentIsDirectory = options?.parentIsDirectory ?? false;
  }
}

export function isStorageError(error: unknown): error is StorageError {
  return error instanceof StorageError;
}

/** Client-safe texts: never a host path, never the native message. */
const MESSAGES: Readonly<Record<StorageErrorCode, string>> = {
  NOT_FOUND: 'not found',
  ALREADY_EXISTS: 'already exists',
  NOT_A_DIRECTORY: 'not a directory',
  IS_A_DIRECTORY: 'is a directory',
  NOT_EMPTY: 'directory not empty',
  PERMISSION_DENIED: 'permission denied',
  OUTSIDE_ROOT: 'outside the home directory',
  INVALID_NAME: 'invalid name',
  INVALID_OFFSET: 'invalid offset',
  NO_SPACE: 'no space left on device',
  QUOTA_EXCEEDED: 'quota exceeded',
  UNSUPPORTED: 'not supported',
  UNAVAILABLE: 'storage unavailable',
};

/** A StorageError with the fixed text for its code; `cause` (for logs) keeps the native error. */
export function storageError(code: StorageErrorCode, cause?: unknown): StorageError {
  return cause === undefined ? new StorageError(code, MESSAGES[code]) : new StorageError(code, MESSAGES[code], { cause });
}
