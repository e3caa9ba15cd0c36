/**
 * @module cli/commands/hash-password
 * Owns `kftpd hash-password`: turn a password into the hash stored in the users file.
 * Must not: echo the password, or exit the process (main.ts owns exit codes).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SCRYPT_LOG_N, hashPassword } from '../../auth/password-hash.js';

export interface HashPasswordIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readStdin: () => Promise<string>;
}

export const HASH_PASSWORD_USAGE = [
  'usage: kftpd hash-password [--password <password>] [--log-n <10-20>]',
  '',
  'Prints the scrypt hash of a password for the "password" field of the users file.',
  'Without --password the first line of stdin is used (preferred: arguments show up in ps):',
  '  printf %s "$PASSWORD" | kftpd hash-password',
  `--log-n sets the cost (2^N; default ${DEFAULT_SCRYPT_LOG_N}).`,
].join('\n');

/** First line of stdin without its line ending (CRLF from Windows pipes included). */
export function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  const line = nl === -1 ? text : text.slice(0, nl);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Parses --log-n; undefined means invalid. */
export function parseLogN(value: string | undefined): number | undefined {
  if (value === undefined) return DEFAULT_SCRYPT_LOG_N;
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 10 && n <= 20 ? n : undefined;
}

/** Exit codes: 0 printed, 1 no password, 2 usage error. */
export async function runHashPassword(args: string[], io: HashPasswordIo): Promise<number> {
  let values: { password?: string; 'log-n'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        password: { type: 'string' },
        'log-n': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr(`kftpd hash-password: ${(error as Error).message}\n\n${HASH_PASSWORD_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(`${HASH_PASSWORD_USAGE}\n`);
    return 0;
  }
  const logN = parseLogN(values['log-n']);
  if (logN === undefined) {
    io.stderr('kftpd hash-password: --log-n must be an integer from 10 to 20\n');
    return 2;
  }
  const password = values.password ?? firstLine(await io.readStdin());
  if (password === '') {
    io.stderr('kftpd hash-password: no password given (use --password or pipe it on stdin)\n');
    return 1;
  }
  io.stdout(`${await hashPassword(password, { logN })}\n`);
  return 0;
}
