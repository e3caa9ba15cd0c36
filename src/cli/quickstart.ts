/**
 * @module cli/quickstart
 * The embedded default: with no users file configured, the server creates one local user
 * in stateDir (outside the served tree), keeps its generated password next to it (mode 0600)
 * and prints how to log in. Nothing here runs when a users file is configured.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashPassword } from '../auth/password-hash.js';
import { upsertUserInFile } from '../auth/users-file.js';

export const QUICKSTART_USER = 'kftpd';

export interface QuickstartUser {
  readonly usersFile: string;
  readonly user: string;
  readonly password: string;
  readonly created: boolean;
}

export async function ensureQuickstartUser(stateDir: string): Promise<QuickstartUser> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const usersFile = path.join(stateDir, 'users.yaml');
  const passwordFile = path.join(stateDir, 'quickstart-password');
  const existing = await readFile(passwordFile, 'utf8').catch(() => null);
  if (existing !== null) {
    const password = existing.trim();
    // Re-create the user entry if the users file was removed.
    const users = await readFile(usersFile, 'utf8').catch(() => null);
    if (users === null) await upsertUserInFile(usersFile, { name: QUICKSTART_USER, passwordHash: await hashPassword(password), home: '/', permissions: ['read-write'] });
    return { usersFile, user: QUICKSTART_USER, password, created: false };
  }
  // URL-safe characters only, so the password pastes into curl and ftp:// URLs as is.
  const password = randomBytes(15).toString('base64url');
  await upsertUserInFile(usersFile, { name: QUICKSTART_USER, passwordHash: await hashPassword(password), home: '/', permissions: ['read-write'] });
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  return { usersFile, user: QUICKSTART_USER, password, created: true };
}

export interface BannerTls {
  /** Self-signed certificate file and fingerprint, when one is in use. */
  readonly certFile: string;
  readonly fingerprint: string;
}

export interface BannerSftp {
  readonly port: number;
  /** "<type> SHA256:..." per host key, to compare with what the client shows on first connect. */
  readonly fingerprints: readonly string[];
}

export function quickstartBanner(q: QuickstartUser, host: string, port: number, root: string, tls: BannerTls | null, sftp: BannerSftp | null = null): string {
  const h = host.includes(':') ? `[${host}]` : host;
  const ftps = tls
    ? [
        '',
        'FTPS (explicit, AUTH TLS) with the self-signed certificate:',
        `  fingerprint (SHA-256): ${tls.fingerprint}`,
        `  curl --ssl-reqd --cacert ${tls.certFile} -u ${q.user}:${q.password} ftp://${h}:${port}/`,
        `  lftp -e 'set ssl:ca-file ${tls.certFile}; set ftp:ssl-force true' -u ${q.user},${q.password} -p ${port} ${host}`,
      ]
    : [];
  return [
    '',
    `kftpd is serving ${path.resolve(root)} on ftp://${h}:${port}/`,
    `  user:     ${q.user}`,
    `  password: ${q.password}    (kept in ${path.dirname(q.usersFile)}/quickstart-password)`,
    '',
    'Try it:',
    `  curl -u ${q.user}:${q.password} ftp://${h}:${port}/`,
    `  curl -u ${q.user}:${q.password} -T README.md ftp://${h}:${port}/`,
    `  lftp -u ${q.user},${q.password} -p ${port} ${host}`,
    ...ftps,
    ...(sftp
      ? [
          '',
          `SFTP on port ${sftp.port} (same user and password; host keys below):`,
          `  sftp -P ${sftp.port} ${q.user}@${host}`,
          ...sftp.fingerprints.map((f) => `  host key: ${f}`),
        ]
      : []),
    '',
  ].join('\n');
}
