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
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }
}

export function isStorageError(error: unknown): error is StorageError {
  return error instanceof StorageError;
}
