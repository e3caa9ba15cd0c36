/**
 * @module config/security-schema
 * The `defender` and `access` sections of the one config schema: abuse scoring and bans
 * (security/defender.ts), client address allow/deny lists checked at connection admission,
 * and the caps on connections that have not logged in yet (slow-loris defence). Pure: no I/O.
 */
import { z } from 'zod';
import { isCidrList } from '../core/cidr.js';

const ms = z.number().int().min(0);
const points = z.number().int().min(0).max(1_000_000);
const cidrs = z.array(z.string()).refine(isCidrList, 'every entry must be a CIDR or an IP address');

const scoresSchema = z
  .strictObject({
    loginFailed: points.default(2).describe('Points for a failed login (wrong password, unknown or disabled user, login from an address the user may not use).'),
    commandsBeforeLogin: points.default(5).describe('Points when a connection sends more than defender.maxCommandsBeforeLogin commands without logging in (it is then closed).'),
    proxyRefused: points.default(5).describe('Points for a missing, malformed or untrusted PROXY header (scored on the direct peer; trusted balancers are never scored).'),
    dataRefused: points.default(3).describe('Points for a refused data connection: from a foreign address (scored on that address), or a TLS session not resumed from the control connection.'),
    tooManyConnections: points.default(1).describe('Points for a connection refused by a per-address cap (limits.maxSessionsPerAddress, access.maxUnauthenticatedPerAddress).'),
  })
  .describe('Points each hostile event adds to the client address (0 turns the event off).');

export const defenderSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Score hostile events per client address and ban addresses that reach the threshold.'),
    threshold: z.number().int().min(1).default(20).describe('Score within the observation window at which an address is banned.'),
    observationWindowMs: z.number().int().min(1000).default(600_000).describe('Sliding window over which an address\'s points add up.'),
    banTimeMs: z.number().int().min(1000).default(900_000).describe('Length of a first ban; each repeat offence (within banTimeMaxMs of the previous ban\'s end) doubles it.'),
    banTimeMaxMs: z.number().int().min(1000).default(86_400_000).describe('Longest ban.'),
    maxLoginDelayMs: ms
      .default(10_000)
      .describe('Cap on the delay of a failed login. The delay is limits.failedLoginDelayMs times the failed logins in the window of the address or, when more, of the user name (the latter only for addresses that never logged in as that user: a user under attack is slowed for the attackers, never locked out; a correct password is never delayed).'),
    maxCommandsBeforeLogin: z.number().int().min(0).default(30).describe('Commands a connection may send before logging in; one more closes it with 421 and scores commandsBeforeLogin (0: no limit).'),
    maxTrackedAddresses: z
      .number()
      .int()
      .min(100)
      .max(10_000_000)
      .default(20_000)
      .describe('Bound on the addresses (and, separately, user names and bans) the defender remembers; the least recently seen is forgotten first, so a flood of random addresses cannot grow memory.'),
    ipv6Prefix: z.number().int().min(1).max(128).default(64).describe('IPv6 addresses are scored and banned per network of this prefix length (one attacker usually owns a whole /64).'),
    safeList: cidrs
      .default([])
      .describe('Addresses (CIDR) never scored nor banned, e.g. the balancer\'s health checks. proxy.trustedCidrs are always safe too: banning a balancer would ban every client behind it. Behind a SNAT balancer without the PROXY protocol every client shares the balancer\'s address: list it here (per-user allowFrom and access lists then see it too).'),
    scores: scoresSchema.prefault({}),
  })
  .refine((defender) => defender.banTimeMaxMs >= defender.banTimeMs, { path: ['banTimeMaxMs'], message: 'must be >= defender.banTimeMs' })
  .describe('Brute-force and abuse protection: scores, bans that grow on repeat, slower failed logins. Bans are per replica unless cluster.redis.url shares them; list and lift them with `kftpd bans` through the admin listener.');

export const accessSchema = z
  .strictObject({
    allow: cidrs.default([]).describe('Client addresses (CIDR, IPv4 and IPv6) allowed to connect; empty: everyone. Checked on the real client address (after PROXY) when the connection arrives.'),
    deny: cidrs.default([]).describe('Client addresses refused with 421 when they connect; deny wins over allow.'),
    maxUnauthenticated: z
      .number()
      .int()
      .min(1)
      .default(256)
      .describe('Connections that have not logged in yet, in total. When full, a new connection closes the one that has waited longest instead of being refused, so connections that never log in cannot keep legitimate users out. Keep it below limits.maxSessions: the difference is what waiting connections can never take from logged-in users.'),
    maxUnauthenticatedPerAddress: z
      .number()
      .int()
      .min(1)
      .default(32)
      .describe('Connections one client address may hold before logging in; the next one is refused with 421 (and scored), so one address cannot fill access.maxUnauthenticated. Keep it at or below limits.maxSessionsPerAddress, with room for a NAT of many users logging in at once.'),
  })
  .describe('Who may connect, and how many connections may wait to log in (slow-loris defence). Per-user allowFrom/denyFrom lists live in the users file.');
