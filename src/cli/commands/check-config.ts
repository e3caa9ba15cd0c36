/**
 * @module cli/commands/check-config
 * Owns `kftpd check-config`: load the configuration exactly as the server would (file, env,
 * flags) and print the effective result with secrets redacted, or every problem. Lets an
 * operator validate a ConfigMap/Secret change before rolling it out.
 */
import { stringify } from 'yaml';
import { ConfigError } from '../../config/errors.js';
import { loadConfig } from '../../config/load.js';
import { redactConfig } from '../../config/redact.js';
import { flagOverrides } from '../../config/sources.js';

export interface CheckConfigIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

export const CHECK_CONFIG_USAGE = [
  'usage: kftpd check-config [--config <file> | -c <file>] [--json] [--<setting>=<value> ...]',
  '',
  'Loads the configuration (defaults < file < KFTPD_* env < flags), prints the effective',
  'configuration with secrets redacted and exits 0, or lists every problem and exits 2.',
  'The file may also be named by KFTPD_CONFIG. See docs/configuration.md for all settings.',
].join('\n');

/** Exit codes: 0 valid, 2 invalid configuration or usage, 1 unexpected failure. */
export async function runCheckConfig(args: string[], io: CheckConfigIo): Promise<number> {
  let file: string | undefined;
  let json = false;
  const configArgs: string[] = [];
  const usageErrors: string[] = [];

  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      io.stdout(`${CHECK_CONFIG_USAGE}\n`);
      return 0;
    }
    if (arg === '--json') {
      json = true;
    } else if (arg === '--config' || arg === '-c') {
      const value = args[i + 1];
      if (value === undefined || value.startsWith('-')) usageErrors.push(`${arg} needs a file path`);
      else {
        file = value;
        i++;
      }
    } else if (arg.startsWith('--config=') || arg.startsWith('-c=')) {
      const value = arg.slice(arg.indexOf('=') + 1);
      if (value === '') usageErrors.push(`${arg} needs a file path`);
      else file = value;
    } else {
      configArgs.push(arg);
    }
  }
  // Anything that is neither ours nor a config flag is a mistake worth failing on: a
  // check that silently ignores a misspelt option would report a config nobody asked for.
  for (const extra of flagOverrides(configArgs).rest) usageErrors.push(`unexpected argument ${extra}`);
  if (usageErrors.length > 0) {
    io.stderr(`${usageErrors.map((e) => `check-config: ${e}`).join('\n')}\n${CHECK_CONFIG_USAGE}\n`);
    return 2;
  }

  try {
    const loaded = await loadConfig(file === undefined ? { env: io.env, args: configArgs } : { file, env: io.env, args: configArgs });
    const redacted = redactConfig(loaded.config);
    if (json) {
      io.stdout(`${JSON.stringify(redacted, null, 2)}\n`);
    } else {
      const header = loaded.file === undefined ? '' : `# configuration file: ${loaded.file}\n`;
      io.stdout(`${header}${stringify(redacted)}`);
    }
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      return 2;
    }
    io.stderr(`check-config: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
