/**
 * @module observability/xferlog
 * The classic xferlog format (wu-ftpd, also written by ProFTPD, vsftpd and Pure-FTPd), one
 * line per file transfer, for the log tooling banks already run. Fields, space-separated:
 * current-time transfer-time remote-host file-size filename transfer-type special-action
 * direction access-mode username service-name authentication-method authenticated-user-id
 * completion-status. The remote host is the real client address (after PROXY protocol).
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export interface XferlogRecord {
  readonly endedAt: Date;
  readonly durationMs: number;
  readonly remoteAddress: string;
  readonly bytes: number;
  readonly path: string;
  readonly ascii: boolean;
  readonly direction: 'download' | 'upload';
  readonly anonymous: boolean;
  readonly user: string;
  readonly complete: boolean;
  /** The service-name field: "ftp" (FTP and FTPS) or "sftp" (ProFTPD's mod_sftp writes "sftp" there too). */
  readonly service: 'ftp' | 'sftp';
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3)-style UTC timestamp: "Thu Nov 26 13:38:20 2026". */
function ctime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${date.getUTCFullYear()}`;
}

/** One xferlog line (no newline). Whitespace in names becomes "_" so fields stay parseable. */
export function formatXferlogLine(record: XferlogRecord): string {
  const seconds = Math.max(1, Math.ceil(record.durationMs / 1000));
  const name = record.path.replace(/\s/g, '_');
  const user = record.user.replace(/\s/g, '_') || '*';
  return [
    ctime(record.endedAt),
    seconds,
    record.remoteAddress,
    record.bytes,
    name,
    record.ascii ? 'a' : 'b',
    '_',
    record.direction === 'download' ? 'o' : 'i',
    record.anonymous ? 'a' : 'r',
    user,
    record.service,
    '0',
    '*',
    record.complete ? 'c' : 'i',
  ].join(' ');
}

/** Appends xferlog lines to a file (opened in append mode, so logrotate's copytruncate works). */
export class XferlogWriter {
  readonly #stream: WriteStream;

  constructor(file: string, onError: (error: Error) => void) {
    this.#stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
    this.#stream.on('error', onError);
  }

  write(record: XferlogRecord): void {
    this.#stream.write(`${formatXferlogLine(record)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#stream.end(() => resolve()));
  }
}
