/**
 * @module tls/session-context
 * One SecureContext per FTP session, with its own random ticket keys. Data connections are
 * wrapped with their session's context, so a TLS session (ticket) can only be resumed on the
 * session that issued it: that is what makes "data TLS session must be resumed from the
 * control connection" a real check (../shared/docs/tls-session-reuse.md, observation 1).
 * The certificate comes from the store at creation time, so a renewed certificate is used by
 * new sessions while running ones keep theirs.
 */
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';

export interface CertificateMaterial {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca?: Buffer;
}

export interface TlsContextOptions {
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly ciphers: string;
  /** Session ticket lifetime: long enough for a long queue of transfers on one session. */
  readonly sessionTimeoutSeconds?: number;
}

const DEFAULT_SESSION_TIMEOUT_SECONDS = 24 * 3600;

export function createSessionContext(material: CertificateMaterial, options: TlsContextOptions): tls.SecureContext {
  return tls.createSecureContext({
    key: material.key,
    cert: material.cert,
    ...(material.ca ? { ca: material.ca } : {}),
    minVersion: options.minVersion,
    ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    // 48 random bytes: tickets of this session are unreadable to every other session.
    ticketKeys: randomBytes(48),
    sessionTimeout: options.sessionTimeoutSeconds ?? DEFAULT_SESSION_TIMEOUT_SECONDS,
  });
}
