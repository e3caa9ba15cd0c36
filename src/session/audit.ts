/**
 * @module session/audit
 * How handlers report audit events (login attempts and file operations) through the AuditLog
 * port: the TLS state of the control connection, the user, durations and stable error codes
 * are filled in here, so every event of one kind carries the same fields.
 */
import type { SessionContext } from './context.js';
import type { AuditEvent, AuditEventName, AuditResult } from './ports.js';

type Detail = Omit<AuditEvent, 'event' | 'result' | 'tls' | 'tlsVersion' | 'tlsCipher' | 'user'>;

/** The control connection's protection, for the `tls`, `tlsVersion` and `tlsCipher` fields. */
function tlsFields(ctx: SessionContext): Pick<AuditEvent, 'tls' | 'tlsVersion' | 'tlsCipher'> {
  const tls = ctx.deps.tls;
  if (!tls.controlProtected) return { tls: false };
  const info = tls.controlTlsInfo?.();
  return info ? { tls: true, tlsVersion: info.version, tlsCipher: info.cipher } : { tls: true };
}

function currentUser(ctx: SessionContext): string | undefined {
  const login = ctx.state.login;
  return login.phase === 'logged-in' ? login.principal.name : undefined;
}

/** Records one event for this session (a no-op without log.audit). */
export function audit(ctx: SessionContext, event: AuditEventName, result: AuditResult, detail: Detail & { user?: string } = {}): void {
  const log = ctx.deps.audit;
  if (!log) return;
  const user = detail.user ?? currentUser(ctx);
  try {
    log.record({ event, result, ...(user !== undefined ? { user } : {}), ...tlsFields(ctx), ...detail });
  } catch (error) {
    // The audit trail never takes a session down; its writer reports its own failures.
    ctx.log.error({ event: 'audit.failed', err: error }, 'audit event not recorded');
  }
}

/** A login attempt: success, failure (with the authenticator's reason) or refused (a limit). */
export function auditLogin(ctx: SessionContext, user: string, result: AuditResult, code?: string): void {
  audit(ctx, 'login', result, { user, ...(code ? { code } : {}) });
}
