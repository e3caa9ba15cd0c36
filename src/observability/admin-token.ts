/**
 * @module observability/admin-token
 * Owns authentication of the admin listener's operator endpoints (/bans): a bearer token
 * read from `admin.tokenFile` (a mounted Kubernetes Secret, so rotating the Secret rotates
 * the token without a restart), compared in constant time. The token itself is never in the
 * config, never logged, and never echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export type TokenCheck = 'ok' | 'missing' | 'invalid' | 'unavailable';

/** How long a read token is reused before the file is read again (rotation delay). */
const REREAD_MS = 2000;

/** Shortest token accepted from the file: a short token is guessable over the network. */
export const MIN_TOKEN_LENGTH = 16;

export class AdminToken {
  readonly #file: string;
  readonly #now: () => number;
  #cached: { digest: Buffer | null; at: number } | null = null;
  #reading: Promise<Buffer | null> | null = null;

  constructor(file: string, now: () => number = Date.now) {
    this.#file = file;
    this.#now = now;
  }

  /** No token file configured: the protected endpoints do not exist (404). */
  get configured(): boolean {
    return this.#file !== '';
  }

  /** Checks an Authorization header ("Bearer <token>"). */
  async check(authorization: string | undefined): Promise<TokenCheck> {
    if (!this.configured) return 'unavailable';
    const expected = await this.#digest();
    if (!expected) return 'unavailable';
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!match?.[1]) return 'missing';
    // Equal-length digests make timingSafeEqual applicable whatever the presented length.
    return timingSafeEqual(sha256(match[1]), expected) ? 'ok' : 'invalid';
  }

  /** The token's digest, or null when the file is unreadable or the token too short (fail closed). */
  async #digest(): Promise<Buffer | null> {
    const cached = this.#cached;
    if (cached && this.#now() - cached.at < REREAD_MS) return cached.digest;
    this.#reading ??= readFile(this.#file, 'utf8')
      .then((text) => {
        const token = text.trim();
        return token.length >= MIN_TOKEN_LENGTH && !/\s/.test(token) ? sha256(token) : null;
      })
      .catch(() => null)
      .then((digest) => {
        this.#cached = { digest, at: this.#now() };
        this.#reading = null;
        return digest;
      });
    return this.#reading;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
