/**
 * @module cli/commands/render
 * `kftpd render <target>`: load the config exactly as the server would (file, KFTPD_* env,
 * flags), then print a deployment artefact generated from it on stdout (warnings on
 * stderr). Writing files is left to the shell (`> kubernetes.yaml`) or `--output`.
 */
import { writeFile } from 'node:fs/promises';
import { ConfigError } from '../../config/errors.js';
import { loadConfig } from '../../config/load.js';
import { flagOverrides } from '../../config/sources.js';
import { DeployLayoutError } from '../../deploy/layout.js';
import { RENDER_TARGETS } from '../../deploy/render-targets.js';
import type { CliIo } from '../io.js';
import { takeConfigFlag } from './serve.js';

export function renderUsage(): string {
  const width = Math.max(...Object.keys(RENDER_TARGETS).map((name) => name.length), 10);
  const targets = Object.entries(RENDER_TARGETS)
    .map(([name, target]) => `  ${name.padEnd(width)}  ${target.description}`)
    .join('\n');
  return [
    'usage: kftpd render <target> [--config <file>] [--output <file>] [--force] [--<setting>=<value> ...]',
    '',
    'Targets:',
    targets,
    '',
    'The config is read as `kftpd serve` reads it; the deploy.* settings (docs/configuration.md)',
    'choose names, images, Services and BIG-IP objects. Output goes to stdout unless --output.',
    'A design that renders but cannot work is an error (exit 2, nothing written) unless --force.',
  ].join('\n');
}

/** Exit codes: 0 rendered, 2 bad usage or a config that cannot be rendered, 1 unexpected failure. */
export async function runRender(args: string[], io: CliIo): Promise<number> {
  const [targetName, ...afterTarget] = args;
  if (targetName === undefined) {
    io.stderr(`${renderUsage()}\n`);
    return 2;
  }
  if (targetName === '--help' || targetName === '-h') {
    io.stdout(`${renderUsage()}\n`);
    return 0;
  }
  const target = Object.hasOwn(RENDER_TARGETS, targetName) ? RENDER_TARGETS[targetName] : undefined;
  if (target === undefined) {
    io.stderr(`kftpd render: unknown target "${targetName}"\n\n${renderUsage()}\n`);
    return 2;
  }
  let output: string | undefined;
  let outputGiven = false;
  let force = false;
  const remaining: string[] = [];
  for (let i = 0; i < afterTarget.length; i++) {
    const arg = afterTarget[i] as string;
    if (arg === '--force') {
      force = true;
    } else if (arg === '--output' || arg === '-o') {
      outputGiven = true;
      output = afterTarget[++i];
    } else if (arg.startsWith('--output=')) {
      outputGiven = true;
      output = arg.slice('--output='.length);
    } else {
      remaining.push(arg);
    }
  }
  if (outputGiven && !output) {
    io.stderr('kftpd render: --output needs a file\n');
    return 2;
  }
  const { configFile, rest } = takeConfigFlag(remaining);
  const extra = flagOverrides(rest).rest;
  if (extra.length > 0) {
    io.stderr(`kftpd render: unexpected argument ${extra[0]}\n`);
    return 2;
  }
  try {
    const loaded = await loadConfig({ ...(configFile ? { file: configFile } : {}), env: io.env, args: rest });
    const result = target.render(loaded.config);
    for (const warning of result.warnings) io.stderr(`kftpd render ${targetName}: warning: ${warning}\n`);
    for (const problem of result.errors) io.stderr(`kftpd render ${targetName}: ${force ? 'forced past error' : 'error'}: ${problem}\n`);
    if (result.errors.length > 0 && !force) {
      io.stderr(`kftpd render ${targetName}: nothing written: the output cannot work as configured (--force writes it anyway)\n`);
      return 2;
    }
    if (output) await writeFile(output, result.text);
    else io.stdout(result.text);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DeployLayoutError) {
      io.stderr(`kftpd render ${targetName}: ${error.message}\n`);
      return 2;
    }
    io.stderr(`kftpd render ${targetName}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
