/**
 * @module cluster/protection-store
 * The port behind which replicas share their protection state: defender scores per client
 * address key and per user name, bans (with their growth on repeat offences), the
 * "address has logged in as this user" marks that spare a user from others' attacks, and
 * leased per-user session slots (limits.maxSessionsPerUser). Two implementations keep one
 * contract (test/contract/protection-store.contract.ts): in memory (one process) and Redis
 * (every replica of a service).
 *
 * Every operation a login waits for is one round trip. Ban changes (made by scoring, by
 * hand, or lifted) are announced to every subscriber, the replica that made them included,
 * so each replica's local mirror of the bans (the one connection admission reads) follows.
 * Times are epoch milliseconds from the caller's clock.
 */

/** The defender settings the store decides bans with. */
export interface BanPolicy {
  readonly threshold: number;
  readonly observationWindowMs: number;
  readonly banTimeMs: number;
  readonly banTimeMaxMs: number;
}

export interface StoredBan {
  /** The banned key: an IPv4 address or an IPv6 network (security/address-key). */
  readonly key: string;
  readonly since: number;
  readonly until: number;
  readonly offences: number;
  readonly reason: string;
  readonly manual: boolean;
}

export interface ScoreRequest {
  readonly key: string;
  readonly points: number;
  /** The event, which becomes the reason of a ban it causes. */
  readonly reason: string;
  /** A failed login: the user name is scored too (userPoints) and its trust mark read. */
  readonly user?: string;
  readonly userPoints?: number;
  readonly now: number;
}

export interface ScoreResult {
  /** The key's score in the window after this event (before a ban it caused resets it). */
  readonly score: number;
  /** The user name's score after this event (0 without a user). */
  readonly userScore: number;
  /** This key has logged in as this user before. */
  readonly trusted: boolean;
  /** The ban this event caused, if it did. */
  readonly ban: StoredBan | null;
}

export type BanChange = { readonly type: 'ban'; readonly ban: StoredBan } | { readonly type: 'lift'; readonly key: string };

export interface ProtectionStore {
  /** 'memory' or 'redis', for logs. */
  readonly kind: string;
  /** Adds points to a key (and a failed login's user name); bans the key at the threshold. */
  score(request: ScoreRequest, policy: BanPolicy): Promise<ScoreResult>;
  /** `key` logged in as `user`: remembered for `ttlMs`. */
  trust(key: string, user: string, ttlMs: number): Promise<void>;
  /** A ban by hand (durationMs) or by growth (no durationMs: banTimeMs doubled per offence). */
  ban(key: string, options: { reason: string; manual: boolean; durationMs?: number; now: number }, policy: BanPolicy): Promise<StoredBan>;
  /** Puts back a ban decided while the store was away; an existing later-ending ban wins. */
  restore(ban: StoredBan, policy: BanPolicy): Promise<void>;
  /** Lifts a ban and forgets the key's score and offences; false when it was not banned. */
  lift(key: string): Promise<boolean>;
  /** Active bans, soonest to end first. */
  bans(now: number): Promise<StoredBan[]>;
  /**
   * A session slot of `user` for `holder` (unique per session) until now + leaseMs, or false
   * when `max` unexpired slots are held (max 0: no limit, the slot is only counted).
   */
  claimSession(user: string, holder: string, max: number, leaseMs: number, now: number): Promise<boolean>;
  /** Extends (or puts back, after a store restart) the leases of live sessions. */
  renewSessions(slots: readonly { user: string; holder: string }[], leaseMs: number, now: number): Promise<void>;
  releaseSession(user: string, holder: string): Promise<void>;
  /** Unexpired slots of `user`. */
  sessionCount(user: string, now: number): Promise<number>;
  /** Ban changes from every replica (this one's too). */
  onChange(listener: (change: BanChange) => void): void;
  /**
   * An id of the store's data set, created on first use: a different answer later means the
   * store lost its data (restarted empty) and the replicas must put their state back.
   */
  epoch(): Promise<string>;
  /** Reachable now (commands would be sent at once). */
  readonly up: boolean;
  /**
   * Reachability changes (connection lost, back). `true` also comes again when the change
   * feed was re-established: changes may have been missed, the listener should reload.
   */
  onStatus(listener: (up: boolean) => void): void;
  close(): Promise<void>;
}

/** The length of a ban by growth: banTimeMs doubled per repeat offence, capped at banTimeMaxMs. */
export function grownBanMs(policy: BanPolicy, offences: number): number {
  return Math.min(policy.banTimeMaxMs, policy.banTimeMs * 2 ** Math.min(offences - 1, 40));
}
