/**
 * What one password check costs on this machine, for the "equal login cost" notes: kftpd's
 * scrypt (N=2^10, r=8, p=1, the bench user's cost) in Node, and SHA-512-crypt with 5,000
 * rounds (the `$6$` hash the reference servers check) through Python's crypt module, each the
 * median CPU time of a batch. Null when Python's crypt is not available.
 *
 * calibratedLogN() picks the scrypt cost for kftpd's bench user whose check costs closest to
 * one SHA-512-crypt check on this machine, so that logins cost the same everywhere (the ratio
 * of the two differs between CPUs: 2.4 vs 2.0 ms on one Xeon, 2.1 vs 1.3 ms on one EPYC), from
 * kftpd's floor of 2^10 up.
 */
import { scryptSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';

const ROUNDS = 100;

export function scryptCostMs(logN = 10) {
  const samples = [];
  for (let batch = 0; batch < 3; batch++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < ROUNDS; i++) scryptSync('bench-Pa55word', 'bench-salt-16byt', 32, { N: 2 ** logN, r: 8, p: 1 });
    const t = process.cpuUsage(t0);
    samples.push((t.user + t.system) / 1000 / ROUNDS);
  }
  return samples.sort((a, b) => a - b)[1];
}

export function sha512CryptCostMs() {
  const script = [
    'import warnings, time',
    "warnings.simplefilter('ignore')",
    'import crypt',
    "h = crypt.crypt('bench-Pa55word', '$6$benchsaltbench$')",
    's = []',
    'for _ in range(3):',
    '    t = time.process_time()',
    `    for _ in range(${ROUNDS}): crypt.crypt('bench-Pa55word', h)`,
    `    s.append((time.process_time() - t) * 1000 / ${ROUNDS})`,
    'print(sorted(s)[1])',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
  const ms = Number.parseFloat(r.stdout);
  return r.status === 0 && Number.isFinite(ms) ? ms : null;
}

let calibration;

/** { logN, scryptMs, sha512Ms }: the scrypt N (2^logN, r=8, p=1) closest in cost to SHA-512-crypt; logN 10 without Python's crypt. Measured once per run. */
export function calibratedLogN() {
  if (calibration) return calibration;
  const sha512Ms = sha512CryptCostMs();
  if (sha512Ms === null) return (calibration = { logN: 10, scryptMs: scryptCostMs(10), sha512Ms });
  let best = null;
  // kftpd refuses a cost below 2^10 (`kftpd user add --log-n` 10–20): where SHA-512-crypt is
  // cheaper than that, kftpd's logins cost more than the references'.
  for (const logN of [10, 11, 12]) {
    const scryptMs = scryptCostMs(logN);
    if (!best || Math.abs(scryptMs - sha512Ms) < Math.abs(best.scryptMs - sha512Ms)) best = { logN, scryptMs, sha512Ms };
    // The cost doubles with each step: once past SHA-512-crypt's, larger N only gets further.
    if (scryptMs >= sha512Ms) break;
  }
  return (calibration = best);
}
