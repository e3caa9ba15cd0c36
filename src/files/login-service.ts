/**
 * @module files/login-service
 * A login, whatever the protocol: credentials checked by the authenticator (with the users
 * file's allowFrom/denyFrom), the per-user session slot (limits.maxSessionsPerUser), the
 * user's home opened on the storage backend, the defender told of the outcome, the delay
 * before a failure is answered, metrics, the log line and the audit record. A frontend only
 * turns the outcome into its own reply (FTP: 230/530; SFTP: the SSH userauth answer).
 */
import type { Authenticator } from '../auth/types.js';
import type { Logger } from '../core/logger.js';
import type { SessionGuard } from '../core/session-guard.js';
import type { SessionMetrics } from '../core/session-metrics.js';
import type { Principal } from '../core/principal.js';
import type { FileProtocol } from '../core/transfer-record.js';
import type { StorageBackend, StorageProvider } from '../storage/types.js';

export interface LoginRequest {
  readonly username: string;
  readonly password: string;
  /** SSH login by key: the public key blob, its signature already verified by the frontend. */
  readonly publicKey?: Buffer;
  /** The real client address (after PROXY). */
  readonly remoteAddress: string;
  /** The channel the credentials came over is encrypted. */
  readonly secure: boolean;
  /** A refusal the frontend knows before any check (FTP: the client certificate's CN differs). */
  readonly refusal?: string;
}

export type LoginOutcome =
  | { readonly ok: true; readonly principal: Principal; readonly storage: StorageBackend }
  /** `failed`: wrong credentials or refused by the authenticator (counts as a failed login). */
  | { readonly ok: false; readonly reason: 'failed' }
  /** Not failures of the client's credentials: they do not count towards maxFailedLogins. */
  | { readonly ok: false; readonly reason: 'max-sessions-per-user' | 'home-unavailable' };

/** What the service needs from the runtime and from the session the login belongs to. */
export interface LoginPorts {
  readonly auth: Authenticator;
  readonly storage: StorageProvider;
  readonly metrics: Pick<SessionMetrics, 'login'>;
  /** The frontend asking (the `protocol` label of kftpd_logins_total). */
  readonly protocol: FileProtocol;
  /** The defender bound to the client address: scores a failure and says how long to wait. */
  readonly guard?: Pick<SessionGuard, 'loginFailed' | 'loginSucceeded'>;
  /** Used without a guard (tests, defender off). */
  readonly failedLoginDelayMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Takes one of the user's session slots for this session; false when the user has no slot left. */
  readonly claimSlot: (user: string) => Promise<boolean>;
  readonly log: Logger;
  /** The audit record of the attempt (the frontend adds its session fields). */
  readonly audit: (user: string, result: 'success' | 'failure' | 'refused', code?: string) => void;
}

export async function logIn(ports: LoginPorts, request: LoginRequest): Promise<LoginOutcome> {
  const result = request.refusal
    ? ({ ok: false, reason: request.refusal } as const)
    : await ports.auth.authenticate({ username: request.username, password: request.password, remoteAddress: request.remoteAddress, tls: request.secure, ...(request.publicKey ? { publicKey: request.publicKey } : {}) });
  if (!result.ok) {
    ports.metrics.login('failed', ports.protocol);
    ports.log.warn({ event: 'login', result: 'failed', user: request.username, reason: result.reason }, 'login failed');
    ports.audit(request.username, 'failure', result.reason);
    // A delay before every failure slows online guessing (vsftpd's delay_failed_login); the
    // defender scores the failure and makes the delay grow for a hostile address.
    await ports.sleep(ports.guard ? await ports.guard.loginFailed(request.username) : ports.failedLoginDelayMs);
    return { ok: false, reason: 'failed' };
  }
  const { principal } = result;
  if (!(await ports.claimSlot(principal.name))) {
    // limits.maxSessionsPerUser (ProFTPD's MaxClientsPerUser): not a failed password.
    ports.log.warn({ event: 'login', result: 'refused', user: principal.name, reason: 'max-sessions-per-user' }, 'login refused: too many sessions for this user');
    ports.audit(principal.name, 'refused', 'max-sessions-per-user');
    return { ok: false, reason: 'max-sessions-per-user' };
  }
  let storage: StorageBackend;
  try {
    storage = await ports.storage.forHome(principal.home);
  } catch (error) {
    ports.log.error({ event: 'login.storage-failed', user: request.username, err: error }, 'home not available');
    ports.audit(request.username, 'failure', 'home-unavailable');
    return { ok: false, reason: 'home-unavailable' };
  }
  ports.metrics.login('ok', ports.protocol);
  ports.guard?.loginSucceeded(request.username);
  ports.log.info({ event: 'login', result: 'ok', user: principal.name }, 'login ok');
  ports.audit(principal.name, 'success');
  return { ok: true, principal, storage };
}
