/**
 * @module cli/commands/version
 * Owns `kftpd version` (and `kftpd --version`): the version from the package's own
 * package.json, so it cannot drift from what npm installed.
 * Must not: exit the process (main.ts owns exit codes).
 */
import { readFile } from 'node:fs/promises';

export const VERSION_USAGE = ['usage: kftpd version', '       kftpd --version', '', 'Prints the version of kftpd.'].join('\n');

/** Exit codes: 0 printed, 2 usage error. */
export async function runVersion(args: string[], io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number> {
  if (args.length > 0) {
    io.stderr(`kftpd version: unexpected argument ${args[0] ?? ''}\n\n${VERSION_USAGE}\n`);
    return 2;
  }
  // dist/src/cli/commands/version.js -> the package root.
  const pkg = JSON.parse(await readFile(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  io.stdout(`${pkg.version}\n`);
  return 0;
}
