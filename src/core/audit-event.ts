/**
 * @module core/audit-event
 * The audit port: one event per security-relevant action (login, upload, download, delete,
 * rename, mkdir, rmdir, link, chmod), as any protocol's session reports it. observability/audit-log.ts
 * writes them and documents each field.
 * Must not: hold an implementation beyond the no-op.
 */

export type AuditEventName = 'login' | 'upload' | 'download' | 'delete' | 'rename' | 'mkdir' | 'rmdir' | 'link' | 'chmod';
export type AuditResult = 'success' | 'failure' | 'refused' | 'aborted';

/** One audit event as the session reports it; the AuditLog adds time, session, remote, via, replica. */
export interface AuditEvent {
  readonly event: AuditEventName;
  readonly result: AuditResult;
  /** The login name (as typed, for failed logins). */
  readonly user?: string;
  readonly tls: boolean;
  readonly tlsVersion?: string;
  readonly tlsCipher?: string;
  /** Virtual path (never a host path). */
  readonly path?: string;
  /** Rename target, or the new name of a hard link. */
  readonly toPath?: string;
  /** Permission bits set by a chmod, as octal text ("0644"). */
  readonly mode?: string;
  readonly bytes?: number;
  readonly durationMs?: number;
  /** Stable reason or error code (KFTPD_STORAGE_*, a login refusal reason...). */
  readonly code?: string;
  /** Hex SHA-256 of the whole file, when computed on the fly during the transfer. */
  readonly sha256?: string;
}

/** The audit trail of one session (a no-op when log.audit is off). */
export interface AuditLog {
  /** Compute sha256 of transfers on the fly (log.auditSha256). */
  readonly sha256: boolean;
  record(event: AuditEvent): void;
}

export const NOOP_AUDIT: AuditLog = { sha256: false, record() {} };
