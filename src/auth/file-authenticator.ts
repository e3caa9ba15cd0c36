/**
 * @module auth/file-authenticator
 * Authenticates against the YAML users file and keeps it current: polls it with
 * fs.watchFile (stat follows symlinks, which is how Kubernetes swaps mounted Secret files via
 * its `..data` link) and reloads on change or on demand (SIGHUP). A bad file on reload keeps
 * the previous users.
 * Owns: anonymous logins, timing equalisation for unknown/disabled users, per-user client
 * address lists (allowFrom/denyFrom), a small cache of successful verifications.
 * Must not: tell clients why a login failed (reasons are for logs), log passwords or hashes,
 * or mutate principals it has already handed out.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { promises as fsp, unwatchFile, watchFile } from 'node:fs';
import type { Stats } from 'node:fs';
import { expandPermissions } from '../core/permissions.js';
import { Semaphore } from '../core/semaphore.js';
import type { Principal } from '../core/principal.js';
import { DEFAULT_SCRYPT_LOG_N, hashPassword, passwordHashLogN, verifyPassword } from './password-hash.js';
import type { AuthAttempt, AuthResult, Authenticator } from './types.js';
import { ANONYMOUS_USER_NAMES, parseUsersFile } from './users-file.js';
import type { UserRecord } from './users-file.js';

export type UsersReloadEvent = { ok: true; users: number } | { ok: false; error: Error };

export interface FileAuthenticatorOptions {
  readonly file: string;
  readonly reloadIntervalMs: number;
  readonly anonymous: { readonly enabled: boolean; readonly home: string };
  /** Remember successful verifications (users.verificationCache); default true. */
  readonly cacheVerifications?: boolean;
  readonly onReload?: (event: UsersReloadEvent) => void;
}

/** Bound on cached verifications: enough for every active user of a busy replica. */
const CACHE_MAX_ENTRIES = 1000;

/**
 * scrypt runs on libuv's thread pool (4 threads by default), which file I/O shares. Without a
 * bound, a password-guessing flood queues hundreds of hashes there and every legitimate
 * user's file operations (even their home lookup at login) wait behind them; two at a time
 * always leaves threads for storage.
 */
const MAX_CONCURRENT_VERIFICATIONS = 2;

const ANONYMOUS_PERMISSIONS = expandPermissions(['read-only']);

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class FileAuthenticator implements Authenticator {
  readonly #options: FileAuthenticatorOptions;
  /** Replaced wholesale on reload, never mutated, so in-flight logins see one consistent set. */
  #users: ReadonlyMap<string, UserRecord> = new Map();
  /**
   * One principal per user record, shared by all of that user's sessions (read-only to them):
   * a principal and its permission set per logged-in session was a share of every idle
   * session's memory (issue 14). A reload builds new records, hence new principals.
   */
  readonly #principals = new WeakMap<UserRecord, Principal>();
  /** Verified against for unknown users so they cost as much as known ones. */
  #dummyHash: string | undefined;
  readonly #dummyHashes = new Map<number, string>();
  /**
   * Successful verifications, in LRU order (Map iteration order = insertion order). Keys are
   * HMACs under a per-process secret so a memory dump does not hold fast-to-crack password
   * digests; a changed hash or password naturally misses.
   */
  readonly #cache = new Map<string, true>();
  readonly #cacheSecret = randomBytes(32);
  readonly #verifications = new Semaphore(MAX_CONCURRENT_VERIFICATIONS);
  readonly #stats = { hashes: 0, cacheHits: 0 };
  #reloading: Promise<void> = Promise.resolve();
  #watcher: ((curr: Stats, prev: Stats) => void) | undefined;
  #ready = false;
  #closed = false;

  constructor(options: FileAuthenticatorOptions) {
    this.#options = options;
  }

  /** Loads the file (throwing UsersFileError or the fs error) and starts watching it. */
  async start(): Promise<void> {
    await this.#load();
    this.#ready = true;
    if (this.#watcher || this.#closed) return;
    this.#watcher = (curr, prev) => {
      // A swapped file (new inode) can keep size and mtime; a vanished one reads as zeros
      // and reloads into an error, which keeps the previous users.
      if (
        curr.mtimeMs !== prev.mtimeMs ||
        curr.ctimeMs !== prev.ctimeMs ||
        curr.size !== prev.size ||
        curr.ino !== prev.ino
      ) {
        void this.reload();
      }
    };
    watchFile(this.#options.file, { interval: this.#options.reloadIntervalMs, persistent: false }, this.#watcher);
  }

  /**
   * Re-reads the file now (for SIGHUP). Never rejects: the outcome goes to onReload, and a bad
   * file keeps the previous users. Reloads are serialised.
   */
  reload(): Promise<void> {
    const run = this.#reloading.then(async () => {
      if (this.#closed) return;
      let event: UsersReloadEvent;
      try {
        event = { ok: true, users: await this.#load() };
        this.#ready = true;
      } catch (error) {
        event = { ok: false, error: toError(error) };
      }
      try {
        this.#options.onReload?.(event);
      } catch {
        // A throwing observer must not break reloading.
      }
    });
    this.#reloading = run;
    return run;
  }

  async #load(): Promise<number> {
    const text = await fsp.readFile(this.#options.file, 'utf8');
    const users = parseUsersFile(text, this.#options.file);
    const dummy = await this.#dummyFor(users);
    this.#users = new Map(users.map((u) => [u.name, u]));
    this.#dummyHash = dummy;
    return users.length;
  }

  /** A throwaway hash at the cost most users have, so unknown names take as long as known ones. */
  async #dummyFor(users: readonly UserRecord[]): Promise<string> {
    const counts = new Map<number, number>();
    for (const u of users) {
      const logN = passwordHashLogN(u.passwordHash);
      if (logN !== undefined) counts.set(logN, (counts.get(logN) ?? 0) + 1);
    }
    let logN = DEFAULT_SCRYPT_LOG_N;
    let best = 0;
    for (const [n, count] of counts) {
      if (count > best) {
        best = count;
        logN = n;
      }
    }
    let hash = this.#dummyHashes.get(logN);
    if (!hash) {
      hash = await hashPassword(randomBytes(16).toString('hex'), { logN });
      this.#dummyHashes.set(logN, hash);
    }
    return hash;
  }

  async authenticate(attempt: AuthAttempt): Promise<AuthResult> {
    const { username, password } = attempt;
    if (ANONYMOUS_USER_NAMES.includes(username.toLowerCase())) {
      const anonymous = this.#options.anonymous;
      if (!anonymous.enabled) return { ok: false, reason: 'anonymous-disabled' };
      const principal: Principal = {
        name: 'anonymous',
        home: anonymous.home,
        permissions: new Set(ANONYMOUS_PERMISSIONS),
        anonymous: true,
      };
      return { ok: true, principal };
    }

    const user = this.#users.get(username);
    if (!user) {
      if (this.#dummyHash && !attempt.publicKey) await this.#scrypt(password, this.#dummyHash);
      return { ok: false, reason: 'unknown-user' };
    }
    // Verify even for disabled users so the answer takes the same time either way.
    const byKey = attempt.publicKey;
    const valid = byKey ? (user.publicKeys ?? []).some((blob) => blob.equals(byKey)) : await this.#verify(user, password);
    if (!user.enabled) return { ok: false, reason: 'disabled' };
    if (!valid) return { ok: false, reason: byKey ? 'bad-key' : 'bad-password' };
    // Checked after the password so the log tells the operator that right credentials came
    // from a network the user may not use (a leaked password?); the client gets the same 530.
    if (user.network && !user.network.allows(attempt.remoteAddress)) return { ok: false, reason: 'address-not-allowed' };
    return { ok: true, principal: this.#principalOf(user) };
  }

  #principalOf(user: UserRecord): Principal {
    let principal = this.#principals.get(user);
    if (!principal) {
      principal = Object.freeze({
        name: user.name,
        home: user.home,
        // A copy: no one holding the principal can reach into the record.
        permissions: new Set(user.permissions),
        anonymous: false,
      });
      this.#principals.set(user, principal);
    }
    return principal;
  }

  async #verify(user: UserRecord, password: string): Promise<boolean> {
    if (this.#options.cacheVerifications === false) return this.#scrypt(password, user.passwordHash);
    // Names cannot contain NUL and hashes never do, so the NUL-separated input is unambiguous.
    const key = createHmac('sha256', this.#cacheSecret)
      .update(`${user.name}\0${user.passwordHash}\0`)
      .update(password)
      .digest('base64');
    if (this.#cache.has(key)) {
      this.#stats.cacheHits++;
      this.#cache.delete(key);
      this.#cache.set(key, true);
      return true;
    }
    const valid = await this.#scrypt(password, user.passwordHash);
    if (valid) {
      this.#cache.set(key, true);
      if (this.#cache.size > CACHE_MAX_ENTRIES) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
    }
    return valid;
  }

  /** How many password checks ran the hash and how many were answered from the cache. */
  verificationStats(): { readonly hashes: number; readonly cacheHits: number } {
    return { ...this.#stats };
  }

  async #scrypt(password: string, hash: string): Promise<boolean> {
    this.#stats.hashes++;
    const release = await this.#verifications.acquire();
    try {
      return await verifyPassword(password, hash);
    } finally {
      release();
    }
  }

  ready(): boolean {
    return this.#ready && !this.#closed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#watcher) {
      unwatchFile(this.#options.file, this.#watcher);
      this.#watcher = undefined;
    }
    await this.#reloading;
  }
}
