/**
 * @module config/cluster-schema
 * The `cluster` section of the one config schema: where replicas share their protection
 * state (defender scores, bans, failed-login delay counters, per-user session counts). Empty
 * by default: each replica keeps that state in memory on its own, as a single server does.
 * Pure: no I/O.
 */
import { z } from 'zod';

/** redis:// or rediss:// (TLS), without a password: that comes from passwordFile. */
export function redisUrlProblem(value: string): string | null {
  if (value === '') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a redis:// or rediss:// URL';
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return 'must be a redis:// or rediss:// URL';
  if (url.hostname === '') return 'needs a host';
  // A password in the URL would sit in a ConfigMap and in every printed config.
  if (url.password !== '') return 'must not carry a password: put it in cluster.redis.passwordFile';
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,2}$/.test(url.pathname)) return 'path must be a database number, e.g. /0';
  return null;
}

const redisSchema = z
  .strictObject({
    url: z
      .string()
      .superRefine((value, ctx) => {
        const problem = redisUrlProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default('')
      .describe('Redis or Valkey shared by every replica: redis://host:6379/0, or rediss:// for TLS; a user name (ACL) may be given as redis://user@host. Empty: no sharing, each replica protects itself alone.'),
    passwordFile: z.string().default('').describe('File holding the Redis password (mount it from a Kubernetes Secret). Empty: no AUTH, or the URL\'s user without a password.'),
    caFile: z.string().default('').describe('PEM CA bundle the rediss:// server certificate must chain to (empty: the system CAs).'),
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." and "-" only')
      .default('kftpd')
      .describe('Prefix of every key and channel, so several kftpd services can share one Redis (all keys of one service carry the hash tag {prefix}).'),
    commandTimeoutMs: z.number().int().min(10).max(10_000).default(250).describe('Longest wait for one Redis command; past it the replica decides with its local state (a login never waits longer than this for Redis).'),
    connectTimeoutMs: z.number().int().min(100).max(60_000).default(2000).describe('Timeout of a connection attempt; reconnection retries back off up to 2 s.'),
  })
  .describe('The shared store (Redis 6+ or Valkey, one primary).');

export const clusterSchema = z
  .strictObject({
    redis: redisSchema.prefault({}),
    sessionLeaseMs: z
      .number()
      .int()
      .min(5000)
      .max(3_600_000)
      .default(60_000)
      .describe('Lease of a logged-in session in the shared per-user counts (limits.maxSessionsPerUser); each replica renews its sessions every third of it, so the sessions of a replica that died leave the counts after at most this long.'),
    banSyncIntervalMs: z
      .number()
      .int()
      .min(1000)
      .max(3_600_000)
      .default(30_000)
      .describe('How often a replica reloads the whole ban list from the store, in case it missed a published ban or lift (they arrive at once otherwise).'),
  })
  .describe('Protection shared across replicas through Redis/Valkey: defender scores per address and user name, bans and their growth, failed-login delays, limits.maxSessionsPerUser. Without cluster.redis.url each replica keeps these in memory on its own. When the store is unreachable a replica keeps serving with its local state and reconciles when it returns (docs/security.md).');
