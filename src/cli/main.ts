#!/usr/bin/env node
/**
 * @module cli/main
 * The `kftpd` executable. Process-wide V8 settings come first (cli/young-generation.ts,
 * cli/old-generation-growth.ts: they must precede the allocations of loading the server), then
 * the dispatcher is loaded and run.
 * The CLI is the only place that owns the process (exit codes, signals, stdin/stdout).
 */
import { relaxOldGenerationGrowth } from './old-generation-growth.js';
import { keepYoungGenerationSmall } from './young-generation.js';

keepYoungGenerationSmall();
relaxOldGenerationGrowth();
const { main, readStdin } = await import('./dispatch.js');

main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin,
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`kftpd: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
