/**
 * @module session/reply-map
 * One table from failures to FTP replies with SAFE texts: the client never sees an internal
 * message, stack or host path; the log gets the detail.
 */
import { ReplyCode } from '../protocol/reply.js';
import { fileErrorCode, isFileAccessError, type FileAccessErrorCode } from '../files/file-access-error.js';
import { isStorageError, type StorageErrorCode } from '../storage/errors.js';

export interface MappedReply {
  readonly code: number;
  readonly text: string;
}

const STORAGE_REPLIES: Readonly<Record<StorageErrorCode, MappedReply>> = {
  NOT_FOUND: { code: ReplyCode.FileUnavailable, text: 'No such file or directory.' },
  ALREADY_EXISTS: { code: ReplyCode.FileUnavailable, text: 'File exists.' },
  NOT_A_DIRECTORY: { code: ReplyCode.FileUnavailable, text: 'Not a directory.' },
  IS_A_DIRECTORY: { code: ReplyCode.FileUnavailable, text: 'Is a directory.' },
  NOT_EMPTY: { code: ReplyCode.FileUnavailable, text: 'Directory not empty.' },
  PERMISSION_DENIED: { code: ReplyCode.FileUnavailable, text: 'Permission denied.' },
  OUTSIDE_ROOT: { code: ReplyCode.FileUnavailable, text: 'Permission denied.' },
  INVALID_NAME: { code: ReplyCode.FileNameNotAllowed, text: 'File name not allowed.' },
  INVALID_OFFSET: { code: ReplyCode.InvalidRestart, text: 'Invalid restart position.' },
  // RFC 959 §4.2: 452 is "insufficient storage space", 552 "exceeded storage allocation".
  NO_SPACE: { code: ReplyCode.InsufficientStorage, text: 'Insufficient storage space.' },
  QUOTA_EXCEEDED: { code: ReplyCode.ExceededStorage, text: 'Exceeded storage allocation.' },
  UNSUPPORTED: { code: ReplyCode.ParameterNotImplemented, text: 'Not supported by this storage.' },
  UNAVAILABLE: { code: ReplyCode.ActionAbortedLocal, text: 'Local error in processing.' },
};

const ACCESS_REPLIES: Readonly<Record<FileAccessErrorCode, MappedReply>> = {
  PERMISSION_DENIED: { code: ReplyCode.FileUnavailable, text: 'Permission denied.' },
  // RFC 959 §4.2: 553 "Requested action not taken. File name not allowed."
  PATH_NOT_ALLOWED: { code: ReplyCode.FileNameNotAllowed, text: 'File name not allowed.' },
  NO_SUCH_DIRECTORY: { code: ReplyCode.FileUnavailable, text: 'No such directory.' },
  NOT_A_FILE: { code: ReplyCode.FileUnavailable, text: 'Not a plain file.' },
  RESTART_BEYOND_END: { code: ReplyCode.InvalidRestart, text: 'Restart position beyond end of file.' },
};

const LOCAL_ERROR: MappedReply = { code: ReplyCode.ActionAbortedLocal, text: 'Local error in processing.' };

export function mapErrorToReply(error: unknown): MappedReply {
  if (isStorageError(error)) return STORAGE_REPLIES[error.code];
  if (isFileAccessError(error)) return ACCESS_REPLIES[error.code];
  return LOCAL_ERROR;
}

/** Stable error code for logs. */
export function errorCode(error: unknown): string {
  return fileErrorCode(error);
}
