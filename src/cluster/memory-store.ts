/**
 * @module cluster/memory-store
 * The protection store in one process's memory: the reference implementation of the
 * contract the Redis store keeps, and a store several servers of one process can share.
 * Bounded like the defender (least recently used entries forgotten first); expiry is
 * checked against the caller's clock. Change notifications are delivered on a later tick,
 * as a network store delivers them.
 */
import { randomBytes } from 'node:crypto';
import { LruMap } from '../security/lru-map.js';
import { addScore, newSlidingScore, type SlidingScore } from '../security/sliding-score.js';
import { grownBanMs, type BanChange, type BanPolicy, type ProtectionStore, type ScoreRequest, type ScoreResult, type StoredBan } from './protection-store.js';

export class MemoryProtectionStore implements ProtectionStore {
  readonly kind = 'memory';
  readonly up = true;
  readonly #scores: LruMap<string, SlidingScore>;
  readonly #users: LruMap<string, SlidingScore>;
  readonly #trusted: LruMap<string, number>;
  readonly #bans: LruMap<string, StoredBan>;
  readonly #offences: LruMap<string, { count: number; forgetAt: number }>;
  readonly #sessions = new Map<string, Map<string, number>>();
  readonly #listeners: ((change: BanChange) => void)[] = [];
  readonly #epoch = randomBytes(8).toString('hex');

  constructor(options: { maxEntries?: number } = {}) {
    const max = options.maxEntries ?? 100_000;
    this.#scores = new LruMap(max);
    this.#users = new LruMap(max);
    this.#trusted = new LruMap(max);
    this.#bans = new LruMap(max);
    this.#offences = new LruMap(max);
  }

  async score(request: ScoreRequest, policy: BanPolicy): Promise<ScoreResult> {
    const { key, now } = request;
    const window = policy.observationWindowMs;
    const score = addScore(this.#sliding(this.#scores, key, now), request.points, now, window);
    let userScore = 0;
    let trusted = false;
    if (request.user !== undefined) {
      if ((request.userPoints ?? 0) > 0) userScore = addScore(this.#sliding(this.#users, request.user, now), request.userPoints ?? 0, now, window);
      const mark = this.#trusted.peek(`${key} ${request.user}`);
      trusted = mark !== undefined && mark > now;
    }
    let ban: StoredBan | null = null;
    if (request.points > 0 && score >= policy.threshold && !this.#activeBan(key, now)) ban = this.#ban(key, request.reason, false, undefined, now, policy);
    return { score, userScore, trusted, ban };
  }

  async trust(key: string, user: string, ttlMs: number): Promise<void> {
    this.#trusted.set(`${key} ${user}`, Date.now() + ttlMs);
  }

  async ban(key: string, options: { reason: string; manual: boolean; durationMs?: number; now: number }, policy: BanPolicy): Promise<StoredBan> {
    return this.#ban(key, options.reason, options.manual, options.durationMs, options.now, policy);
  }

  async restore(ban: StoredBan, policy: BanPolicy): Promise<void> {
    const current = this.#bans.peek(ban.key);
    if (current && current.until >= ban.until) return;
    this.#bans.set(ban.key, ban);
    this.#offences.set(ban.key, { count: ban.offences, forgetAt: ban.until + policy.banTimeMaxMs });
    this.#scores.delete(ban.key);
    this.#announce({ type: 'ban', ban });
  }

  async lift(key: string): Promise<boolean> {
    const ban = this.#bans.peek(key);
    this.#bans.delete(key);
    this.#scores.delete(key);
    this.#offences.delete(key);
    const lifted = ban !== undefined && ban.until > Date.now();
    if (lifted) this.#announce({ type: 'lift', key });
    return lifted;
  }

  async bans(now: number): Promise<StoredBan[]> {
    const active: StoredBan[] = [];
    for (const [key, ban] of [...this.#bans.entries()]) {
      if (ban.until > now) active.push(ban);
      else this.#bans.delete(key);
    }
    return active.sort((a, b) => a.until - b.until);
  }

  async claimSession(user: string, holder: string, max: number, leaseMs: number, now: number): Promise<boolean> {
    const slots = this.#liveSlots(user, now);
    if (max > 0 && !slots.has(holder) && slots.size >= max) return false;
    slots.set(holder, now + leaseMs);
    this.#sessions.set(user, slots);
    return true;
  }

  async renewSessions(slots: readonly { user: string; holder: string }[], leaseMs: number, now: number): Promise<void> {
    for (const { user, holder } of slots) {
      const live = this.#liveSlots(user, now);
      live.set(holder, now + leaseMs);
      this.#sessions.set(user, live);
    }
  }

  async releaseSession(user: string, holder: string): Promise<void> {
    const slots = this.#sessions.get(user);
    if (!slots) return;
    slots.delete(holder);
    if (slots.size === 0) this.#sessions.delete(user);
  }

  async sessionCount(user: string, now: number): Promise<number> {
    return this.#liveSlots(user, now).size;
  }

  onChange(listener: (change: BanChange) => void): void {
    this.#listeners.push(listener);
  }

  async epoch(): Promise<string> {
    return this.#epoch;
  }

  onStatus(): void {
    // Always up.
  }

  async close(): Promise<void> {
    this.#listeners.length = 0;
  }

  #sliding(map: LruMap<string, SlidingScore>, key: string, now: number): SlidingScore {
    let score = map.get(key);
    if (!score) {
      score = newSlidingScore(now);
      map.set(key, score);
    }
    return score;
  }

  #activeBan(key: string, now: number): StoredBan | undefined {
    const ban = this.#bans.peek(key);
    return ban && ban.until > now ? ban : undefined;
  }

  #ban(key: string, reason: string, manual: boolean, durationMs: number | undefined, now: number, policy: BanPolicy): StoredBan {
    const history = this.#offences.peek(key);
    // Offences are remembered for banTimeMaxMs after the last ban ended (as the defender does).
    const offences = history && history.forgetAt > now ? history.count + 1 : 1;
    const until = now + (durationMs ?? grownBanMs(policy, offences));
    const ban: StoredBan = { key, since: now, until, offences, reason, manual };
    this.#bans.set(key, ban);
    this.#offences.set(key, { count: offences, forgetAt: until + policy.banTimeMaxMs });
    this.#scores.delete(key);
    this.#announce({ type: 'ban', ban });
    return ban;
  }

  #liveSlots(user: string, now: number): Map<string, number> {
    const slots = this.#sessions.get(user) ?? new Map<string, number>();
    for (const [holder, until] of slots) if (until <= now) slots.delete(holder);
    return slots;
  }

  #announce(change: BanChange): void {
    for (const listener of this.#listeners) setImmediate(() => listener(change));
  }
}
