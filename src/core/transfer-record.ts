/**
 * @module core/transfer-record
 * A finished data transfer as every protocol reports it: what moved, how many bytes, how it
 * ended. Fed to metrics (core/session-metrics) and, with who did it, to transfer logs
 * (observability/xferlog).
 * Must not: know about FTP replies or the transport.
 */

export type TransferDirection = 'download' | 'upload' | 'list';
export type TransferResult = 'ok' | 'aborted' | 'failed';
/** The frontend a transfer or login came through: the `protocol` label of metrics, xferlog's service name. */
export type FileProtocol = 'ftp' | 'sftp';

export interface TransferRecord {
  readonly protocol: FileProtocol;
  readonly direction: TransferDirection;
  readonly command: string;
  readonly path: string;
  /** Bytes actually moved over the data connection (counted where they are written or read). */
  readonly bytes: number;
  readonly durationMs: number;
  readonly result: TransferResult;
  readonly offset: number;
}

/** A finished file transfer with who did it, for transfer logs (xferlog). */
export interface TransferLogEntry extends TransferRecord {
  readonly user: string;
  readonly anonymous: boolean;
  readonly remoteAddress: string;
  readonly ascii: boolean;
  readonly endedAt: Date;
}

export interface TransferLog {
  write(entry: TransferLogEntry): void;
}
