/**
 * @module session/session
 * One FTP control session: a state machine fed with command lines, answering through the
 * ControlChannel port. One command runs at a time; later lines queue behind it, except the
 * verbs RFC 959 §4.1.3 expects during a transfer (ABOR, STAT, NOOP), which run at once.
 * No sockets, files or timers here: everything goes through SessionDeps.
 */
import { parseCommand } from '../protocol/command.js';
import { formatReply, ReplyCode } from '../protocol/reply.js';
import { DEFAULT_HASH_ALGORITHM } from '../protocol/hash-reply.js';
import { TokenBucket } from '../core/token-bucket.js';
import type { Permission } from '../core/permissions.js';
import type { Principal } from '../core/principal.js';
import type { StorageBackend } from '../storage/types.js';
import { isFileAccessError } from '../files/file-access-error.js';
import { UserFiles } from '../files/user-files.js';
import { SessionFileEvents, epochMsOf } from './file-events.js';
import { COMMANDS } from './command-table.js';
import type { DataEndpoint, SessionContext, SessionDeps, SessionState, TransferProgress } from './context.js';
import type { Logger } from './ports.js';
import { errorCode, mapErrorToReply } from './reply-map.js';
import { DEFAULT_MLST_FACTS } from './handlers/listing.js';
import type { MlstFact } from '../protocol/listing.js';

/** Lines queued behind a running command; a client pipelining more than this is hostile. */
const MAX_QUEUED_LINES = 256;

/** The facts MLST/MLSD send until OPTS MLST picks others: one set for every session (never changed in place). */
const DEFAULT_MLST_FACT_SET: ReadonlySet<MlstFact> = new Set(DEFAULT_MLST_FACTS);

const NO_DATA_ENDPOINT: DataEndpoint = Object.freeze({ kind: 'none' });

/** Verbs whose argument must never reach a log. */
const REDACTED_VERBS = new Set(['PASS']);

function initialState(): SessionState {
  return {
    login: { phase: 'anonymous' },
    cwd: '/',
    type: 'A', // RFC 959 §3.1.1.1: ASCII is the default representation type
    restOffset: 0,
    renameFrom: null,
    data: NO_DATA_ENDPOINT,
    epsvAll: false,
    mlstFacts: DEFAULT_MLST_FACT_SET,
    failedLogins: 0,
    hostName: null,
    transfer: null,
    pbszDone: false,
    prot: 'C',
    controlCleared: false,
    hashAlgorithm: DEFAULT_HASH_ALGORITHM,
    hashRange: null,
  };
}

export class Session implements SessionContext {
  readonly deps: SessionDeps;
  state: SessionState = initialState();
  log: Logger;
  #queue: string[] = [];
  #running = false;
  #closed = false;
  #transferAbort: AbortController | null = null;
  #runningCommand: Promise<void> | null = null;
  #lastTransferEnd = 0;
  /** Set by drain(): idle time after which the draining session is closed; 0 = close at once when idle. */
  #draining: { readonly idleMs: number } | null = null;
  /** When the last command arrived or finished (drain idle time). */
  #lastActivity = 0;
  #commandsBeforeLogin = 0;
  /** limits.commandsPerSecond: paces commands (they wait, they are not dropped). */
  readonly #commandBucket: TokenBucket | null;
  #throttleLoggedAt = 0;
  /** This session's slot in limits.maxSessionsPerUser, while logged in. */
  #releaseUserSlot: (() => void) | null = null;

  constructor(deps: SessionDeps) {
    this.deps = deps;
    this.log = deps.logger;
    this.#lastActivity = deps.clock.now().getTime();
    const rate = deps.settings.commandsPerSecond ?? 0;
    this.#commandBucket = rate > 0 ? new TokenBucket(rate, deps.settings.commandBurst ?? rate, deps.clock.now().getTime()) : null;
  }

  /** RFC 959 §5.4: the server greets with 220 on connect. */
  greet(): void {
    this.reply(ReplyCode.ServiceReady, `${this.deps.settings.serverName} ready.`);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while a data transfer is in progress (the idle timer must not fire). */
  get transferring(): boolean {
    return this.state.transfer !== null;
  }

  /** When the last transfer ended (epoch ms, 0 if none): activity for the idle timer. */
  get lastTransferEnd(): number {
    return this.#lastTransferEnd;
  }

  get loggedIn(): boolean {
    return this.state.login.phase === 'logged-in';
  }

  get userName(): string | undefined {
    return this.state.login.phase === 'logged-in' ? this.state.login.principal.name : undefined;
  }

  /**
   * The server is shutting down. The session keeps being served while its client is busy (a
   * short session's STOR, RETR, QUIT all finish here) and gets 421 once no command has come
   * for `idleMs` (a parked session goes quickly), or at once when it is already idle that
   * long. `idleMs` 0: close when idle or right after the running command (a transfer
   * finishes first), so a client with an endless queue reconnects to another replica.
   */
  drain(idleMs = 0): void {
    this.#draining = { idleMs };
    this.#closeWhenIdle();
  }

  /** While draining: closes the session if it has been idle long enough, or checks again later. */
  #closeWhenIdle(): void {
    const draining = this.#draining;
    if (!draining || this.#closed || this.#running || this.#queue.length > 0) return;
    const wait = draining.idleMs - (this.deps.clock.now().getTime() - this.#lastActivity);
    if (wait <= 0) {
      this.#closeForDrain();
      return;
    }
    const mark = this.#lastActivity;
    void this.deps.clock.sleep(wait).then(() => {
      // A command in between re-checks when it finishes.
      if (this.#lastActivity === mark) this.#closeWhenIdle();
    });
  }

  #closeForDrain(): void {
    this.reply(ReplyCode.ServiceNotAvailable, 'Server shutting down, closing control connection.');
    this.closeControl();
  }

  /** A line longer than the configured maximum (the reader already discarded it). */
  receiveTooLong(): void {
    this.log.warn({ event: 'command.too-long' }, 'command line too long');
    this.reply(ReplyCode.SyntaxError, 'Command line too long.');
  }

  receiveLine(line: string): void {
    if (this.#closed) return;
    if (this.#draining?.idleMs === 0 && !this.#running) {
      this.#closeForDrain();
      return;
    }
    this.#lastActivity = this.deps.clock.now().getTime();
    const command = parseCommand(line);
    if (!command) return;
    const spec = COMMANDS.get(command.verb);
    if (this.#running && spec?.duringTransfer && this.state.transfer) {
      void this.#execute(command.verb, command.arg);
      return;
    }
    if (this.#running || this.#queue.length > 0) {
      if (this.#queue.length >= MAX_QUEUED_LINES) {
        this.log.warn({ event: 'command.queue-overflow' }, 'too many pipelined commands');
        this.reply(ReplyCode.ServiceNotAvailable, 'Too many pipelined commands, closing control connection.');
        this.closeControl();
        return;
      }
      this.#queue.push(line);
      return;
    }
    this.#runNext(line);
  }

  #runNext(line: string): void {
    const command = parseCommand(line);
    if (!command) {
      this.#drainQueue();
      return;
    }
    this.#running = true;
    const waitMs = this.#commandBucket?.take(this.deps.clock.now().getTime()) ?? 0;
    // Over limits.commandsPerSecond the command waits for its token (never dropped): a
    // flood is paced, its queue fills, and past MAX_QUEUED_LINES it gets 421 (receiveLine).
    const run = waitMs > 0 ? this.#throttle(waitMs).then(() => (this.#closed ? undefined : this.#execute(command.verb, command.arg))) : this.#execute(command.verb, command.arg);
    this.#runningCommand = run.finally(() => {
      this.#running = false;
      this.#runningCommand = null;
      this.#lastActivity = this.deps.clock.now().getTime();
      this.#drainQueue();
    });
  }

  #drainQueue(): void {
    if (this.#closed || this.#running) return;
    if (this.#draining?.idleMs === 0) {
      // The command that was running (a transfer) is answered; nothing new starts here.
      this.#closeForDrain();
      return;
    }
    const next = this.#queue.shift();
    if (next !== undefined) this.#runNext(next);
    else this.#closeWhenIdle();
  }

  /**
   * defender.maxCommandsBeforeLogin: a client that keeps talking without logging in (probing,
   * or holding a slot) is closed and scored. Counted per connection, REIN included.
   */
  #overPreLoginLimit(): boolean {
    const limit = this.deps.settings.maxCommandsBeforeLogin ?? 0;
    if (limit <= 0 || ++this.#commandsBeforeLogin <= limit) return false;
    this.log.warn({ event: 'session.commands-before-login', limit }, 'too many commands before login; closing');
    this.deps.guard?.report('commands-before-login');
    this.reply(ReplyCode.ServiceNotAvailable, 'Too many commands without logging in, closing control connection.');
    this.closeControl();
    return true;
  }

  async #throttle(waitMs: number): Promise<void> {
    const now = this.deps.clock.now().getTime();
    // One log line per second of throttling, not one per command.
    if (now - this.#throttleLoggedAt >= 1000) {
      this.#throttleLoggedAt = now;
      this.log.warn({ event: 'command.throttled', waitMs, queued: this.#queue.length }, 'command rate limit: commands delayed');
    }
    await this.deps.clock.sleep(waitMs);
  }

  async #execute(verb: string, arg: string): Promise<void> {
    const spec = COMMANDS.get(verb);
    this.log.info(
      { event: 'command', verb, arg: REDACTED_VERBS.has(verb) ? '***' : arg },
      'command',
    );
    this.deps.metrics.command(spec ? verb : 'UNKNOWN');
    if (this.state.login.phase !== 'logged-in' && this.#overPreLoginLimit()) return;
    if (!spec) {
      // The contract (and RFC 959 §4.2 "502 Command not implemented").
      this.reply(ReplyCode.NotImplemented, 'Command not implemented.');
      return;
    }
    if (!spec.keepsRename) this.state.renameFrom = null;
    if (!spec.keepsRange) this.state.hashRange = null;
    if (spec.requiresLogin && this.state.login.phase !== 'logged-in') {
      this.reply(ReplyCode.NotLoggedIn, 'Please login with USER and PASS.');
      return;
    }
    try {
      await spec.handle(this, arg);
    } catch (error) {
      this.replyError(error, verb);
    }
  }

  /** Runs a transfer command with an AbortController that ABOR can trigger. */
  async runTransfer<T>(progress: TransferProgress, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    // Kept until aborted: transfers run one at a time and every user of the signal removes its listener.
    const controller = this.#transferAbort?.signal.aborted === false ? this.#transferAbort : new AbortController();
    this.#transferAbort = controller;
    this.state.transfer = progress;
    try {
      return await body(controller.signal);
    } finally {
      this.state.transfer = null;
      this.#lastTransferEnd = this.deps.clock.now().getTime();
    }
  }

  /** ABOR (RFC 959 §4.1.3): aborts the running transfer; resolves once its reply is sent. */
  async abortTransfer(): Promise<boolean> {
    const controller = this.#transferAbort;
    if (!controller || !this.state.transfer) return false;
    controller.abort(new Error('ABOR'));
    if (this.#runningCommand) await this.#runningCommand.catch(() => undefined);
    return true;
  }

  reply(code: number, text: string | readonly string[]): void {
    if (this.#closed) return;
    this.deps.control.write(formatReply(code, text));
  }

  resolvePath(arg: string): string | null {
    try {
      return this.files().resolve(this.state.cwd, arg);
    } catch (error) {
      if (!isFileAccessError(error)) throw error;
      this.reply(ReplyCode.FileNameNotAllowed, 'File name not allowed.');
      return null;
    }
  }

  user(): { principal: Principal; storage: StorageBackend; files: UserFiles } {
    const login = this.state.login;
    if (login.phase !== 'logged-in') throw new Error('not logged in');
    return login;
  }

  files(): UserFiles {
    return this.user().files;
  }

  checkPermission(permission: Permission): boolean {
    // The file service decides and logs a refusal (one rule for every frontend).
    if (this.files().check(permission)) return true;
    this.reply(ReplyCode.FileUnavailable, 'Permission denied.');
    return false;
  }

  replyError(error: unknown, operation: string): void {
    const mapped = mapErrorToReply(error);
    const level = mapped.code === ReplyCode.ActionAbortedLocal ? 'error' : 'info';
    this.log[level](
      { event: 'command.failed', operation, code: errorCode(error), err: error },
      'command failed',
    );
    this.reply(mapped.code, mapped.text);
  }

  takeDataEndpoint(): DataEndpoint {
    const endpoint = this.state.data;
    this.state.data = NO_DATA_ENDPOINT;
    return endpoint;
  }

  resetDataEndpoint(): void {
    const endpoint = this.takeDataEndpoint();
    if (endpoint.kind === 'passive') endpoint.lease.close();
  }

  discardQueued(): void {
    if (this.#queue.length > 0) this.log.warn({ event: 'tls.injection-discarded', lines: this.#queue.length }, 'commands pipelined before the TLS handshake discarded');
    this.#queue = [];
  }

  resetToInitial(): void {
    this.resetDataEndpoint();
    this.#releaseUserSlot?.();
    this.#releaseUserSlot = null;
    const { hostName, pbszDone, prot, controlCleared } = this.state;
    this.state = initialState();
    // REIN logs out but the TLS layer (and its PBSZ/PROT, or a CCC) stays in force.
    Object.assign(this.state, { hostName, pbszDone, prot, controlCleared });
    this.log = this.deps.logger;
    this.deps.control.loginChanged?.();
  }

  async claimUserSlot(user: string): Promise<boolean> {
    const registry = this.deps.userSessions;
    if (!registry) return true;
    this.#releaseUserSlot?.();
    this.#releaseUserSlot = null;
    const release = await registry.claim(user, this.deps.sessionId);
    // The session may have ended while a shared count was asked: give the slot back.
    if (release && this.#closed) release();
    else this.#releaseUserSlot = release;
    return release !== null && !this.#closed;
  }

  /** Called by handlers once login succeeds. */
  setLoggedIn(principal: Principal, storage: StorageBackend): void {
    // The settings (shared) carry the path limits; no closures per session (issue 14).
    const files = new UserFiles(principal, storage, this.deps.settings, new SessionFileEvents(this), epochMsOf(this.deps.clock));
    this.state.login = { phase: 'logged-in', principal, storage, files };
    this.state.cwd = '/';
    this.log = this.deps.logger.child({ user: principal.name });
    this.deps.control.loginChanged?.();
  }

  closeControl(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    if (this.state.transfer) this.#transferAbort?.abort(new Error('session closed'));
    this.resetDataEndpoint();
    this.#releaseUserSlot?.();
    this.#releaseUserSlot = null;
    this.deps.control.close();
  }

  /** The control connection went away (client closed it, timeout, shutdown). */
  dispose(): void {
    this.#closed = true;
    this.#queue = [];
    if (this.state.transfer) this.#transferAbort?.abort(new Error('control connection closed'));
    this.#releaseUserSlot?.();
    this.#releaseUserSlot = null;
    // Held storage resources (directory handles) go with the session, not at the idle sweep.
    if (this.state.login.phase === 'logged-in') this.state.login.storage.release?.();
    this.resetDataEndpoint();
  }
}
