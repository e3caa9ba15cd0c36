/**
 * @module ftp/session-settings
 * The settings every FTP session shares, read once from the (frozen) config: one object for
 * all sessions, not one per session.
 */
import type { Config } from '../config/schema.js';
import type { SessionSettings } from '../session/context.js';

export function ftpSessionSettings(config: Readonly<Config>, passiveSlice: { readonly index: number; readonly min: number; readonly max: number }): SessionSettings {
  const { limits, tls } = config;
  return {
    serverName: config.serverName,
    hostNames: config.hostNames,
    activeEnabled: config.active.enabled,
    dataAcceptTimeoutMs: config.passive.acceptTimeoutMs,
    maxFailedLogins: limits.maxFailedLogins,
    failedLoginDelayMs: limits.failedLoginDelayMs,
    tlsControl: tls.control,
    tlsData: tls.data,
    tlsSessionReuse: tls.sessionReuse,
    usernameFromCertificate: tls.clientCertificates.usernameFrom,
    cccEnabled: tls.ccc,
    maxCommandsBeforeLogin: config.defender.maxCommandsBeforeLogin,
    replica: { ...passiveSlice, replicas: config.passive.replicas, portOffset: config.passive.portOffset },
    commandsPerSecond: limits.commandsPerSecond,
    commandBurst: limits.commandBurst,
    maxPathBytes: limits.maxPathBytes,
    maxPathDepth: limits.maxPathDepth,
    maxListEntries: limits.maxListEntries,
  };
}
