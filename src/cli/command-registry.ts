/**
 * @module cli/command-registry
 * The one list of `kftpd` commands: name, one-line summary, usage text and entry point. The
 * dispatcher, the overview (`kftpd --help`) and every `--help`/`-h`/`kftpd help <command>` are
 * derived from it, so a command cannot exist without its usage.
 * Must not: do I/O or exit the process (main.ts owns both).
 */
import { BANS_USAGE, runBans } from './commands/bans.js';
import { CHECK_CONFIG_USAGE, runCheckConfig } from './commands/check-config.js';
import { DOCTOR_USAGE, runDoctor } from './commands/doctor.js';
import { HASH_PASSWORD_USAGE, runHashPassword } from './commands/hash-password.js';
import { renderUsage, runRender } from './commands/render.js';
import { SERVE_USAGE, runServe } from './commands/serve.js';
import { SFTP_HOST_KEYS_GENERATE_USAGE, runSftpHostKeysGenerate } from './commands/sftp-host-keys-generate.js';
import { USER_ADD_USAGE, runUserAdd } from './commands/user-add.js';
import { VERSION_USAGE, runVersion } from './commands/version.js';
import { RENDER_TARGETS } from '../deploy/render-targets.js';
import type { CliIo } from './io.js';

export interface CliCommand {
  /** Words after `kftpd`, e.g. ['user', 'add']. */
  readonly words: readonly string[];
  /** How the overview shows the command (words plus its main arguments). */
  readonly synopsis: string;
  readonly summary: string;
  usage(): string;
  run(args: string[], io: CliIo): Promise<number>;
}

export const COMMANDS: readonly CliCommand[] = [
  {
    words: ['serve'],
    synopsis: 'serve',
    summary:
      'start the server (the default command). With no users file configured it creates a quick-start user in ./.kftpd and serves ./data on 127.0.0.1:2121',
    usage: () => SERVE_USAGE,
    run: runServe,
  },
  {
    words: ['check-config'],
    synopsis: 'check-config',
    summary: 'print the effective configuration (secrets redacted) or every problem',
    usage: () => CHECK_CONFIG_USAGE,
    run: runCheckConfig,
  },
  {
    words: ['hash-password'],
    synopsis: 'hash-password',
    summary: 'print a password hash for the users file (password from --password or stdin)',
    usage: () => HASH_PASSWORD_USAGE,
    run: runHashPassword,
  },
  {
    words: ['user', 'add'],
    synopsis: 'user add <name>',
    summary: 'add or update a user in a users file (--file users.yaml)',
    usage: () => USER_ADD_USAGE,
    run: runUserAdd,
  },
  {
    words: ['doctor'],
    synopsis: 'doctor --external HOST:PORT',
    summary:
      "check a deployment through its load balancer from a client's point of view (greeting, PROXY, TLS, login, PASV/EPSV data path, SFTP host keys)",
    usage: () => DOCTOR_USAGE,
    run: runDoctor,
  },
  {
    words: ['render'],
    synopsis: 'render <target>',
    summary: `print deployment artefacts generated from the config: ${Object.keys(RENDER_TARGETS).join(', ')}`,
    usage: renderUsage,
    run: runRender,
  },
  {
    words: ['bans'],
    synopsis: 'bans list|lift|add',
    summary: 'list, lift or add bans of running replicas through their admin listeners (--admin URL --token-file F)',
    usage: () => BANS_USAGE,
    run: runBans,
  },
  {
    words: ['sftp', 'host-keys', 'generate'],
    synopsis: 'sftp host-keys generate',
    summary: 'write one set of SSH host keys (--out DIR) for the Secret every replica mounts, and print the commands that create it',
    usage: () => SFTP_HOST_KEYS_GENERATE_USAGE,
    run: runSftpHostKeysGenerate,
  },
  {
    words: ['version'],
    synopsis: 'version',
    summary: 'print the version',
    usage: () => VERSION_USAGE,
    run: runVersion,
  },
];

/** True when the arguments ask for help: `--help` or `-h` before a `--` terminator. */
export function asksForHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

export type CommandMatch =
  | { readonly kind: 'command'; readonly command: CliCommand; readonly args: string[] }
  /** The first word of multi-word commands (`user`) without a known second word. */
  | { readonly kind: 'group'; readonly group: string; readonly commands: readonly CliCommand[]; readonly args: string[] }
  | { readonly kind: 'unknown' };

/** Finds the command the leading words of argv name. */
export function matchCommand(argv: readonly string[], commands: readonly CliCommand[] = COMMANDS): CommandMatch {
  for (const command of commands) {
    if (command.words.every((word, i) => argv[i] === word)) return { kind: 'command', command, args: argv.slice(command.words.length) };
  }
  const group = commands.filter((c) => c.words.length > 1 && c.words[0] === argv[0]);
  if (group.length > 0 && argv[0] !== undefined) return { kind: 'group', group: argv[0], commands: group, args: argv.slice(1) };
  return { kind: 'unknown' };
}

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : `${indent}${l}`));
}

/** The overview printed by `kftpd --help` and `kftpd help`. */
export function overviewUsage(commands: readonly CliCommand[] = COMMANDS): string {
  const column = 24;
  const indent = ' '.repeat(column);
  const rows = commands.map((c) => {
    const head = `  ${c.synopsis}`;
    const summary = wrap(c.summary, 100 - column, indent).join('\n');
    return head.length < column - 1 ? `${head.padEnd(column)}${summary}` : `${head}\n${indent}${summary}`;
  });
  return [
    'usage: kftpd <command> [options]',
    '',
    'Commands:',
    ...rows,
    '',
    'Options for serve, check-config and render:',
    '  -c, --config <file>   YAML config file (also KFTPD_CONFIG)',
    '  --<setting>=<value>   any setting, e.g. --listen.port=2121 --passive.portMin=50000',
    '                        (every setting also reads KFTPD_* environment variables; see docs/configuration.md)',
    '',
    "Run 'kftpd <command> --help' or 'kftpd help <command>' for a command's usage.",
    '',
  ].join('\n');
}

/** Usage of every command of a group (`kftpd user --help`). */
export function groupUsage(commands: readonly CliCommand[]): string {
  return `${commands.map((c) => c.usage()).join('\n\n')}\n`;
}
