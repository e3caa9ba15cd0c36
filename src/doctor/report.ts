/**
 * @module doctor/report
 * Renders a doctor report for people (one line per finding: "OK|WARN|FAIL CODE: message",
 * the fix hint indented below) or for machines (--json), and maps it to the exit code.
 * Pure: no I/O.
 */
import type { DoctorReport } from './diagnose.js';

const LABEL = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL' } as const;

export function formatReportText(report: DoctorReport): string {
  const lines = [`kftpd doctor: ${report.target}`];
  for (const finding of report.findings) {
    lines.push(`${LABEL[finding.severity]} ${finding.code}: ${finding.message}`);
    if (finding.hint !== undefined) lines.push(`     hint: ${finding.hint}`);
  }
  const fails = report.findings.filter((f) => f.severity === 'fail').length;
  const warns = report.findings.filter((f) => f.severity === 'warn').length;
  lines.push(fails === 0 && warns === 0 ? 'all checks passed' : `${fails} failure(s), ${warns} warning(s)`);
  return `${lines.join('\n')}\n`;
}

export function formatReportJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** 0 when nothing failed, 1 otherwise (2 is reserved for usage errors, decided by the CLI). */
export function reportExitCode(report: DoctorReport): number {
  return report.ok ? 0 : 1;
}
