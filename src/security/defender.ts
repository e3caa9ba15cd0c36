/**
 * @module security/defender
 * Owns abuse scoring and bans (in the spirit of SFTPGo's defender, ProFTPD's mod_ban and
 * FileZilla's autobanner). Hostile events add points to the client address (IPv6 aggregated
 * to a prefix, see security/address-key) and, for failed logins, to the user name; when an
 * address's score within the observation window reaches the threshold it is banned for a
 * time that doubles on every repeat offence, up to a maximum. Before that, failed logins are
 * answered ever more slowly.
 *
 * The user-name score never locks an account: it only slows the failed logins of addresses
 * that have misbehaved and have never logged in as that user, so a legitimate user from a
 * clean address still logs in at once while the name is under attack from elsewhere.
 *
 * Memory is bounded: scores, user scores, successful-login history, bans and offence
 * history each live in a map of at most `maxTrackedAddresses` entries that forgets its least
 * recently used (or oldest) entry. Time comes from an injected clock. No I/O and no logging
 * here: the observer (server.ts) turns events into log lines and metrics.
 */
import { CidrList } from '../core/cidr.js';
import { addressKey, keyFromOperatorInput } from './address-key.js';
import { LruMap } from './lru-map.js';
import { addScore, newSlidingScore, scoreAt, type SlidingScore } from './sliding-score.js';

export const DEFENDER_EVENTS = ['login-failed', 'commands-before-login', 'proxy-refused', 'data-refused', 'too-many-connections'] as const;
export type DefenderEvent = (typeof DEFENDER_EVENTS)[number];

/** Points per event (config defender.scores); 0 turns an event off. */
export interface DefenderScores {
  readonly loginFailed: number;
  readonly commandsBeforeLogin: number;
  readonly proxyRefused: number;
  readonly dataRefused: number;
  readonly tooManyConnections: number;
}

const SCORE_OF: Readonly<Record<DefenderEvent, keyof DefenderScores>> = {
  'login-failed': 'loginFailed',
  'commands-before-login': 'commandsBeforeLogin',
  'proxy-refused': 'proxyRefused',
  'data-refused': 'dataRefused',
  'too-many-connections': 'tooManyConnections',
};

export interface DefenderOptions {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly observationWindowMs: number;
  readonly banTimeMs: number;
  readonly banTimeMaxMs: number;
  /** The delay of a first failed login (limits.failedLoginDelayMs). */
  readonly baseLoginDelayMs: number;
  /** The most a failed login is ever delayed. */
  readonly maxLoginDelayMs: number;
  readonly maxTrackedAddresses: number;
  readonly ipv6Prefix: number;
  /** Addresses never scored nor banned (health checks, the balancers themselves). */
  readonly safeList: readonly string[];
  readonly scores: DefenderScores;
}

export interface BanInfo {
  /** The banned key: an IPv4 address or an IPv6 network ("2001:db8:1:2::/64"). */
  readonly address: string;
  readonly since: Date;
  readonly until: Date;
  /** 1 for a first ban; the ban time doubles with each repeat. */
  readonly offences: number;
  readonly reason: string;
  readonly manual: boolean;
}

export interface DefenderEventInfo {
  readonly address: string;
  readonly key: string;
  readonly event: DefenderEvent;
  readonly points: number;
  /** The address's score in the window after this event. */
  readonly score: number;
  readonly user?: string;
}

export interface DefenderObserver {
  event?(info: DefenderEventInfo): void;
  ban?(info: BanInfo): void;
  unban?(info: { readonly address: string; readonly reason: 'expired' | 'lifted' | 'evicted' }): void;
}

/** An active ban as the admission check sees it (no copy is made on that path). */
export interface ActiveBan {
  readonly until: number;
}

interface BanRecord extends ActiveBan {
  readonly since: number;
  readonly offences: number;
  readonly reason: string;
  readonly manual: boolean;
  /** Refused connections not yet reported in a log line (see refusalsToLog). */
  refused: number;
  lastLoggedAt: number;
}

export type ManualBanResult = { ok: true; ban: BanInfo } | { ok: false; code: 'KFTPD_BAN_INVALID_ADDRESS' | 'KFTPD_BAN_SAFE_ADDRESS' | 'KFTPD_DEFENDER_DISABLED' };

/** User names longer than this cannot exist (users file limit): not worth a tracking slot. */
const MAX_TRACKED_NAME_LENGTH = 64;

/** At most one "refused: banned" log line per banned address per this interval. */
const REFUSAL_LOG_INTERVAL_MS = 1000;

export class Defender {
  readonly options: DefenderOptions;
  readonly #now: () => number;
  readonly #observer: DefenderObserver;
  readonly #safe: CidrList;
  readonly #addresses: LruMap<string, SlidingScore>;
  readonly #users: LruMap<string, SlidingScore>;
  /** "key user" pairs that logged in successfully: exempt from the per-user slowdown. */
  readonly #trusted: LruMap<string, true>;
  /** Active bans in the order they were made (the oldest is evicted first when full). */
  readonly #bans = new Map<string, BanRecord>();
  /** Past bans per key, so a repeat offender's ban grows. */
  readonly #offences: LruMap<string, { count: number; lastUntil: number }>;

  constructor(options: DefenderOptions, deps: { now?: () => number; observer?: DefenderObserver; extraSafe?: readonly string[] } = {}) {
    this.options = options;
    this.#now = deps.now ?? Date.now;
    this.#observer = deps.observer ?? {};
    this.#safe = new CidrList([...options.safeList, ...(deps.extraSafe ?? [])]);
    const max = options.maxTrackedAddresses;
    this.#addresses = new LruMap(max);
    this.#users = new LruMap(max);
    this.#trusted = new LruMap(max);
    this.#offences = new LruMap(max);
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** The key an address is scored and banned under (null: not an IP literal). */
  keyOf(address: string): string | null {
    return addressKey(address, this.options.ipv6Prefix);
  }

  /** Entries held, for tests of the memory bound. */
  get tracked(): { addresses: number; users: number; trusted: number; bans: number; offences: number } {
    return { addresses: this.#addresses.size, users: this.#users.size, trusted: this.#trusted.size, bans: this.#bans.size, offences: this.#offences.size };
  }

  /**
   * The active ban of an address, checked on every connection: with no ban at all it returns
   * at once without touching the address; otherwise one key computation and a Map lookup.
   */
  banFor(address: string): ActiveBan | undefined {
    if (this.#bans.size === 0) return undefined;
    const key = addressKey(address, this.options.ipv6Prefix);
    if (key === null) return undefined;
    const ban = this.#bans.get(key);
    if (!ban) return undefined;
    if (ban.until > this.#now()) return ban;
    this.#expire(key);
    return undefined;
  }

  /**
   * A banned client was refused once more. Returns how many refusals to report in one log
   * line now (0: stay quiet), so a banned client hammering us cannot flood the log.
   */
  refusalsToLog(ban: ActiveBan): number {
    const record = ban as BanRecord;
    record.refused += 1;
    const now = this.#now();
    if (now - record.lastLoggedAt < REFUSAL_LOG_INTERVAL_MS) return 0;
    const count = record.refused;
    record.refused = 0;
    record.lastLoggedAt = now;
    return count;
  }

  isSafe(address: string): boolean {
    return !this.#safe.empty && this.#safe.has(address);
  }

  /** Records a hostile event from `address`; bans it when its score reaches the threshold. */
  record(address: string, event: DefenderEvent, user?: string): void {
    if (this.options.enabled) this.#record(address, event, user);
  }

  /** Scores an event; returns the address's key, or null when it is not scored (safe, not an IP). */
  #record(address: string, event: DefenderEvent, user?: string): string | null {
    const key = addressKey(address, this.options.ipv6Prefix);
    if (key === null || this.isSafe(address)) return null;
    const points = this.options.scores[SCORE_OF[event]];
    const now = this.#now();
    let score = this.#addresses.get(key);
    if (!score) {
      score = newSlidingScore(now);
      this.#addresses.set(key, score);
    }
    const total = addScore(score, points, now, this.options.observationWindowMs);
    this.#observer.event?.({ address, key, event, points, score: total, ...(user === undefined ? {} : { user }) });
    if (points > 0 && total >= this.options.threshold && !this.#bans.has(key)) this.#ban(key, event, false);
    return key;
  }

  /**
   * A failed login: scores the address and the user name, and returns how long to wait
   * before answering: limits.failedLoginDelayMs times the failed logins the window holds for
   * this address or, when larger, for the user name (that one only when this address never
   * logged in as that user), capped at maxLoginDelayMs.
   */
  loginFailed(address: string, user: string): number {
    const base = this.options.baseLoginDelayMs;
    if (!this.options.enabled) return base;
    const key = this.#record(address, 'login-failed', user);
    if (key === null) return base;
    const now = this.#now();
    const windowMs = this.options.observationWindowMs;
    const points = this.options.scores.loginFailed;
    let userScore = 0;
    if (tracksUserName(user) && points > 0) {
      let score = this.#users.get(user);
      if (!score) {
        score = newSlidingScore(now);
        this.#users.set(user, score);
      }
      userScore = addScore(score, points, now, windowMs);
    }
    const address_ = this.#addresses.peek(key);
    const addressScore = address_ ? scoreAt(address_, now, windowMs) : 0;
    return loginDelayMs(this.options, addressScore, userScore, this.#trusted.has(`${key} ${user}`));
  }

  /**
   * How an event from `address` is scored, without scoring it: its key and points, or null
   * when it is not scored (defender off, a safe address, not an IP literal). The shared
   * store (cluster/) scores with this and reports back through noteEvent/applyBan.
   */
  scoring(address: string, event: DefenderEvent): { key: string; points: number } | null {
    if (!this.options.enabled) return null;
    const key = addressKey(address, this.options.ipv6Prefix);
    if (key === null || this.isSafe(address)) return null;
    return { key, points: this.options.scores[SCORE_OF[event]] };
  }

  /** An event scored elsewhere (the shared store), reported like a local one. */
  noteEvent(info: DefenderEventInfo): void {
    this.#observer.event?.(info);
  }

  /** The key an operator's ban of `input` applies to, or why it cannot be banned. */
  banTarget(input: string): { ok: true; key: string } | { ok: false; code: 'KFTPD_BAN_INVALID_ADDRESS' | 'KFTPD_BAN_SAFE_ADDRESS' | 'KFTPD_DEFENDER_DISABLED' } {
    if (!this.options.enabled) return { ok: false, code: 'KFTPD_DEFENDER_DISABLED' };
    const key = keyFromOperatorInput(input, this.options.ipv6Prefix);
    if (key === null) return { ok: false, code: 'KFTPD_BAN_INVALID_ADDRESS' };
    if (this.isSafe(key.split('/')[0] ?? key)) return { ok: false, code: 'KFTPD_BAN_SAFE_ADDRESS' };
    return { ok: true, key };
  }

  /**
   * Installs a ban decided elsewhere (by the shared store, for any replica) as it is: no
   * growth is computed here. Reported to the observer (which closes the address's sessions)
   * unless the same ban is already in force. Returns whether anything changed.
   */
  applyBan(ban: BanInfo): boolean {
    const until = ban.until.getTime();
    const current = this.#bans.get(ban.address);
    if (current && current.until === until) return false;
    if (until <= this.#now()) return false;
    const record: BanRecord = { since: ban.since.getTime(), until, offences: ban.offences, reason: ban.reason, manual: ban.manual, refused: current?.refused ?? 0, lastLoggedAt: current?.lastLoggedAt ?? 0 };
    this.#store(ban.address, record);
    this.#observer.ban?.(toInfo(ban.address, record));
    return true;
  }

  /** Ends a ban lifted elsewhere; false when it was not in force here. */
  applyLift(key: string): boolean {
    this.#addresses.delete(key);
    this.#offences.delete(key);
    const banned = this.#bans.delete(key);
    if (banned) this.#observer.unban?.({ address: key, reason: 'lifted' });
    return banned;
  }

  /** Forgets every active ban not in `keep` (the store's list), as lifted elsewhere. */
  retainBans(keep: ReadonlySet<string>): void {
    for (const key of [...this.#bans.keys()]) if (!keep.has(key)) this.applyLift(key);
  }

  /** A successful login: this address is known for this user from now on. */
  loginSucceeded(address: string, user: string): void {
    if (!this.options.enabled || !tracksUserName(user)) return;
    const key = addressKey(address, this.options.ipv6Prefix);
    if (key !== null) this.#trusted.set(`${key} ${user}`, true);
  }

  /** Bans an address (or an IPv6 network) by hand, e.g. from the admin API. */
  ban(input: string, options: { durationMs?: number; reason?: string } = {}): ManualBanResult {
    const target = this.banTarget(input);
    if (!target.ok) return target;
    return { ok: true, ban: this.#ban(target.key, options.reason ?? 'manual', true, options.durationMs) };
  }

  /** Lifts a ban and forgets the address's score and offences. False when it was not banned. */
  lift(input: string): boolean {
    const key = keyFromOperatorInput(input, this.options.ipv6Prefix);
    if (key === null) return false;
    const banned = this.#bans.delete(key);
    this.#addresses.delete(key);
    this.#offences.delete(key);
    if (banned) this.#observer.unban?.({ address: key, reason: 'lifted' });
    return banned;
  }

  /** Active bans, soonest to end first. */
  list(): BanInfo[] {
    this.sweep();
    return [...this.#bans].map(([key, record]) => toInfo(key, record)).sort((a, b) => a.until.getTime() - b.until.getTime());
  }

  /** Active bans now (expired ones are removed first). */
  get bannedCount(): number {
    this.sweep();
    return this.#bans.size;
  }

  /** Ends expired bans (and reports them); run periodically by the server. */
  sweep(): void {
    if (this.#bans.size === 0) return;
    const now = this.#now();
    for (const [key, record] of this.#bans) if (record.until <= now) this.#expire(key);
  }

  #expire(key: string): void {
    if (this.#bans.delete(key)) this.#observer.unban?.({ address: key, reason: 'expired' });
  }

  #ban(key: string, reason: string, manual: boolean, durationMs?: number): BanInfo {
    const now = this.#now();
    const { banTimeMs, banTimeMaxMs } = this.options;
    const history = this.#offences.get(key);
    // Offences are remembered for banTimeMaxMs after the last ban ended.
    const offences = history && now - history.lastUntil < banTimeMaxMs ? history.count + 1 : 1;
    const duration = durationMs ?? Math.min(banTimeMaxMs, banTimeMs * 2 ** Math.min(offences - 1, 40));
    const record: BanRecord = { since: now, until: now + duration, offences, reason, manual, refused: 0, lastLoggedAt: 0 };
    this.#store(key, record);
    const info = toInfo(key, record);
    this.#observer.ban?.(info);
    return info;
  }

  #store(key: string, record: BanRecord): void {
    if (!this.#bans.delete(key) && this.#bans.size >= this.options.maxTrackedAddresses) {
      const oldest = this.#bans.keys().next();
      if (!oldest.done) {
        this.#bans.delete(oldest.value);
        this.#observer.unban?.({ address: oldest.value, reason: 'evicted' });
      }
    }
    this.#bans.set(key, record);
    this.#offences.set(key, { count: record.offences, lastUntil: record.until });
    // The next ban (after this one ends) starts from a clean score.
    this.#addresses.delete(key);
  }
}

/** User names longer than this cannot exist (users file limit): never scored by name. */
export function tracksUserName(user: string): boolean {
  return user.length <= MAX_TRACKED_NAME_LENGTH;
}

/**
 * The wait before answering a failed login: limits.failedLoginDelayMs times the failed
 * logins the window holds for the address or, when larger, for the user name (that one only
 * when the address never logged in as that user: someone else's attack on a name does not
 * slow its owner), capped at maxLoginDelayMs.
 */
export function loginDelayMs(options: Pick<DefenderOptions, 'baseLoginDelayMs' | 'maxLoginDelayMs' | 'scores'>, addressScore: number, userScore: number, trusted: boolean): number {
  const base = options.baseLoginDelayMs;
  const failures = Math.max(addressScore, trusted ? 0 : userScore) / Math.max(1, options.scores.loginFailed);
  const cap = Math.max(base, options.maxLoginDelayMs);
  return Math.round(Math.min(cap, base * Math.max(1, failures)));
}

function toInfo(key: string, record: BanRecord): BanInfo {
  return { address: key, since: new Date(record.since), until: new Date(record.until), offences: record.offences, reason: record.reason, manual: record.manual };
}
