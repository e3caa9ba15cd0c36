/**
 * @module observability/metrics
 * Prometheus metrics (prom-client) fed by sessions through the SessionMetrics port.
 * Exposed over HTTP by the admin listener (a later issue); readable in tests via the registry.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionMetrics } from '../core/session-metrics.js';
import type { FileProtocol, TransferRecord } from '../core/transfer-record.js';

export class ServerMetrics implements SessionMetrics {
  readonly registry = new Registry();
  readonly sessions = new Gauge({ name: 'kftpd_sessions', help: 'Open control connections.', registers: [this.registry] });
  readonly sessionsRejected = new Counter({
    name: 'kftpd_sessions_rejected_total',
    help: 'Control connections refused by a limit.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly logins = new Counter({ name: 'kftpd_logins_total', help: 'Login attempts by protocol (ftp, sftp) and result.', labelNames: ['protocol', 'result'] as const, registers: [this.registry] });
  readonly commands = new Counter({ name: 'kftpd_commands_total', help: 'Commands received by verb.', labelNames: ['verb'] as const, registers: [this.registry] });
  readonly transfers = new Counter({
    name: 'kftpd_transfers_total',
    help: 'Data transfers by protocol (ftp, sftp), direction and result.',
    labelNames: ['protocol', 'direction', 'result'] as const,
    registers: [this.registry],
  });
  readonly transferBytes = new Counter({
    name: 'kftpd_transfer_bytes_total',
    help: 'Bytes moved by protocol (ftp: data connections, sftp: READ/WRITE) and direction.',
    labelNames: ['protocol', 'direction'] as const,
    registers: [this.registry],
  });
  readonly transferSeconds = new Histogram({
    name: 'kftpd_transfer_duration_seconds',
    help: 'Data transfer duration by protocol and direction.',
    labelNames: ['protocol', 'direction'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [this.registry],
  });
  readonly passiveExhaustions = new Counter({
    name: 'kftpd_passive_ports_exhausted_total',
    help: 'PASV/EPSV requests refused because no passive port was free.',
    registers: [this.registry],
  });

  #passiveInUse: () => number = () => 0;
  #passiveBound: () => number = () => 0;
  readonly passivePortsInUse = new Gauge({
    name: 'kftpd_passive_ports_in_use',
    help: 'Passive ports with a pending lease (waiting for a client\'s data connection).',
    registers: [this.registry],
    collect: () => {
      this.passivePortsInUse.set(this.#passiveInUse());
    },
  });

  readonly passivePortsBound = new Gauge({
    name: 'kftpd_passive_ports_bound',
    help: 'Passive listening sockets bound: leased, or kept idle for the next PASV/EPSV (passive.listenerIdleMs).',
    registers: [this.registry],
    collect: () => {
      this.passivePortsBound.set(this.#passiveBound());
    },
  });

  /** Where the passive-ports gauges read their values at scrape time. */
  observePassivePorts(inUse: () => number, bound: () => number): void {
    this.#passiveInUse = inUse;
    this.#passiveBound = bound;
  }

  readonly proxyErrors = new Counter({
    name: 'kftpd_proxy_protocol_errors_total',
    help: 'Connections refused for a missing, invalid, late or untrusted PROXY header, by listener and reason.',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  readonly draining = new Gauge({ name: 'kftpd_draining', help: '1 while the server drains for shutdown.', registers: [this.registry] });
  readonly drainingSessions = new Gauge({
    name: 'kftpd_draining_sessions',
    help: 'Sessions still open while draining (running transfers being allowed to finish).',
    registers: [this.registry],
  });
  readonly tlsDataRefusals = new Counter({
    name: 'kftpd_tls_data_refused_total',
    help: 'TLS data connections refused (session not resumed from the control connection, or failed handshake).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly tlsHandshakes = new Counter({
    name: 'kftpd_tls_handshakes_total',
    help: 'TLS handshakes by channel (control, data) and result.',
    labelNames: ['channel', 'result'] as const,
    registers: [this.registry],
  });

  readonly defenderBans = new Counter({
    name: 'kftpd_defender_bans_total',
    help: 'Client addresses (IPv6: networks) banned by the defender or by hand (with cluster.redis.url: every ban this replica applied, wherever it was decided).',
    registers: [this.registry],
  });

  readonly defenderEvents = new Counter({
    name: 'kftpd_defender_events_total',
    help: 'Hostile events scored by the defender, by event.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  #bannedCount: () => number = () => 0;
  readonly defenderBanned = new Gauge({
    name: 'kftpd_defender_banned_addresses',
    help: 'Client addresses (IPv6: networks) banned now.',
    registers: [this.registry],
    collect: () => {
      this.defenderBanned.set(this.#bannedCount());
    },
  });

  /** Where the banned-addresses gauge reads its value at scrape time. */
  observeBanned(count: () => number): void {
    this.#bannedCount = count;
  }

  /**
   * kftpd_cluster_store_up, registered only when a shared store (cluster.redis.url) is
   * configured: a replica without one has nothing to be up or down.
   */
  observeClusterStore(up: () => boolean): void {
    const gauge = new Gauge({
      name: 'kftpd_cluster_store_up',
      help: '1 while the shared protection store (cluster.redis.url) is reachable; 0 while this replica protects itself with its local state.',
      registers: [this.registry],
      collect: () => {
        gauge.set(up() ? 1 : 0);
      },
    });
  }

  tlsHandshake(channel: 'control' | 'data', ok: boolean): void {
    this.tlsHandshakes.inc({ channel, result: ok ? 'ok' : 'failed' });
  }

  tlsDataRefused(reason: 'not-resumed' | 'handshake-failed'): void {
    this.tlsDataRefusals.inc({ reason });
  }

  command(verb: string): void {
    this.commands.inc({ verb });
  }

  login(result: 'ok' | 'failed', protocol: FileProtocol): void {
    this.logins.inc({ protocol, result });
  }

  transfer(record: TransferRecord): void {
    const { protocol, direction } = record;
    this.transfers.inc({ protocol, direction, result: record.result });
    this.transferBytes.inc({ protocol, direction }, record.bytes);
    this.transferSeconds.observe({ protocol, direction }, record.durationMs / 1000);
  }

  passiveExhausted(): void {
    this.passiveExhaustions.inc();
  }
}
