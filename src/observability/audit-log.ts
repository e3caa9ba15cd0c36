/**
 * @module observability/audit-log
 * The audit trail (log.audit): one JSON object per line for every login attempt and every
 * file operation, with the stable field names documented in docs/audit-log.md. Written to a
 * file through a buffered append stream (the server never waits for the disk; a slow disk
 * grows the buffer, and `close()` flushes it on shutdown), or into the pino logs ("stdout").
 * Owns the record shape and its serialisation; sessions reach it through the AuditLog port.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { AuditEvent, AuditLog } from '../core/audit-event.js';
import type { Logger } from '../core/logger.js';

/** The fields the server adds to every event of a session. */
export interface AuditSessionFields {
  readonly session: string;
  /** The frontend the session came through. */
  readonly protocol?: 'ftp' | 'sftp';
  /** The real client address (after the PROXY protocol). */
  readonly remote: string;
  /** The balancer the connection came through, when a PROXY header named the client. */
  readonly via?: string;
  /** This replica's passive-slice index. */
  readonly replica?: number;
}

/** One line of the audit log, in field order (docs/audit-log.md). */
export interface AuditRecord extends AuditEvent, AuditSessionFields {
  readonly time: string;
}

const FIELD_ORDER: readonly (keyof AuditRecord)[] = [
  'time',
  'event',
  'result',
  'session',
  'protocol',
  'user',
  'remote',
  'via',
  'tls',
  'tlsVersion',
  'tlsCipher',
  'path',
  'toPath',
  'mode',
  'bytes',
  'durationMs',
  'code',
  'sha256',
  'replica',
];

/** The record as one JSON line (no newline): fixed field order, absent fields left out. */
export function formatAuditLine(record: AuditRecord): string {
  const out: Record<string, unknown> = {};
  for (const field of FIELD_ORDER) {
    const value = record[field];
    if (value !== undefined) out[field] = value;
  }
  return JSON.stringify(out);
}

export interface AuditSink {
  write(record: AuditRecord): void;
  close(): Promise<void>;
}

/** Appends JSON lines to a file (append mode, so logrotate's copytruncate works). */
export class AuditFileSink implements AuditSink {
  readonly #stream: WriteStream;
  #failed = false;

  constructor(file: string, onError: (error: Error) => void) {
    // A 64 KiB buffer: writes return at once; the stream drains in the background.
    this.#stream = createWriteStream(file, { flags: 'a', mode: 0o640, highWaterMark: 64 * 1024 });
    this.#stream.on('error', (error) => {
      // Reported once; a broken audit file must not take sessions down.
      if (!this.#failed) onError(error);
      this.#failed = true;
    });
  }

  write(record: AuditRecord): void {
    if (this.#failed) return;
    this.#stream.write(`${formatAuditLine(record)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#failed || this.#stream.destroyed) {
        resolve();
        return;
      }
      this.#stream.end(() => resolve());
    });
  }
}

/** Into the JSON logs: `{"msg":"audit","audit":{...}}`, for a single log pipeline. */
export class AuditLoggerSink implements AuditSink {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  write(record: AuditRecord): void {
    this.#logger.info({ audit: JSON.parse(formatAuditLine(record)) as unknown }, 'audit');
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The AuditLog port for one session: the sink plus that session's fixed fields. */
export function sessionAuditLog(sink: AuditSink, fields: AuditSessionFields, options: { sha256: boolean; now?: () => Date }): AuditLog {
  const now = options.now ?? (() => new Date());
  return {
    sha256: options.sha256,
    record(event) {
      sink.write({ time: now().toISOString(), ...fields, ...event });
    },
  };
}
