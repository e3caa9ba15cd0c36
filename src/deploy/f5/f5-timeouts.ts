/**
 * @module deploy/f5/f5-timeouts
 * The BIG-IP timers derived from the server's own: TCP idle timeouts on the virtuals, and the
 * health monitor's interval and timeout. Derived rather than configured twice so the balancer
 * never cuts a session the server still keeps, and a draining replica leaves the pool before
 * its listeners close. Pure: arithmetic on the config.
 */
import type { Config } from '../../config/schema.js';

/** TCP_Profile.idleTimeout accepts 1..86400 seconds. */
const MAX_IDLE_SECONDS = 86_400;
/** Margin over the server's idle timeout: the server, not BIG-IP, should end an idle session (with 421). */
const IDLE_MARGIN_SECONDS = 60;

export interface IdleTimeouts {
  /** Control and implicit virtuals. */
  readonly control: number;
  /** Data virtuals. */
  readonly data: number;
  readonly warnings: readonly string[];
}

/**
 * The longest a session may sit idle before the server ends it: limits.idleTimeoutMs for FTP
 * control connections and, with SFTP on, sftp.idleTimeoutMs for SSH connections (the SFTP
 * virtual shares the control TCP profile). 0 (never) wins.
 */
function serverIdle(config: Config): { ms: number; setting: string } {
  const ftp = config.limits.idleTimeoutMs;
  if (!config.sftp.enabled) return { ms: ftp, setting: 'limits.idleTimeoutMs' };
  const ssh = config.sftp.idleTimeoutMs;
  if (ftp === 0 || ssh === 0) return { ms: 0, setting: ftp === 0 ? 'limits.idleTimeoutMs' : 'sftp.idleTimeoutMs' };
  return ssh > ftp ? { ms: ssh, setting: 'sftp.idleTimeoutMs' } : { ms: ftp, setting: 'limits.idleTimeoutMs' };
}

/**
 * Control virtuals (and the SFTP one): deploy.f5.idleTimeoutSeconds when set, else the
 * server's longest idle timeout plus a minute. Data virtuals get at least as much: a data connection can sit silent for as long as
 * the client pauses a transfer (the server's idle timer never runs during one), and it must
 * outlive passive.acceptTimeoutMs, the longest the server waits for it.
 */
export function idleTimeouts(config: Config): IdleTimeouts {
  const warnings: string[] = [];
  const { ms: serverIdleMs, setting } = serverIdle(config);
  const serverIdleSeconds = Math.ceil(serverIdleMs / 1000);
  let control: number;
  if (config.deploy.f5.idleTimeoutSeconds > 0) {
    control = Math.min(config.deploy.f5.idleTimeoutSeconds, MAX_IDLE_SECONDS);
    if (serverIdleMs > 0 && control <= serverIdleSeconds) {
      warnings.push(`deploy.f5.idleTimeoutSeconds (${control}) is not above ${setting} (${serverIdleSeconds} s): BIG-IP will silently drop idle sessions before kftpd ends them with 421`);
    }
  } else if (serverIdleMs === 0) {
    control = MAX_IDLE_SECONDS;
    warnings.push(`${setting} is 0 (no server idle timeout): the BIG-IP idle timeout is set to its maximum, ${MAX_IDLE_SECONDS} s`);
  } else {
    control = Math.min(serverIdleSeconds + IDLE_MARGIN_SECONDS, MAX_IDLE_SECONDS);
  }
  const acceptSeconds = Math.ceil(config.passive.acceptTimeoutMs / 1000) + IDLE_MARGIN_SECONDS;
  const data = Math.min(Math.max(control, acceptSeconds), MAX_IDLE_SECONDS);
  return { control, data, warnings };
}

export interface MonitorTiming {
  readonly interval: number;
  readonly timeout: number;
  readonly warnings: readonly string[];
}

/** BIG-IP's defaults (and the usual 3 x interval + 1 rule). */
const DEFAULT_TIMEOUT = 16;
const MIN_TIMEOUT = 4;

/**
 * BIG-IP marks a member down only when no good answer came for `timeout` seconds, so after
 * /readyz starts failing new connections keep arriving for up to that long. kftpd keeps its
 * listeners open for shutdown.readinessDelayMs after SIGTERM: the monitor timeout is fitted
 * into that window (one second to spare), up to BIG-IP's default of 16 s, with the interval
 * at a third of it as F5 recommends.
 */
export function monitorTiming(config: Config): MonitorTiming {
  const warnings: string[] = [];
  const budget = Math.floor(config.shutdown.readinessDelayMs / 1000) - 1;
  let timeout = Math.min(DEFAULT_TIMEOUT, budget);
  if (timeout < MIN_TIMEOUT) {
    timeout = MIN_TIMEOUT;
    warnings.push(`shutdown.readinessDelayMs (${config.shutdown.readinessDelayMs} ms) is shorter than BIG-IP needs to mark a draining replica down (${MIN_TIMEOUT + 1} s with a ${MIN_TIMEOUT} s monitor timeout): clients may be refused during rolling updates`);
  }
  const interval = Math.max(1, Math.floor((timeout - 1) / 3));
  return { interval, timeout, warnings };
}
