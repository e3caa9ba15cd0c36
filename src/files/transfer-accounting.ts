/**
 * @module files/transfer-accounting
 * What every finished transfer leaves behind, whatever the protocol: the metric, the `transfer`
 * log record, the xferlog line and the audit record (upload/download with path, bytes,
 * duration, result and failure code). FTP's data path and the SFTP handles both end here, so
 * an auditor reads the same fields for both.
 */
import type { AuditResult } from '../core/audit-event.js';
import type { Logger } from '../core/logger.js';
import type { SessionMetrics } from '../core/session-metrics.js';
import type { TransferLog, TransferRecord } from '../core/transfer-record.js';

export interface TransferAccountingPorts {
  readonly metrics: Pick<SessionMetrics, 'transfer'>;
  readonly log: Logger;
  readonly transferLog?: TransferLog;
  /** The session's audit trail (the frontend adds its TLS/session fields). */
  readonly audit?: (event: 'upload' | 'download', result: AuditResult, detail: { path: string; bytes: number; durationMs: number; code?: string; sha256?: string }) => void;
}

/** Who moved the bytes; absent before login (listings of a failed session, for instance). */
export interface TransferActor {
  readonly user: string;
  readonly anonymous: boolean;
  readonly remoteAddress: string;
  /** TYPE A (FTP's ASCII mode); false for SFTP. */
  readonly ascii: boolean;
}

export function accountTransfer(
  ports: TransferAccountingPorts,
  record: TransferRecord,
  actor: TransferActor | null,
  extra: { readonly code?: string; readonly sha256?: string; readonly endedAt: Date },
): void {
  ports.metrics.transfer(record);
  ports.log.info({ event: 'transfer', ...record }, 'transfer');
  if (record.direction === 'list' || !actor) return;
  ports.transferLog?.write({ ...record, ...actor, endedAt: extra.endedAt });
  ports.audit?.(record.direction, record.result === 'ok' ? 'success' : record.result === 'aborted' ? 'aborted' : 'failure', {
    path: record.path,
    bytes: record.bytes,
    durationMs: record.durationMs,
    ...(record.result !== 'ok' && extra.code ? { code: extra.code } : {}),
    ...(record.result === 'ok' && extra.sha256 ? { sha256: extra.sha256 } : {}),
  });
}
