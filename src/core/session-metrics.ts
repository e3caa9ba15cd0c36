/**
 * @module core/session-metrics
 * The metrics port sessions feed: command, login, TLS and transfer counters. Implemented with
 * prom-client in observability/metrics.ts; a no-op for tests and embedders without metrics.
 * Must not: hold an implementation beyond the no-op.
 */
import type { FileProtocol, TransferRecord } from './transfer-record.js';

/** Counters and histograms fed by sessions; implemented with prom-client in observability/. */
export interface SessionMetrics {
  command(verb: string): void;
  login(result: 'ok' | 'failed', protocol: FileProtocol): void;
  /** A TLS handshake finished (or failed) on a control or data connection. */
  tlsHandshake(channel: 'control' | 'data', ok: boolean): void;
  /** A data connection refused because its TLS session was not resumed (or its handshake failed). */
  tlsDataRefused(reason: 'not-resumed' | 'handshake-failed'): void;
  transfer(record: TransferRecord): void;
  passiveExhausted(): void;
}

export const NOOP_METRICS: SessionMetrics = {
  command() {},
  login() {},
  tlsDataRefused() {},
  tlsHandshake() {},
  transfer() {},
  passiveExhausted() {},
};
