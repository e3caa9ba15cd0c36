/**
 * @module session/context
 * What command handlers see of their session: state, the ports, and shared helpers.
 * Handlers live in session/handlers/, one file per concern, and are registered in
 * session/command-table.ts.
 */
import type { Principal } from '../core/principal.js';
import type { Permission } from '../core/permissions.js';
import type { MlstFact } from '../protocol/listing.js';
import type { ReplicaStatusInput } from '../protocol/replica-status.js';
import type { StorageBackend } from '../storage/types.js';
import type { UserFiles } from '../files/user-files.js';
import type { Authenticator } from '../auth/types.js';
import type { StorageProvider } from '../storage/types.js';
import type { AuditLog, Clock, ControlChannel, DataConnector, Logger, PassiveLease, SessionMetrics, SessionTls, SessionGuard, TransferLog, UserSessions, WorkSlots } from './ports.js';
import type { HashAlgorithm } from '../protocol/hash-reply.js';

export interface SessionSettings {
  readonly serverName: string;
  readonly hostNames: readonly string[];
  readonly activeEnabled: boolean;
  readonly dataAcceptTimeoutMs: number;
  readonly maxFailedLogins: number;
  readonly failedLoginDelayMs: number;
  /** RFC 4217 policies (see config tls.*). */
  readonly tlsControl: 'off' | 'optional' | 'required';
  readonly tlsData: 'optional' | 'required';
  readonly tlsSessionReuse: 'disabled' | 'enabled' | 'enforced';
  readonly usernameFromCertificate: 'none' | 'commonName';
  readonly cccEnabled: boolean;
  /**
   * This replica and its passive slice, shown to logged-in users by STAT so `kftpd doctor` can
   * tell which replica answered and check that announced ports belong to it.
   */
  readonly replica?: ReplicaStatusInput;
  /** limits.commandsPerSecond / commandBurst: commands beyond the rate wait (0: off). */
  readonly commandsPerSecond?: number;
  readonly commandBurst?: number;
  /** limits.maxPathBytes / maxPathDepth: longer or deeper paths get 553 (0: off). */
  readonly maxPathBytes?: number;
  readonly maxPathDepth?: number;
  /** limits.maxListEntries: a listing with more entries is cut off with 451 (0: off). */
  readonly maxListEntries?: number;
  /** defender.maxCommandsBeforeLogin: one more command before login closes with 421 (0 or absent: off). */
  readonly maxCommandsBeforeLogin?: number;
}

export interface SessionDeps {
  readonly control: ControlChannel;
  readonly data: DataConnector;
  readonly auth: Authenticator;
  readonly storage: StorageProvider;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: SessionMetrics;
  readonly settings: SessionSettings;
  readonly tls: SessionTls;
  /** Optional per-transfer log (xferlog). */
  readonly transferLog?: TransferLog;
  /** Optional audit trail (log.audit); NOOP_AUDIT when absent. */
  readonly audit?: AuditLog;
  /** Bounded concurrency of HASH/XCRC... (limits.maxConcurrentHashes); unbounded when absent. */
  readonly hashSlots?: WorkSlots;
  /** Per-user session count (limits.maxSessionsPerUser); unlimited when absent. */
  readonly userSessions?: UserSessions;
  /** Abuse defence (defender) bound to this session's client address; absent in unit tests. */
  readonly guard?: SessionGuard;
  readonly sessionId: string;
}

export type DataEndpoint =
  | { readonly kind: 'none' }
  | { readonly kind: 'passive'; readonly lease: PassiveLease }
  | { readonly kind: 'active'; readonly host: string; readonly port: number };

export type LoginState =
  | { readonly phase: 'anonymous' }
  | { readonly phase: 'need-password'; readonly username: string }
  | { readonly phase: 'logged-in'; readonly principal: Principal; readonly storage: StorageBackend; readonly files: UserFiles };

export interface TransferProgress {
  readonly command: string;
  readonly path: string;
  readonly startedAt: Date;
  /** Bytes moved so far (read at STAT time). */
  bytes: () => number;
}

/** Mutable per-session protocol state (RFC 959 §4: the "parameters" a session carries). */
export interface SessionState {
  login: LoginState;
  cwd: string;
  type: 'A' | 'I';
  restOffset: number;
  renameFrom: string | null;
  data: DataEndpoint;
  epsvAll: boolean;
  /** Replaced (OPTS MLST), never changed in place: sessions share the default set. */
  mlstFacts: ReadonlySet<MlstFact>;
  failedLogins: number;
  hostName: string | null;
  transfer: TransferProgress | null;
  /** RFC 2228 §3: PBSZ must precede PROT. */
  pbszDone: boolean;
  /** RFC 4217 §9: data protection level, C (clear) until PROT P. */
  prot: 'C' | 'P';
  /** CCC done: the control connection is clear again; PBSZ/PROT/AUTH can no longer change. */
  controlCleared: boolean;
  /** OPTS HASH selection (draft-bryan-ftpext-hash §3.1). */
  hashAlgorithm: HashAlgorithm;
  /** RANG (draft-bryan-ftp-range), inclusive bytes; applies to the next HASH only. */
  hashRange: { readonly start: number; readonly end: number } | null;
}

export interface SessionContext {
  readonly deps: SessionDeps;
  readonly state: SessionState;
  readonly log: Logger;
  /** Sends one reply (single- or multi-line). */
  reply(code: number, text: string | readonly string[]): void;
  /** Resolves a client path argument against the cwd; null (and 553 sent) when invalid. */
  resolvePath(arg: string): string | null;
  /** The logged-in principal and storage; only called from handlers that require login. */
  user(): { readonly principal: Principal; readonly storage: StorageBackend };
  /** The logged-in user's files: every rule of the file service (files/user-files). */
  files(): UserFiles;
  /** True when allowed; otherwise sends 550 and returns false. */
  checkPermission(permission: Permission): boolean;
  /** Sends the reply for a storage or unexpected error, logging the detail. */
  replyError(error: unknown, operation: string): void;
  /** Takes the prepared data endpoint (PASV/EPSV/PORT/EPRT), leaving 'none'. */
  takeDataEndpoint(): DataEndpoint;
  /** Closes any prepared passive lease. */
  resetDataEndpoint(): void;
  /** Logs out and resets every parameter (REIN). */
  resetToInitial(): void;
  /** Closes the control connection after the pending replies. */
  closeControl(): void;
  /** Records a successful login and switches to the user's storage. */
  setLoggedIn(principal: Principal, storage: StorageBackend): void;
  /**
   * Takes one of the user's session slots (limits.maxSessionsPerUser) for this session; false
   * when the user is at the limit. Released on logout (REIN) and when the session ends.
   */
  claimUserSlot(user: string): Promise<boolean>;
  /**
   * Runs the body of a transfer command (RETR, STOR, LIST...) with `state.transfer` set and
   * an AbortSignal that ABOR or the end of the session triggers.
   */
  runTransfer<T>(progress: TransferProgress, body: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** ABOR: aborts the running transfer and waits for its reply; false when none runs. */
  abortTransfer(): Promise<boolean>;
  /** Drops commands queued behind the current one (sent in clear text before AUTH TLS took effect). */
  discardQueued(): void;
}
