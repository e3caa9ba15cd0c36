/**
 * @module cli/commands/user-add
 * Owns `kftpd user add`: add or update one user in a users file (atomically, mode 0600),
 * generating a password when none is given.
 * Must not: print a password the operator typed, print hashes, or exit the process.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { hashPassword } from '../../auth/password-hash.js';
import { UsersFileError, upsertUserInFile } from '../../auth/users-file.js';
import { expandPermissions } from '../../core/permissions.js';
import { firstLine, parseLogN } from './hash-password.js';
import type { HashPasswordIo } from './hash-password.js';

export interface UserAddIo extends HashPasswordIo {
  env: NodeJS.ProcessEnv;
}

export const USER_ADD_USAGE = [
  'usage: kftpd user add <name> --file <users.yaml> [--password <password>] [--home </dir>]',
  '                      [--permissions read-only|read-write|all|list,download,...] [--disabled] [--log-n <10-20>]',
  '',
  'Adds the user to the users file, or updates it if the name exists (name and password are',
  'replaced; home, permissions and enabled only when given). The file is created if missing.',
  'The password comes from --password or the first line of stdin; with neither, a random one',
  'is generated and printed once on stdout. --file defaults to $KFTPD_USERS_FILE.',
  'New users default to home /<name> and permissions read-write.',
].join('\n');

/** No look-alikes (0/O, 1/l/I), so a generated password survives being read aloud or retyped. */
const PASSWORD_ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const GENERATED_PASSWORD_LENGTH = 20;

export function generatePassword(length = GENERATED_PASSWORD_LENGTH): string {
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

/** Exit codes: 0 written, 1 failure (invalid resulting file, I/O), 2 usage error. */
export async function runUserAdd(args: string[], io: UserAddIo): Promise<number> {
  let parsed: {
    values: {
      file?: string;
      password?: string;
      home?: string;
      permissions?: string;
      disabled?: boolean;
      'log-n'?: string;
      help?: boolean;
    };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args,
      options: {
        file: { type: 'string', short: 'f' },
        password: { type: 'string' },
        home: { type: 'string' },
        permissions: { type: 'string' },
        disabled: { type: 'boolean' },
        'log-n': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    return usage(io, (error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(`${USER_ADD_USAGE}\n`);
    return 0;
  }
  const [name, ...extra] = positionals;
  if (name === undefined) return usage(io, 'missing user name');
  if (extra.length > 0) return usage(io, `unexpected argument ${JSON.stringify(extra[0])}`);
  const file = values.file ?? io.env['KFTPD_USERS_FILE'];
  if (!file) return usage(io, 'missing --file <users.yaml> (or KFTPD_USERS_FILE)');
  const logN = parseLogN(values['log-n']);
  if (logN === undefined) return usage(io, '--log-n must be an integer from 10 to 20');

  let permissions: string[] | undefined;
  if (values.permissions !== undefined) {
    permissions = values.permissions
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    try {
      expandPermissions(permissions);
    } catch (error) {
      return usage(io, (error as Error).message);
    }
  }

  let password = values.password ?? firstLine(await io.readStdin());
  const generated = password === '';
  if (generated) password = generatePassword();

  try {
    await upsertUserInFile(file, {
      name,
      passwordHash: await hashPassword(password, { logN }),
      ...(values.home !== undefined ? { home: values.home } : {}),
      ...(permissions !== undefined ? { permissions } : {}),
      // Always explicit: re-adding a user without --disabled enables it again.
      enabled: values.disabled !== true,
    });
  } catch (error) {
    if (error instanceof UsersFileError) io.stderr(`kftpd user add: ${error.message}\n`);
    else io.stderr(`kftpd user add: cannot update ${file}: ${(error as Error).message}\n`);
    return 1;
  }
  io.stderr(
    `user ${JSON.stringify(name)} saved in ${file}${values.disabled ? ' (disabled)' : ''}` +
      `${generated ? '; its generated password is printed on stdout and shown only this once' : ''}\n`,
  );
  if (generated) io.stdout(`${password}\n`);
  return 0;
}

function usage(io: UserAddIo, message: string): number {
  io.stderr(`kftpd user add: ${message}\n\n${USER_ADD_USAGE}\n`);
  return 2;
}
