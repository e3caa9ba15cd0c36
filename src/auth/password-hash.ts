/**
 * @module auth/password-hash
 * Password hashing for the users file: scrypt in a self-describing PHC-like string,
 * `$scrypt$ln=<logN>,r=<r>,p=<p>$<salt>$<key>` (unpadded base64).
 * Owns: the encoding, parameter bounds and constant-time comparison.
 * Must not: log or return passwords, or accept parameters that would let a hostile users
 * file make one login cost unbounded memory/CPU.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';

/** 2^15 iterations: ~32 MiB and tens of milliseconds per hash, OWASP's scrypt baseline. */
export const DEFAULT_SCRYPT_LOG_N = 15;

const MIN_LOG_N = 10;
const MAX_LOG_N = 20;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

const ENCODED = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{11,88})\$([A-Za-z0-9+/]{22,88})$/;

interface ParsedHash {
  readonly logN: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}

function parse(encoded: string): ParsedHash | undefined {
  if (typeof encoded !== 'string') return undefined;
  const m = ENCODED.exec(encoded);
  if (!m) return undefined;
  const logN = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // Bounds keep a hostile or mistyped file from turning a login into a memory bomb.
  if (logN < MIN_LOG_N || logN > MAX_LOG_N || r < 1 || r > 16 || p < 1 || p > 4) return undefined;
  const salt = Buffer.from(m[4] ?? '', 'base64');
  const key = Buffer.from(m[5] ?? '', 'base64');
  if (salt.length < 8 || key.length < 16 || key.length > 64) return undefined;
  return { logN, r, p, salt, key };
}

function derive(password: string, salt: Buffer, keyLength: number, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  const options: ScryptOptions = {
    N,
    r,
    p,
    // Node refuses when 128*N*r exceeds maxmem (default 32 MiB, exactly the default cost);
    // twice the need plus slack leaves room for p and bookkeeping.
    maxmem: 128 * r * N * 2 + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(password: string, options?: { logN?: number }): Promise<string> {
  const logN = options?.logN ?? DEFAULT_SCRYPT_LOG_N;
  if (!Number.isInteger(logN) || logN < MIN_LOG_N || logN > MAX_LOG_N) {
    throw new RangeError(`logN must be an integer between ${MIN_LOG_N} and ${MAX_LOG_N}`);
  }
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, logN, BLOCK_SIZE, PARALLELISM);
  return `$scrypt$ln=${logN},r=${BLOCK_SIZE},p=${PARALLELISM}$${b64(salt)}$${b64(key)}`;
}

/** Checks a password against an encoded hash; false (never a throw) for malformed encodings. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parse(encoded);
  if (!parsed || typeof password !== 'string') return false;
  let key: Buffer;
  try {
    key = await derive(password, parsed.salt, parsed.key.length, parsed.logN, parsed.r, parsed.p);
  } catch {
    return false;
  }
  return timingSafeEqual(key, parsed.key);
}

/** Whether `s` is a hash this module can verify (used to refuse plain-text passwords). */
export function isPasswordHash(s: unknown): boolean {
  return typeof s === 'string' && parse(s) !== undefined;
}

/** The logN of an encoded hash, or undefined (lets callers equalise timing across users). */
export function passwordHashLogN(encoded: string): number | undefined {
  return parse(encoded)?.logN;
}
