/**
 * @module doctor/doctor-types
 * What `kftpd doctor --external` takes and returns: its options, and the report with one
 * record per control session and per passive probe (doctor/diagnose runs the checks).
 */
import type { ReplicaStatus } from '../protocol/replica-status.js';
import type { Finding } from './findings.js';

export type TlsMode = 'auto' | 'explicit' | 'implicit' | 'none';

export interface DoctorOptions {
  readonly host: string;
  readonly port: number;
  /** auto: AUTH TLS, continuing in clear text (with a warning) when refused. */
  readonly tls: TlsMode;
  /** PEM CA bundle for the server certificate; default: Node's trust store. */
  readonly ca?: string | Buffer;
  readonly insecure?: boolean;
  readonly servername?: string;
  /** Default anonymous. */
  readonly user?: string;
  readonly password?: string;
  /** PASV/EPSV probes in all (alternating); default 6. */
  readonly probes?: number;
  /** Control connections the probes are spread over; default 3. */
  readonly sessions?: number;
  /** Bound of every single wait; default 5000. */
  readonly timeoutMs?: number;
  /** After a data connection closed without reaching its session, how long to wait for the server's reply; default min(timeoutMs, 2000). */
  readonly settleMs?: number;
  /** How long to watch for replies nobody asked for after the greeting; default min(timeoutMs, 250). */
  readonly greetingSettleMs?: number;
  /** The SFTP (SSH) address behind the balancer: compare the replicas' host keys (ssh-host-key-probe.ts). */
  readonly sftp?: { readonly host: string; readonly port: number; readonly connections?: number };
}

export type ProbeOutcome =
  | 'ok'
  | 'passive-refused'
  | 'malformed'
  | 'refused'
  | 'timeout'
  | 'unreachable'
  | 'dropped'
  | 'tls-reuse-refused'
  | 'tls-failed'
  | 'protection-required'
  | 'list-failed'
  | 'no-reply';

export interface ProbeRecord {
  readonly session: number;
  /** Replica index from STAT; null when unknown. */
  readonly replica: number | null;
  readonly mode: 'PASV' | 'EPSV';
  /** The address in the 227 reply (PASV only). */
  readonly announcedHost?: string;
  readonly port?: number;
  /** Where the doctor connected the data connection. */
  readonly dataHost?: string;
  readonly outcome: ProbeOutcome;
  readonly reply?: string;
  readonly connectMs?: number;
  readonly totalMs: number;
  readonly bytes?: number;
  readonly tlsResumed?: boolean;
  /** PASV: the announced address failed and the data connection went to the dialled one. */
  readonly fellBack?: boolean;
}

export interface SessionRecord {
  readonly index: number;
  readonly replica: ReplicaStatus | null;
  readonly greetingMs: number;
  readonly tls: string | null;
}

export interface DoctorReport {
  readonly target: string;
  readonly findings: readonly Finding[];
  readonly sessions: readonly SessionRecord[];
  readonly probes: readonly ProbeRecord[];
  /** No finding with severity fail. */
  readonly ok: boolean;
}
