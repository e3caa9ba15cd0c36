/**
 * @module core/session-guard
 * The abuse-defence port as one session sees it, bound to the session's real client address:
 * runtime/defender-wiring.ts (local) and cluster/shared-protection.ts (shared by replicas)
 * implement it, sessions of any protocol call it.
 * Must not: hold an implementation.
 */

/**
 * Optional for a session: without it failed logins wait settings.failedLoginDelayMs and
 * nothing is scored.
 */
export interface SessionGuard {
  /** A failed login: scores it and returns how long to wait before answering (ms). */
  loginFailed(username: string): number | Promise<number>;
  loginSucceeded(username: string): void;
  /** A hostile event of this session (too many commands before login, a refused data connection). */
  report(event: 'commands-before-login' | 'data-refused'): void;
}
