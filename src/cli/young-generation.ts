/**
 * @module cli/young-generation
 * Keeps V8's young generation at its initial size (1 MiB per semi-space) unless the operator
 * sized it through NODE_OPTIONS or node flags.
 *
 * Why: V8 grows the young generation up to 16 MiB per semi-space under an allocation burst
 * (a wave of logins, a queue of small files) and never gives the touched pages back while the
 * process then sits with idle sessions, since nothing allocates to trigger the scavenge that
 * would shrink it. Measured on Node 20 (bench/, `--quick --only=idle,small,sessions`, A/B with
 * BENCH_KFTPD_NODE_FLAGS=--max-semi-space-size=16, two rounds each, 2026-12-04): 2,000 idle
 * logged-in FTP sessions hold 7.1 KiB of PSS each with the growth off against 14.5–18.4 KiB
 * with it, while small files cost 1.08 ms of server CPU each against 1.19–1.47 and short
 * sessions 1.63–1.92 ms against 1.60–1.79: a small nursery costs nothing measurable here, as
 * the server's bulk data lives in Buffers outside the V8 heap.
 *
 * Only the growth factor can still be changed once V8 is running (the maximum size is fixed
 * when the heap is set up), and it must be changed before the server's modules load, whose
 * allocations would already grow it: cli/main.ts calls this first, then imports the rest.
 */
import { setFlagsFromString } from 'node:v8';
import { nodeFlagGiven } from './node-flags.js';

/** True when the operator set the young generation's size themselves. */
export function youngGenerationSized(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return nodeFlagGiven(/^--(?:max|min)[-_]semi[-_]space[-_]size\b|^--semi[-_]space[-_]growth[-_]factor\b/, execArgv, nodeOptions);
}

export function keepYoungGenerationSmall(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env['NODE_OPTIONS']): boolean {
  if (youngGenerationSized(execArgv, nodeOptions)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
