/**
 * @module runtime/defender-wiring
 * Owns how the defender is plugged into a server: its options from the config, the observer
 * that turns its decisions into log lines (`defender.event`, `defender.ban`,
 * `defender.unban`) and Prometheus metrics, and the per-session guard (the SessionGuard port,
 * bound to the session's real client address).
 */
import type { Config } from '../config/schema.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { Logger } from '../core/logger.js';
import type { SessionGuard } from '../core/session-guard.js';
import { BoundGuard } from '../core/bound-guard.js';
import { Defender, type BanInfo } from '../security/defender.js';

export interface DefenderWiring {
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /** A ban was made: close the banned address's open connections. */
  readonly onBan: (ban: BanInfo) => void;
  readonly now?: () => number;
}

export function createDefender(config: Readonly<Config>, wiring: DefenderWiring): Defender {
  const { defender } = config;
  const { logger, metrics } = wiring;
  const instance = new Defender(
    {
      enabled: defender.enabled,
      threshold: defender.threshold,
      observationWindowMs: defender.observationWindowMs,
      banTimeMs: defender.banTimeMs,
      banTimeMaxMs: defender.banTimeMaxMs,
      baseLoginDelayMs: config.limits.failedLoginDelayMs,
      maxLoginDelayMs: defender.maxLoginDelayMs,
      maxTrackedAddresses: defender.maxTrackedAddresses,
      ipv6Prefix: defender.ipv6Prefix,
      safeList: defender.safeList,
      scores: defender.scores,
    },
    {
      ...(wiring.now ? { now: wiring.now } : {}),
      // The balancers: a malformed header or a SNAT-ed data connection from one of them must
      // never ban every client behind it.
      extraSafe: config.proxy.trustedCidrs,
      observer: {
        event(info) {
          metrics.defenderEvents.inc({ event: info.event });
          logger.info(
            { event: 'defender.event', address: info.address, key: info.key, reason: info.event, points: info.points, score: Math.round(info.score * 100) / 100, ...(info.user === undefined ? {} : { user: info.user }) },
            'hostile event scored',
          );
        },
        ban(info) {
          metrics.defenderBans.inc();
          logger.warn(
            { event: 'defender.ban', address: info.address, reason: info.reason, manual: info.manual, offences: info.offences, until: info.until.toISOString(), durationMs: info.until.getTime() - info.since.getTime() },
            'address banned',
          );
          wiring.onBan(info);
        },
        unban(info) {
          logger.info({ event: 'defender.unban', address: info.address, reason: info.reason }, 'ban ended');
        },
      },
    },
  );
  metrics.observeBanned(() => instance.bannedCount);
  return instance;
}

/** The defender as one session sees it: every call is about this session's client address. */
export function sessionGuard(defender: Defender, remoteAddress: string): SessionGuard {
  return new BoundGuard(defender, remoteAddress);
}
