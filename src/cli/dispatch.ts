/**
 * @module cli/dispatch
 * Subcommand dispatch and help for the `kftpd` executable (cli/main.ts runs it). The CLI is
 * the only place that owns the process (exit codes, signals, stdin/stdout). The commands and
 * their usage texts come from command-registry.ts.
 */
import { asksForHelp, groupUsage, matchCommand, overviewUsage } from './command-registry.js';
import { runServe } from './commands/serve.js';
import { runVersion } from './commands/version.js';
import type { CliIo } from './io.js';

export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `kftpd help [command words]`: 0 with the usage on stdout, 2 for an unknown command. */
function help(words: string[], io: CliIo): number {
  if (words.length === 0) {
    io.stdout(overviewUsage());
    return 0;
  }
  const match = matchCommand(words);
  if (match.kind === 'command' && match.args.length === 0) {
    io.stdout(`${match.command.usage()}\n`);
    return 0;
  }
  if (match.kind === 'group' && match.args.length === 0) {
    io.stdout(groupUsage(match.commands));
    return 0;
  }
  io.stderr(`kftpd help: no command "${words.join(' ')}"\n\n${overviewUsage()}`);
  return 2;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [first] = argv;
  if (first === undefined) return runServe([], io);
  if (first === 'help') return help(argv.slice(1), io);
  if (first === '--help' || first === '-h') return help([], io);
  if (first === '--version') return runVersion(argv.slice(1), io);
  const match = matchCommand(argv);
  switch (match.kind) {
    case 'command':
      if (asksForHelp(match.args)) {
        io.stdout(`${match.command.usage()}\n`);
        return 0;
      }
      return match.command.run(match.args, io);
    case 'group': {
      if (asksForHelp(match.args)) {
        io.stdout(groupUsage(match.commands));
        return 0;
      }
      const problem = match.args[0] === undefined ? 'missing subcommand' : `unknown subcommand "${match.args[0]}"`;
      io.stderr(`kftpd ${match.group}: ${problem}\n\n${groupUsage(match.commands)}`);
      return 2;
    }
    case 'unknown':
      // `kftpd --listen.port=2121` is `kftpd serve --listen.port=2121`.
      if (first.startsWith('-')) return asksForHelp(argv) ? help(['serve'], io) : runServe(argv, io);
      io.stderr(`kftpd: unknown command "${first}"\n\n${overviewUsage()}`);
      return 2;
  }
}
