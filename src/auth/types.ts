/**
 * @module auth/types
 * The authentication port. `reason` is for logs and metrics only: clients always get the same 530.
 */
import type { Principal } from '../core/principal.js';

export interface AuthAttempt {
  readonly username: string;
  readonly password: string;
  readonly remoteAddress: string;
  readonly tls: boolean;
  /**
   * An SSH public key blob (wire encoding) whose signature the frontend has verified: the
   * login is by key, `password` is ignored.
   */
  readonly publicKey?: Buffer;
}

export type AuthFailureReason = 'unknown-user' | 'bad-password' | 'disabled' | 'anonymous-disabled' | 'certificate-mismatch' | 'address-not-allowed' | 'bad-key';

export type AuthResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly reason: AuthFailureReason };

export interface Authenticator {
  authenticate(attempt: AuthAttempt): Promise<AuthResult>;
  /** True once users are loaded (readiness). */
  ready(): boolean;
  close(): Promise<void>;
}
