/**
 * @module doctor/summary
 * The findings `kftpd doctor --external` draws from a whole run rather than from one step:
 * control path, replicas, passive modes, misrouted data connections. Pure.
 */
import type { ReplicaStatus } from '../protocol/replica-status.js';
import type { ProbeRecord, SessionRecord } from './doctor-types.js';
import { findings, type Finding } from './findings.js';

/** What a run collected, for the summary. */
export interface RunResults {
  /** Sessions that got as far as probing. */
  readonly live: number;
  readonly firstGreeting: { readonly ms: number; readonly text: string } | null;
  readonly sessions: readonly SessionRecord[];
  readonly probes: readonly ProbeRecord[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

function mode(probes: readonly ProbeRecord[]): string {
  return [...new Set(probes.map((p) => p.mode))].join('/');
}

/**
 * The summary findings of a run: the control path, which replicas answered, each passive mode
 * that worked on every probe, and data connections the balancer took but never delivered
 * (grouped by the replica that announced them).
 */
export function summarise(run: RunResults, add: (finding: Finding) => void): void {
  const { live, firstGreeting, sessions, probes: allProbes } = run;
  if (firstGreeting) add(findings.controlOk(live, firstGreeting.ms, firstGreeting.text));
  // Replicas
  const known = sessions.filter((s) => s.replica !== null);
  if (known.length < sessions.length) add(findings.replicaUnknown());
  if (known.length > 0) {
    const parts = known.map((s) => {
      const r = s.replica as ReplicaStatus;
      return `session ${s.index} on replica ${r.index} of ${r.replicas} (ports ${r.announced ? `${r.announced.min}-${r.announced.max}` : 'kernel-chosen'})`;
    });
    add(findings.replicaOk(`replicas answering: ${parts.join(', ')}`));
  }
  // Passive modes
  for (const mode of ['PASV', 'EPSV'] as const) {
    const probes = allProbes.filter((p) => p.mode === mode);
    if (probes.length === 0) continue;
    const refused = probes.filter((p) => p.outcome === 'passive-refused');
    const other = allProbes.filter((p) => p.mode !== mode);
    if (refused.length > 0) add(findings.passiveRefused(mode, refused[0]?.reply ?? '', other.some((p) => p.outcome === 'ok')));
    const ok = probes.filter((p) => p.outcome === 'ok');
    if (ok.length === probes.length) {
      const ports = ok.map((p) => String(p.port)).join(', ');
      const tlsNote =
        (ok.every((p) => p.tlsResumed === true) ? ', TLS session resumed on every data connection' : '') +
        (ok.some((p) => p.fellBack === true) ? '; only by connecting to the dialled address instead of the announced one' : '');
      add(
        findings.passiveOk(
          mode,
          `${ok.length} of ${probes.length} probes listed the directory end to end (ports ${ports}; connect ${median(ok.map((p) => p.connectMs ?? 0))} ms, total ${median(ok.map((p) => p.totalMs))} ms median${tlsNote})`,
        ),
      );
    }
  }
  // Data connections the balancer took but never delivered, grouped by replica.
  const dropped = allProbes.filter((p) => p.outcome === 'dropped');
  if (dropped.length > 0) {
    const byReplica = new Map<string, ProbeRecord[]>();
    for (const p of dropped) {
      const key = p.replica === null ? 'unknown replica' : `replica ${p.replica}`;
      byReplica.set(key, [...(byReplica.get(key) ?? []), p]);
    }
    const working = new Set(allProbes.filter((p) => p.outcome === 'ok' && p.replica !== null).map((p) => p.replica));
    const groups = [...byReplica.entries()].map(([key, probes]) => {
      const first = probes[0] as ProbeRecord;
      const status = sessions.find((s) => s.index === first.session)?.replica;
      const slice = status?.announced ? ` of its slice ${status.announced.min}-${status.announced.max}` : '';
      return `${mode(probes)} port(s) ${probes.map((p) => `${p.dataHost ?? ''}:${String(p.port)}`).join(', ')} announced by ${key}${slice}`;
    });
    const workingText = working.size > 0 ? `; data connections of replica(s) ${[...working].sort().join(', ')} worked` : '';
    add(findings.dataMisrouted(`${groups.join('; ')}${workingText}`));
  }
}
