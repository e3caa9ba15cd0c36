/**
 * @module tls/session-context
 * One SecureContext per control connection, with its own ticket keys: a ticket presented to a
 * context with other keys is not resumed (a full handshake happens), which is what makes "the
 * data connection's TLS session must be resumed" a real check. tls/resumption-registry
 * decides which context a data connection is handed.
 * The certificate comes from the store at creation time, so a renewed certificate is used by
 * new sessions while running ones keep theirs.
 *
 * Tickets are renewed on resumption. Node seals tickets through a ticket-key callback that
 * answers "valid" but never "valid, renew", so a resumed TLS 1.3 connection got no
 * NewSessionTicket (RFC 8446 §4.6.1), unlike OpenSSL's default. A client that uses each TLS 1.3
 * ticket once (OpenSSL clients: curl) then has nothing left to offer on its next data
 * connection: `curl ftp://h/a ftp://h/b` failed on the second file, and `curl -Z` now and then.
 * Node's native context has a second, callback-driven mode (used by Node's own
 * test-https-resume-after-renew) whose answer can be "renew": a resumed data connection then
 * hands the client a fresh ticket sealed with the same keys. Only where the client reads (a
 * download, a listing): a client that only writes (an upload) leaves the ticket unread in its
 * socket, and closing a socket with unread data sends a reset, which can cut the last bytes
 * of the upload still in flight (seen with rclone and lftp).
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

/**
 * `ticketKeys`: 48 bytes; random when not given (a context nobody else can open tickets of).
 * `renewTickets`: every resumed session gets a new ticket (a context for data connections the
 * client reads from; see renewTicketsOnResumption).
 */
export function createSessionContext(material: CertificateMaterial, options: TlsContextOptions, ticketKeys: Buffer = randomBytes(48), renewTickets = false): tls.SecureContext {
  const context = tls.createSecureContext({
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
  if (renewTickets) renewTicketsOnResumption(context, ticketKeys);
  return context;
}

/** The ticket-key hooks of Node's native SecureContext (`secureContext.context`). */
interface NativeTicketHooks {
  enableTicketKeyCallback(): void;
  onticketkeycallback: (name: Buffer, iv: Buffer, encrypt: boolean) => unknown[];
}

/** What OpenSSL's ticket-key callback returns (SSL_CTX_set_tlsext_ticket_key_cb(3)). */
const TICKET = { UNKNOWN: 0, OK: 1, RENEW: 2 } as const;

/**
 * Seals and opens tickets with `ticketKeys` (16-byte name, 16-byte HMAC key, 16-byte AES key:
 * the layout Node's `ticketKeys` uses, so tickets and their key names are unchanged) and asks
 * OpenSSL to issue a new ticket whenever one is resumed. False when this Node has no such hooks:
 * tickets then work as before, without renewal.
 */
export function renewTicketsOnResumption(context: tls.SecureContext, ticketKeys: Buffer): boolean {
  const native = (context as unknown as { context?: Partial<NativeTicketHooks> }).context;
  if (!native || typeof native.enableTicketKeyCallback !== 'function') return false;
  const name = ticketKeys.subarray(0, 16);
  const hmac = ticketKeys.subarray(16, 32);
  const aes = ticketKeys.subarray(32, 48);
  native.onticketkeycallback = (offeredName, _iv, encrypt) => {
    if (encrypt) return [TICKET.OK, hmac, aes, name, randomBytes(16)];
    // Keys are returned even for an unknown name: Node initialises the cipher before OpenSSL reads the answer.
    return [offeredName.equals(name) ? TICKET.RENEW : TICKET.UNKNOWN, hmac, aes];
  };
  native.enableTicketKeyCallback();
  return true;
}
