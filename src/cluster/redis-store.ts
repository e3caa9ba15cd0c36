/**
 * @module cluster/redis-store
 * The protection store in Redis or Valkey (ioredis), shared by every replica of a service.
 * Each operation is one round trip (a Lua script, cluster/redis-scripts); ban changes arrive
 * on a pub/sub channel read by a second connection. Fails fast: no offline queue and a
 * short command timeout, so a login never waits on an unreachable store; the caller falls
 * back to its local state. Reconnects on its own, backing off up to 2 s.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { BAN_SCRIPT, BANS_SCRIPT, CLAIM_SCRIPT, EPOCH_SCRIPT, LIFT_SCRIPT, RESTORE_SCRIPT, SCORE_SCRIPT } from './redis-scripts.js';
import type { BanChange, BanPolicy, ProtectionStore, ScoreRequest, ScoreResult, StoredBan } from './protection-store.js';

export interface RedisStoreOptions {
  readonly url: string;
  readonly passwordFile?: string;
  readonly caFile?: string;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Connection errors, at most one per state change (the caller logs them). */
  readonly onError?: (error: Error) => void;
}

type Reply = string | number | null | Reply[];
type ScriptCall = (...args: (string | number)[]) => Promise<Reply>;
type Scripted = Redis & Record<'kftpdScore' | 'kftpdBan' | 'kftpdRestore' | 'kftpdLift' | 'kftpdBans' | 'kftpdClaim' | 'kftpdEpoch', ScriptCall>;

/** The epoch key outlives every ban the store holds in practice; touched on every check. */
const EPOCH_TTL_MS = 30 * 24 * 3600 * 1000;
const MAX_RETRY_DELAY_MS = 2000;

export class RedisProtectionStore implements ProtectionStore {
  readonly kind = 'redis';
  readonly #redis: Scripted;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #changeListeners: ((change: BanChange) => void)[] = [];
  readonly #statusListeners: ((up: boolean) => void)[] = [];
  #up = false;
  #closed = false;

  /** Reads the password and CA files, then connects (without waiting for the connection). */
  static async open(options: RedisStoreOptions): Promise<RedisProtectionStore> {
    const password = options.passwordFile ? (await readFile(options.passwordFile, 'utf8')).trim() : undefined;
    const ca = options.caFile ? await readFile(options.caFile, 'utf8') : undefined;
    return new RedisProtectionStore(options, password, ca);
  }

  private constructor(options: RedisStoreOptions, password: string | undefined, ca: string | undefined) {
    const tls = new URL(options.url).protocol === 'rediss:';
    const common: RedisOptions = {
      ...(password === undefined ? {} : { password }),
      ...(tls ? { tls: ca === undefined ? {} : { ca } } : {}),
      connectTimeout: options.connectTimeoutMs,
      retryStrategy: (times) => Math.min(100 * times, MAX_RETRY_DELAY_MS),
      lazyConnect: false,
    };
    // Commands fail at once while disconnected, and after commandTimeoutMs when Redis hangs.
    this.#redis = new Redis(options.url, { ...common, enableOfflineQueue: false, commandTimeout: options.commandTimeoutMs, maxRetriesPerRequest: 0 }) as Scripted;
    // The subscriber queues its SUBSCRIBE until connected and re-subscribes after a reconnect.
    this.#subscriber = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
    this.#prefix = `{${options.keyPrefix}}:`;
    this.#channel = `${this.#prefix}bans`;
    const scripts = { kftpdScore: [SCORE_SCRIPT, 6], kftpdBan: [BAN_SCRIPT, 4], kftpdRestore: [RESTORE_SCRIPT, 4], kftpdLift: [LIFT_SCRIPT, 4], kftpdBans: [BANS_SCRIPT, 1], kftpdClaim: [CLAIM_SCRIPT, 1], kftpdEpoch: [EPOCH_SCRIPT, 1] } as const;
    for (const [name, [lua, numberOfKeys]] of Object.entries(scripts)) this.#redis.defineCommand(name, { lua, numberOfKeys });

    let reported = false;
    const onError = (error: Error) => {
      if (reported) return;
      reported = true;
      options.onError?.(error);
    };
    this.#redis.on('error', onError);
    this.#subscriber.on('error', () => undefined);
    this.#redis.on('ready', () => {
      reported = false;
      this.#setUp(true);
    });
    this.#redis.on('close', () => this.#setUp(false));
    // A re-subscription after the subscriber lost its connection: changes may have been missed.
    this.#subscriber.on('ready', () => {
      if (this.#up) for (const listener of this.#statusListeners) listener(true);
    });
    this.#subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.#channel) return;
      const change = parseChange(text);
      if (change) for (const listener of this.#changeListeners) listener(change);
    });
    void this.#subscriber.subscribe(this.#channel).catch(() => undefined);
  }

  get up(): boolean {
    return this.#up;
  }

  async score(request: ScoreRequest, policy: BanPolicy): Promise<ScoreResult> {
    const { key, user } = request;
    const reply = (await this.#redis.kftpdScore(
      this.#key('s', key),
      this.#key('u', user ?? ''),
      this.#key('t', `${key} ${user ?? ''}`),
      ...this.#banKeys(key).slice(0, 3),
      request.now,
      policy.observationWindowMs,
      request.points,
      request.userPoints ?? 0,
      user === undefined ? '0' : '1',
      policy.threshold,
      policy.banTimeMs,
      policy.banTimeMaxMs,
      request.reason,
      this.#channel,
      key,
    )) as [string, string, number, string];
    return { score: Number(reply[0]), userScore: Number(reply[1]), trusted: reply[2] === 1, ban: reply[3] === '' ? null : parseBan(reply[3]) };
  }

  async trust(key: string, user: string, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#key('t', `${key} ${user}`), '1', 'PX', ttlMs);
  }

  async ban(key: string, options: { reason: string; manual: boolean; durationMs?: number; now: number }, policy: BanPolicy): Promise<StoredBan> {
    const text = await this.#redis.kftpdBan(...this.#banKeys(key), options.now, options.durationMs ?? '', options.reason, options.manual ? '1' : '0', policy.banTimeMs, policy.banTimeMaxMs, this.#channel, key);
    const ban = parseBan(String(text));
    if (!ban) throw new Error('the store answered a ban it cannot read');
    return ban;
  }

  async restore(ban: StoredBan, policy: BanPolicy): Promise<void> {
    await this.#redis.kftpdRestore(...this.#banKeys(ban.key), Date.now(), ban.since, ban.until, ban.offences, ban.reason, ban.manual ? '1' : '0', policy.banTimeMaxMs, this.#channel, ban.key);
  }

  async lift(key: string): Promise<boolean> {
    return (await this.#redis.kftpdLift(...this.#banKeys(key), this.#channel, key)) === 1;
  }

  async bans(now: number): Promise<StoredBan[]> {
    const texts = (await this.#redis.kftpdBans(this.#key('bans'), now, this.#key('b', ''))) as string[];
    return texts.map(parseBan).filter((ban): ban is StoredBan => ban !== null && ban.until > now);
  }

  async claimSession(user: string, holder: string, max: number, leaseMs: number, now: number): Promise<boolean> {
    return (await this.#redis.kftpdClaim(this.#key('us', user), now, holder, max, leaseMs)) === 1;
  }

  async renewSessions(slots: readonly { user: string; holder: string }[], leaseMs: number, now: number): Promise<void> {
    if (slots.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const { user, holder } of slots) pipeline.zadd(this.#key('us', user), now + leaseMs, holder).pexpire(this.#key('us', user), leaseMs);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  async releaseSession(user: string, holder: string): Promise<void> {
    await this.#redis.zrem(this.#key('us', user), holder);
  }

  async sessionCount(user: string, now: number): Promise<number> {
    return this.#redis.zcount(this.#key('us', user), `(${now}`, '+inf');
  }

  onChange(listener: (change: BanChange) => void): void {
    this.#changeListeners.push(listener);
  }

  async epoch(): Promise<string> {
    return String(await this.#redis.kftpdEpoch(this.#key('epoch'), randomBytes(8).toString('hex'), EPOCH_TTL_MS));
  }

  onStatus(listener: (up: boolean) => void): void {
    this.#statusListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#changeListeners.length = 0;
    this.#statusListeners.length = 0;
    this.#up = false;
    // quit() waits for the server's answer: bounded, the store may be gone.
    const quit = (client: Redis) => Promise.race([client.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 500).unref())]).finally(() => client.disconnect());
    await Promise.all([quit(this.#redis), quit(this.#subscriber)]);
  }

  #key(kind: string, rest?: string): string {
    return rest === undefined ? `${this.#prefix}${kind}` : `${this.#prefix}${kind}:${rest}`;
  }

  /** ban, ban index, offences, score: the keys every ban script takes. */
  #banKeys(key: string): [string, string, string, string] {
    return [this.#key('b', key), this.#key('bans'), this.#key('o', key), this.#key('s', key)];
  }

  #setUp(up: boolean): void {
    if (this.#up === up || this.#closed) return;
    this.#up = up;
    for (const listener of this.#statusListeners) listener(up);
  }
}

function parseBan(text: string): StoredBan | null {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    return toBan(value);
  } catch {
    return null;
  }
}

function toBan(value: Record<string, unknown> | undefined): StoredBan | null {
  if (!value || typeof value['key'] !== 'string' || typeof value['until'] !== 'number' || typeof value['since'] !== 'number') return null;
  return { key: value['key'], since: value['since'], until: value['until'], offences: Number(value['offences']) || 1, reason: typeof value['reason'] === 'string' ? value['reason'] : '', manual: value['manual'] === true };
}

function parseChange(text: string): BanChange | null {
  try {
    const value = JSON.parse(text) as { type?: string; key?: unknown; ban?: Record<string, unknown> };
    if (value.type === 'lift' && typeof value.key === 'string') return { type: 'lift', key: value.key };
    if (value.type === 'ban') {
      const ban = toBan(value.ban);
      return ban ? { type: 'ban', ban } : null;
    }
  } catch {
    // Not ours: ignored.
  }
  return null;
}
