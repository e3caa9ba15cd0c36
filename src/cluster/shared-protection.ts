/**
 * @module cluster/shared-protection
 * Owns the protection of one replica when replicas share a store (cluster.redis.url): it
 * scores hostile events, failed logins and manual bans in the store, keeps the local
 * defender's bans (the mirror connection admission reads, with no round trip) in step with
 * the store's change feed, and holds limits.maxSessionsPerUser across replicas with leased
 * session slots.
 *
 * Failure behaviour: whenever the store is unreachable or slow (past
 * cluster.redis.commandTimeoutMs), this replica decides with its local defender exactly as a
 * replica without a store does, and remembers that it did. When the store is back it
 * reconciles: lifts and bans made here meanwhile are written to the store (every local ban,
 * when the store came back empty), live sessions renew their slots, and the whole ban list
 * is reloaded. The full list is also reloaded every cluster.banSyncIntervalMs, in case a
 * published change was missed.
 */
import { randomBytes } from 'node:crypto';
import { keyFromOperatorInput } from '../security/address-key.js';
import { loginDelayMs, tracksUserName, type BanInfo, type Defender, type DefenderEvent, type ManualBanResult } from '../security/defender.js';
import type { Logger } from '../core/logger.js';
import type { SessionGuard } from '../core/session-guard.js';
import { BoundGuard } from '../core/bound-guard.js';
import type { BanPolicy, ProtectionStore, StoredBan } from './protection-store.js';

export interface SharedProtectionOptions {
  readonly sessionLeaseMs: number;
  readonly banSyncIntervalMs: number;
  readonly maxSessionsPerUser: number;
}

/** How long "this address has logged in as this user" is remembered in the store. */
const TRUST_TTL_MS = 30 * 24 * 3600 * 1000;

export class SharedProtection {
  readonly store: ProtectionStore;
  readonly #defender: Defender;
  readonly #options: SharedProtectionOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #policy: BanPolicy;
  /** This process's prefix for session slot holders (session ids are only unique per process). */
  readonly #instance = randomBytes(4).toString('hex');
  /** Logged-in sessions holding a slot, by holder id (renewed, and counted while the store is away). */
  readonly #slots = new Map<string, { user: string; holder: string }>();
  /** Since when this replica decided without the store (Infinity: nothing to reconcile). */
  #localSince = 0;
  /** Keys lifted here while the store was away. */
  readonly #liftedLocally = new Set<string>();
  #epoch: string | null = null;
  #reconciling: Promise<void> | null = null;
  #again = false;
  readonly #timers: NodeJS.Timeout[] = [];
  #closed = false;

  constructor(defender: Defender, store: ProtectionStore, options: SharedProtectionOptions, deps: { logger: Logger; now?: () => number }) {
    this.#defender = defender;
    this.store = store;
    this.#options = options;
    this.#logger = deps.logger;
    this.#now = deps.now ?? Date.now;
    const { threshold, observationWindowMs, banTimeMs, banTimeMaxMs } = defender.options;
    this.#policy = { threshold, observationWindowMs, banTimeMs, banTimeMaxMs };
  }

  /** Follows the store's change feed and status, renews session slots, reloads bans now and then. */
  start(): void {
    this.store.onChange((change) => {
      if (change.type === 'ban') this.#defender.applyBan(toInfo(change.ban));
      else this.#defender.applyLift(change.key);
    });
    this.store.onStatus((up) => {
      if (up) {
        this.#logger.info({ event: 'cluster.store-up', store: this.store.kind }, 'shared protection store reachable');
        this.#reconcile();
      } else {
        this.#decidedLocally();
        this.#logger.warn({ event: 'cluster.store-down', store: this.store.kind }, 'shared protection store unreachable: protecting with local state until it returns');
      }
    });
    const every = (ms: number, task: () => void) => {
      const timer = setInterval(task, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(Math.max(1000, Math.floor(this.#options.sessionLeaseMs / 3)), () => void this.#renew().catch((error: unknown) => this.#storeFailed('renew', error)));
    every(this.#options.banSyncIntervalMs, () => {
      if (this.store.up) this.#reconcile();
    });
    if (this.store.up) this.#reconcile();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    await this.#reconciling;
    await this.store.close();
  }

  /** The defender as one session sees it, through the store. */
  guard(remoteAddress: string): SessionGuard {
    return new BoundGuard(this, remoteAddress);
  }

  /** A hostile event: scored in the store (not awaited), or locally when it is away. */
  record(address: string, event: DefenderEvent): void {
    const scoring = this.#defender.scoring(address, event);
    if (scoring === null) return;
    if (!this.store.up) {
      this.#local(() => this.#defender.record(address, event));
      return;
    }
    this.store.score({ key: scoring.key, points: scoring.points, reason: event, now: this.#now() }, this.#policy).then(
      (result) => {
        this.#defender.noteEvent({ address, key: scoring.key, event, points: scoring.points, score: result.score });
        if (result.ban) this.#defender.applyBan(toInfo(result.ban));
      },
      (error: unknown) => {
        this.#storeFailed('score', error);
        this.#local(() => this.#defender.record(address, event));
      },
    );
  }

  /** A failed login: one round trip scores address and user name; returns the delay (ms). */
  async loginFailed(address: string, user: string): Promise<number> {
    const scoring = this.#defender.scoring(address, 'login-failed');
    if (scoring === null) return this.#defender.loginFailed(address, user);
    if (!this.store.up) return this.#local(() => this.#defender.loginFailed(address, user));
    try {
      const { key, points } = scoring;
      const userPoints = tracksUserName(user) ? points : 0;
      const result = await this.store.score({ key, points, reason: 'login-failed', user, userPoints, now: this.#now() }, this.#policy);
      this.#defender.noteEvent({ address, key, event: 'login-failed', points, score: result.score, user });
      // The ban is in force here at once; the other replicas hear of it from the store.
      if (result.ban) this.#defender.applyBan(toInfo(result.ban));
      return loginDelayMs(this.#defender.options, result.ban ? 0 : result.score, result.userScore, result.trusted);
    } catch (error) {
      this.#storeFailed('login-failed', error);
      return this.#local(() => this.#defender.loginFailed(address, user));
    }
  }

  loginSucceeded(address: string, user: string): void {
    this.#defender.loginSucceeded(address, user);
    const key = this.#defender.keyOf(address);
    if (key === null || !this.#defender.enabled || !tracksUserName(user) || !this.store.up) return;
    this.store.trust(key, user, TRUST_TTL_MS).catch((error: unknown) => this.#storeFailed('trust', error));
  }

  /** Active bans of the whole service (this replica's own while the store is away). */
  async list(): Promise<BanInfo[]> {
    if (this.store.up) {
      try {
        return (await this.store.bans(this.#now())).map(toInfo);
      } catch (error) {
        this.#storeFailed('list', error);
      }
    }
    return this.#defender.list();
  }

  /** A ban by hand, for every replica. */
  async ban(input: string, options: { durationMs?: number; reason?: string }): Promise<ManualBanResult> {
    const target = this.#defender.banTarget(input);
    if (!target.ok) return target;
    if (this.store.up) {
      try {
        const stored = await this.store.ban(target.key, { reason: options.reason ?? 'manual', manual: true, now: this.#now(), ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }) }, this.#policy);
        this.#defender.applyBan(toInfo(stored));
        return { ok: true, ban: toInfo(stored) };
      } catch (error) {
        this.#storeFailed('ban', error);
      }
    }
    return this.#local(() => this.#defender.ban(input, options));
  }

  /** Lifts a ban on every replica. */
  async lift(input: string): Promise<boolean> {
    const key = keyFromOperatorInput(input, this.#defender.options.ipv6Prefix);
    if (key === null) return false;
    const here = this.#defender.applyLift(key);
    if (this.store.up) {
      try {
        return (await this.store.lift(key)) || here;
      } catch (error) {
        this.#storeFailed('lift', error);
      }
    }
    this.#decidedLocally();
    this.#liftedLocally.add(key);
    return here;
  }

  /**
   * A slot of limits.maxSessionsPerUser across replicas, or null when the user has them all;
   * counted on this replica alone while the store is away.
   */
  async claimSession(user: string, sessionId: string): Promise<(() => void) | null> {
    const max = this.#options.maxSessionsPerUser;
    const holder = `${this.#instance}-${sessionId}`;
    let claimed: boolean | null = null;
    if (this.store.up) {
      try {
        claimed = await this.store.claimSession(user, holder, max, this.#options.sessionLeaseMs, this.#now());
      } catch (error) {
        this.#storeFailed('claim', error);
      }
    }
    if (claimed === null) {
      let here = 0;
      for (const slot of this.#slots.values()) if (slot.user === user) here++;
      claimed = max === 0 || here < max;
    }
    if (!claimed) return null;
    this.#slots.set(holder, { user, holder });
    return () => {
      if (!this.#slots.delete(holder) || !this.store.up) return;
      this.store.releaseSession(user, holder).catch((error: unknown) => this.#storeFailed('release', error));
    };
  }

  /** Runs a local decision, remembering that the store has to learn of it. */
  #local<T>(decide: () => T): T {
    this.#decidedLocally();
    return decide();
  }

  #decidedLocally(): void {
    if (this.#localSince === Infinity) this.#localSince = this.#now();
  }

  #storeFailed(operation: string, error: unknown): void {
    this.#decidedLocally();
    this.#logger.warn({ event: 'cluster.store-error', operation, err: error }, 'shared protection store command failed: decided locally');
  }

  async #renew(): Promise<void> {
    if (!this.store.up || this.#slots.size === 0) return;
    await this.store.renewSessions([...this.#slots.values()], this.#options.sessionLeaseMs, this.#now());
  }

  /** Brings the store and this replica's bans into step (one run at a time; repeats if asked meanwhile). */
  #reconcile(): void {
    if (this.#closed) return;
    if (this.#reconciling) {
      this.#again = true;
      return;
    }
    this.#reconciling = this.#reconcileOnce()
      .catch((error: unknown) => this.#storeFailed('reconcile', error))
      .finally(() => {
        this.#reconciling = null;
        if (this.#again && this.store.up) {
          this.#again = false;
          this.#reconcile();
        }
      });
  }

  async #reconcileOnce(): Promise<void> {
    const startedAt = this.#now();
    const pendingSince = this.#localSince;
    // Local decisions from here on are for the next run.
    this.#localSince = Infinity;
    try {
      await this.#pushAndPull(pendingSince, startedAt);
    } catch (error) {
      this.#localSince = Math.min(this.#localSince, pendingSince);
      throw error;
    }
  }

  async #pushAndPull(pendingSince: number, startedAt: number): Promise<void> {
    const epoch = await this.store.epoch();
    // A new epoch: the store restarted empty, so every ban this replica knows is put back.
    const lost = this.#epoch !== null && this.#epoch !== epoch;
    const since = lost ? -Infinity : pendingSince;
    const lifted = [...this.#liftedLocally];
    for (const key of lifted) await this.store.lift(key);
    let restored = 0;
    if (since !== Infinity) {
      for (const ban of this.#defender.list()) {
        if (ban.since.getTime() < since || lifted.includes(ban.address)) continue;
        await this.store.restore(toStored(ban), this.#policy);
        restored++;
      }
    }
    await this.#renew();
    const bans = await this.store.bans(this.#now());
    for (const key of lifted) this.#liftedLocally.delete(key);
    this.#epoch = epoch;
    for (const ban of bans) this.#defender.applyBan(toInfo(ban));
    // Bans lifted elsewhere (a missed message) end here; one decided here meanwhile stays.
    const keep = new Set(bans.map((ban) => ban.key));
    for (const ban of this.#defender.list()) if (ban.since.getTime() >= startedAt) keep.add(ban.address);
    this.#defender.retainBans(keep);
    if (lost || restored > 0 || lifted.length > 0) {
      this.#logger.info({ event: 'cluster.reconciled', storeLostData: lost, restoredBans: restored, liftedBans: lifted.length, bans: bans.length }, 'shared protection store reconciled');
    }
  }
}

function toInfo(ban: StoredBan): BanInfo {
  return { address: ban.key, since: new Date(ban.since), until: new Date(ban.until), offences: ban.offences, reason: ban.reason, manual: ban.manual };
}

function toStored(ban: BanInfo): StoredBan {
  return { key: ban.address, since: ban.since.getTime(), until: ban.until.getTime(), offences: ban.offences, reason: ban.reason, manual: ban.manual };
}
