/**
 * @module runtime/drain
 * Owns the shutdown sequence across frontends: readiness fails at once, the listeners keep
 * accepting for readinessDelayMs (so the balancer marks the replica down before anyone is
 * refused), then stop; sessions finish and close once idle; from half the drain time on
 * they close at the next command boundary; at the deadline whatever is left is closed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../core/logger.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { ProtocolFrontend } from './frontend.js';

/** How often a draining server checks whether its running transfers have finished. */
const DRAIN_POLL_MS = 100;

export interface DrainOptions {
  readonly drainTimeoutMs: number;
  readonly drainIdleMs: number;
  readonly readinessDelayMs: number;
}

export interface DrainDeps {
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** Called once the listeners are to stop: admission refuses from now on. */
  readonly stopAdmission: () => void;
}

export async function drainFrontends(frontends: readonly ProtocolFrontend[], options: DrainOptions, deps: DrainDeps): Promise<void> {
  const { metrics, logger } = deps;
  const live = () => frontends.reduce((sum, f) => sum + f.liveSessions, 0);
  const { drainTimeoutMs, drainIdleMs, readinessDelayMs } = options;
  logger.info({ event: 'server.draining', sessions: live(), readinessDelayMs, drainTimeoutMs }, 'draining');
  if (readinessDelayMs > 0) await sleep(readinessDelayMs);
  // Stop accepting.
  deps.stopAdmission();
  for (const frontend of frontends) frontend.stopAccepting();
  // Sessions go on while their clients keep them busy and are closed once idle for
  // drainIdleMs, so a short session (STOR, RETR, QUIT) finishes here. From half the drain
  // time on, every session is closed as soon as its running command ends, so a client with
  // an endless queue moves to another replica at a command boundary instead of losing a
  // transfer at the deadline.
  const started = Date.now();
  const deadline = started + drainTimeoutMs;
  const closeBetweenCommandsAt = started + drainTimeoutMs / 2;
  let betweenCommands = drainIdleMs === 0;
  for (const frontend of frontends) frontend.drain(drainIdleMs);
  for (;;) {
    const open = live();
    metrics.drainingSessions.set(open);
    if (open === 0 || Date.now() >= deadline) break;
    if (!betweenCommands && Date.now() >= closeBetweenCommandsAt) {
      betweenCommands = true;
      for (const frontend of frontends) frontend.drain(0);
    }
    await sleep(DRAIN_POLL_MS);
  }
  // The deadline: each frontend closes what is left and releases its resources.
  await Promise.all(frontends.map((f) => f.close()));
  metrics.drainingSessions.set(0);
}
