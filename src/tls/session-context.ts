/**
 * @module tls/session-context
 * One SecureContext per control connection, with its own ticket keys: a ticket presented to a
 * context with other keys is not resumed (a full handshake happens), which is what makes "the
 * data connection's TLS session must be resumed" a real check. tls/resumption-registry
 * decides which context a data connection is handed.
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
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly ciphers: string;
  /** Session ticket lifetime: long enough for a long queue of transfers on one session. */
  readonly sessionTimeoutSeconds?: number;
}

const DEFAULT_SESSION_TIMEOUT_SECONDS = 24 * 3600;

/** `ticketKeys`: 48 bytes; random when not given (a context nobody else can open tickets of). */
export function createSessionContext(material: CertificateMaterial, options: TlsContextOptions, ticketKeys: Buffer = randomBytes(48)): tls.SecureContext {
  return tls.createSecureContext({
    key: material.key,
    cert: material.cert,
    ...(material.ca ? { ca: material.ca } : {}),
    minVersion: options.minVersion,
    ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    // Tickets sealed with these keys are unreadable to every context with other keys.
    ticketKeys,
    sessionTimeout: options.sessionTimeoutSeconds ?? DEFAULT_SESSION_TIMEOUT_SECONDS,
  });
}
