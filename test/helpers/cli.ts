/**
 * @module test/helpers/cli
 * Runs a `kftpd` command's entry point in-process with captured output (a CliIo that collects
 * stdout and stderr, an empty stdin and the given environment).
 */
import type { CliIo } from '../../src/cli/io.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCommand(command: (args: string[], io: CliIo) => Promise<number>, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await command(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    readStdin: async () => '',
    env,
  });
  return { code, stdout, stderr };
}
