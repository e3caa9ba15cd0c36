/**
 * What one password check costs on this machine, for the "equal login cost" notes: kftpd's
 * scrypt (N=2^10, r=8, p=1, the bench user's cost) in Node, and SHA-512-crypt with 5,000
 * rounds (the `$6$` hash the reference servers check) through Python's crypt module, each the
 * median CPU time of a batch. Null when Python's crypt is not available.
 */
import { scryptSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';

const ROUNDS = 100;

export function scryptCostMs() {
  const samples = [];
  for (let batch = 0; batch < 3; batch++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < ROUNDS; i++) scryptSync('bench-Pa55word', 'bench-salt-16byt', 32, { N: 1024, r: 8, p: 1 });
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
