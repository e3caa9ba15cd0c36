#!/usr/bin/env node
/**
 * @module cli/main
 * The `kftpd` executable: subcommand dispatch. The only place that owns the process
 * (exit codes, signals, stdin/stdout).
 */
import { readFileSync } from 'node:fs';
import { runBans } from './commands/bans.js';
import { runCheckConfig } from './commands/check-config.js';
import { runDoctor } from './commands/doctor.js';
import { runHashPassword } from './commands/hash-password.js';
import { runRender } from './commands/render.js';
import { runServe } from './commands/serve.js';
import { runUserAdd } from './commands/user-add.js';
import type { CliIo } from './io.js';

const USAGE = `usage: kftpd <command> [options]

Commands:
  serve                 start the server (the default command). With no users file configured it
                        creates a quick-start user in ./.kftpd and serves ./data on 127.0.0.1:2121
  check-config          print the effective configuration (secrets redacted) or every problem
  hash-password         print a password hash for the users file (password from --password or stdin)
  user add <name>       add or update a user in a users file (--file users.yaml)
  doctor --external HOST:PORT
                        check a deployment through its load balancer from a client's point of
                        view (greeting, PROXY, TLS, login, PASV/EPSV data path; see kftpd doctor --help)
  render <target>       print deployment artefacts generated from the config: kubernetes,
                        f5-as3, f5-cis (see kftpd render --help)
  bans list|lift|add    list, lift or add bans of running replicas through their admin listeners
                        (--admin URL --token-file F; see kftpd bans --help)
  version               print the version

Options for serve and check-config:
  -c, --config <file>   YAML config file (also KFTPD_CONFIG)
  --<setting>=<value>   any setting, e.g. --listen.port=2121 --passive.portMin=50000
                        (every setting also reads KFTPD_* environment variables; see docs/configuration.md)
`;

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const io: CliIo = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin,
    env: process.env,
  };
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      return runServe([], io);
    case 'serve':
      return runServe(rest, io);
    case 'check-config':
      return runCheckConfig(rest, io);
    case 'hash-password':
      return runHashPassword(rest, io);
    case 'render':
      return runRender(rest, io);
    case 'doctor':
      return runDoctor(rest, io);
    case 'user':
      if (rest[0] === 'add') return runUserAdd(rest.slice(1), io);
      io.stderr('usage: kftpd user add <name> --file <users.yaml> [--password P] [--home /dir] [--permissions read-write]\n');
      return 2;
    case 'bans':
      return runBans(rest, io);
    case 'version':
    case '--version':
      io.stdout(`${version()}\n`);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE);
      return 0;
    default:
      if (command.startsWith('-')) return runServe(argv, io);
      io.stderr(`kftpd: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`kftpd: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
