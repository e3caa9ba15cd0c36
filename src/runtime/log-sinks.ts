/**
 * @module runtime/log-sinks
 * Owns the server's record sinks, shared by every frontend: the transfer log (log.xferlog,
 * each finished transfer mapped to a wu-ftpd xferlog line) and the audit trail (log.audit:
 * a JSON-lines file, or the JSON logs with `stdout`). Opened by the runtime's start and
 * flushed by its close, after the last session has gone.
 */
import type { Config } from '../config/schema.js';
import type { AuditLog } from '../core/audit-event.js';
import type { Logger } from '../core/logger.js';
import type { TransferLog, TransferLogEntry } from '../core/transfer-record.js';
import { AuditFileSink, AuditLoggerSink, sessionAuditLog, type AuditSessionFields, type AuditSink } from '../observability/audit-log.js';
import { XferlogWriter } from '../observability/xferlog.js';
import { normalizeAddress } from '../protocol/address.js';

export class LogSinks {
  readonly #config: Readonly<Config['log']>;
  readonly #logger: Logger;
  #xferlog: XferlogWriter | null = null;
  #transferLog: TransferLog | null = null;
  #audit: AuditSink | null = null;

  constructor(config: Readonly<Config['log']>, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
  }

  /** The transfer log every finished transfer is written to; null without log.xferlog. */
  get transferLog(): TransferLog | null {
    return this.#transferLog;
  }

  open(): void {
    const { xferlog, audit } = this.#config;
    if (xferlog) {
      const writer = new XferlogWriter(xferlog, (error) => this.#logger.error({ event: 'xferlog.error', err: error }, 'xferlog write failed'));
      this.#xferlog = writer;
      this.#transferLog = { write: (entry) => writer.write(toXferlog(entry)) };
    }
    if (audit === 'stdout') this.#audit = new AuditLoggerSink(this.#logger);
    else if (audit !== '') this.#audit = new AuditFileSink(audit, (error) => this.#logger.error({ event: 'audit.error', err: error }, 'audit log write failed'));
  }

  /** One session's audit log (its fixed fields bound); null without log.audit. */
  sessionAudit(fields: AuditSessionFields, options: { sha256: boolean; now: () => Date }): AuditLog | null {
    return this.#audit ? sessionAuditLog(this.#audit, fields, options) : null;
  }

  /** Flushes and closes both sinks: call once every session is gone (the trail is complete). */
  async close(): Promise<void> {
    await this.#xferlog?.close();
    await this.#audit?.close();
  }
}

function toXferlog(entry: TransferLogEntry) {
  return {
    endedAt: entry.endedAt,
    durationMs: entry.durationMs,
    remoteAddress: normalizeAddress(entry.remoteAddress),
    bytes: entry.bytes,
    path: entry.path,
    ascii: entry.ascii,
    direction: entry.direction === 'upload' ? ('upload' as const) : ('download' as const),
    anonymous: entry.anonymous,
    user: entry.user,
    complete: entry.result === 'ok',
    service: entry.protocol,
  };
}
