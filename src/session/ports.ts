/**
 * @module session/ports
 * The interfaces through which a session reaches the world. Real implementations live in
 * data/ (passive and active connections), net/ (the control socket) and observability/; the
 * protocol-neutral ones are defined in core/ and re-exported below. The session itself
 * imports no node:net, node:tls or node:fs.
 */
import type { Duplex } from 'node:stream';
import type { DirectTarget } from '../storage/types.js';

// The cross-cutting ports (logging, time, audit, metrics, transfer records, abuse defence) are
// protocol-neutral and live in core/, so observability/ and security/ need nothing from
// session/. They are re-exported here because they are part of what a session is given.
export type { Clock } from '../core/clock.js';
export type { Logger } from '../core/logger.js';
export { NOOP_AUDIT, type AuditEvent, type AuditEventName, type AuditLog, type AuditResult } from '../core/audit-event.js';
export { NOOP_METRICS, type SessionMetrics } from '../core/session-metrics.js';
export type { SessionGuard } from '../core/session-guard.js';
export type { TransferDirection, TransferLog, TransferLogEntry, TransferRecord, TransferResult } from '../core/transfer-record.js';

/** The control connection as the session sees it. */
export interface ControlChannel {
  /** The real client address (the PROXY header's source when a balancer sent one). */
  readonly remoteAddress: string;
  /** The local address of the control socket (passive ports bind there). */
  readonly localAddress: string;
  /** The address the client connected to, from a PROXY header (the balancer's VIP). */
  readonly destinationAddress?: string;
  /** Writes one formatted reply (CRLF included). */
  write(text: string): void;
  /** Flushes pending replies, then closes the control connection. */
  close(): void;
  /** The session logged in or out (timers switch between login and idle timeouts). */
  loginChanged?(): void;
}

/** A data connection after its TLS handshake (RFC 4217 §8, PROT P). */
export interface SecuredData {
  readonly socket: Duplex;
  /**
   * The TLS session was resumed from this session's control connection, or from a sibling's:
   * another control connection of the same user from the same address (tls/resumption-registry).
   */
  readonly resumed: boolean;
  /** Resumed from a sibling control connection (logged). */
  readonly sibling?: boolean;
  /** Why the offered TLS session could not be resumed (logged, never sent to the client). */
  readonly refusal?: string;
  /**
   * The client offered a session it may resume and closed its side before the handshake
   * ended, sending nothing: `socket` is an empty ended stream. Only an upload can use it.
   */
  readonly endedBeforeHandshake?: boolean;
  readonly protocol: string;
}

/** TLS for one session: the control upgrade (AUTH TLS) and data-connection protection. */
export interface SessionTls {
  /** TLS can be negotiated here (a certificate is loaded and policy allows it). */
  readonly available: boolean;
  /** The control connection is protected (after AUTH TLS, or implicit TLS). */
  readonly controlProtected: boolean;
  /** Switches the control connection to TLS right after the 234 reply; rejects (and closes) on failure. */
  upgradeControl(): Promise<void>;
  /** Runs the TLS server handshake on a data connection with this session's context. */
  /**
   * `clientReads`: the client will read from this connection (a download or a listing), so a
   * resumed TLS 1.3 session may hand it a fresh ticket; an upload's client never reads, and an
   * unread ticket turns its close into a reset that can cut the upload's last bytes.
   */
  secureData(socket: Duplex, signal: AbortSignal, clientReads: boolean): Promise<SecuredData>;
  /** Subject CN of a verified client certificate on the control connection, if any. */
  peerCommonName(): string | undefined;
  /** CCC can be used now (enabled, and the control connection is protected). */
  readonly clearable: boolean;
  /** CCC (RFC 4217 §6): ends TLS on the control connection, keeping TCP, after the 200 reply. */
  clearControl(): Promise<void>;
  /** Protocol version and cipher of the control connection's TLS, when protected (audit log). */
  controlTlsInfo?(): { readonly version: string; readonly cipher: string } | undefined;
}

/** No TLS at all (tests of the plain protocol, or tls.control off). */
export const NO_TLS: SessionTls = {
  available: false,
  controlProtected: false,
  upgradeControl: () => Promise.reject(new Error('TLS is not available')),
  secureData: () => Promise.reject(new Error('TLS is not available')),
  peerCommonName: () => undefined,
  clearable: false,
  clearControl: () => Promise.reject(new Error('TLS is not available')),
};

/** A passive port reserved for one session (RFC 959 §4.1.2 PASV, RFC 2428 §3 EPSV). */
export interface PassiveLease {
  /** Port the client is told to connect to. */
  readonly port: number;
  /** Address advertised to the client (IPv4 or IPv6). */
  readonly advertisedHost: string;
  /** Resolves with the first connection from an allowed peer; rejects on timeout or abort. */
  accept(signal: AbortSignal): Promise<Duplex>;
  /** Releases the port. Idempotent. */
  close(): void;
}

export interface PassiveRequest {
  readonly family: 1 | 2;
  readonly controlLocalAddress: string;
  /** The real client address (after the PROXY protocol, when a balancer sends it). */
  readonly controlRemoteAddress: string;
  /** The address the client connected to, from the PROXY header, when there was one. */
  readonly destinationAddress?: string;
}

export interface ActiveRequest {
  readonly host: string;
  readonly port: number;
  readonly controlLocalAddress: string;
}

export interface DataConnector {
  /** Throws DataChannelError('PASSIVE_EXHAUSTED') when no port of the range is free. */
  listenPassive(request: PassiveRequest): Promise<PassiveLease>;
  connectActive(request: ActiveRequest, signal: AbortSignal): Promise<Duplex>;
  /**
   * Optional: stops reading an upload's data connection, synchronously, and holds it for a
   * direct receiver (the native one), or returns null, having touched nothing, when it
   * cannot (the stream path goes on).
   */
  holdUpload?(socket: Duplex): HeldUpload | null;
}

/** An upload's data connection held for a direct receiver (DataConnector.holdUpload). */
export interface HeldUpload {
  /**
   * Receives the rest of the upload into `target`; settles once every byte received is in
   * the file, `moved.bytes` counting on. Null: the connection was released to the stream path.
   */
  receive(target: DirectTarget, signal: AbortSignal, moved: { bytes: number }): Promise<void> | null;
  /** Gives the connection back to the stream path; nothing once receive() started. */
  release(): void;
}

export type DataChannelErrorCode =
  | 'PASSIVE_EXHAUSTED'
  | 'ADDRESS_UNRESOLVED'
  | 'ACCEPT_TIMEOUT'
  | 'CONNECT_FAILED'
  | 'ABORTED';

export class DataChannelError extends Error {
  readonly code: DataChannelErrorCode;
  constructor(code: DataChannelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataChannelError';
    this.code = code;
  }
}

/** Slots for expensive work shared by all sessions (HASH): bounded concurrency. */
export interface WorkSlots {
  /** Resolves with a release function; rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void>;
}

/** Server-wide count of logged-in sessions per user (limits.maxSessionsPerUser). */
export interface UserSessions {
  /**
   * A release function, or null when the user already has the maximum number of sessions
   * (a promise when the count is shared by replicas: cluster/shared-protection).
   */
  claim(user: string, sessionId: string): (() => void) | null | Promise<(() => void) | null>;
}
