/**
 * @module cli/old-generation-growth
 * Lets V8's old generation grow to four times what survived the last full collection before
 * the next one (`--heap-growing-percent=300`), unless the operator set the factor.
 *
 * Why: with the young generation kept small (cli/young-generation.ts), the buffers a transfer
 * keeps in flight (read-ahead, socket reads, SSH packets) outlive two scavenges and are
 * promoted; once a first transfer had run, V8's own factor left so little room above the
 * server's ~20 MB of live heap that it ran a full mark-compact about every 50 ms for the rest
 * of the process's life. Measured on Node 20 (OpenSSH `sftp` fetching 512 MiB four times from one
 * kftpd process, 2026-12-05): the first download 485-513 MB/s at about 1.7 s of CPU per GiB, the
 * next ones 267-309 MB/s at about 3 s/GiB with 20-31 mark-compacts each; with this setting every
 * download 490-540 MB/s at 1.4-1.6 s/GiB with 3 mark-compacts in all. 2,000 idle sessions: 4.9
 * KiB each against 5.0 (a growth of 100 % made it worse, a larger initial old space or young
 * generation cost 2-2.5 KiB per idle session). V8 reads the factor whenever it sets the next
 * limit, so it can be changed once running; the heap's maximum still bounds it, and the memory
 * reducer still shrinks an idle heap.
 */
import { setFlagsFromString } from 'node:v8';
import { nodeFlagGiven } from './node-flags.js';

/** True when the operator chose the old generation's growth factor (a node flag: NODE_OPTIONS refuses V8 flags like it). */
export function oldGenerationGrowthSet(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return nodeFlagGiven(/^--heap[-_]growing[-_]percent\b/, execArgv, nodeOptions);
}

export function relaxOldGenerationGrowth(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env['NODE_OPTIONS']): boolean {
  if (oldGenerationGrowthSet(execArgv, nodeOptions)) return false;
  setFlagsFromString('--heap-growing-percent=300');
  return true;
}
