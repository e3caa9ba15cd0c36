/**
 * @module auth/users-file
 * The YAML users file: its schema, parsing into UserRecords with every problem reported at
 * once, and the atomic add-or-update used by `kftpd user add` and the quick-start user.
 * Must not: accept plain-text passwords, print password hashes in errors, or leave a
 * half-written users file behind (writes go to a temp file that is renamed into place).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { isMap, isSeq } from 'yaml';
import { z } from 'zod';
import { PERMISSIONS, PERMISSION_SHORTHANDS, expandPermissions } from '../core/permissions.js';
import type { Permission } from '../core/permissions.js';
import { AddressPolicy } from '../core/address-policy.js';
import { parseCidr } from '../core/cidr.js';
import { isPasswordHash } from './password-hash.js';
import { parseAuthorizedKey } from './authorized-keys.js';

export interface UserRecord {
  readonly name: string;
  readonly passwordHash: string;
  /** Virtual path inside the storage root that becomes the user's "/". */
  readonly home: string;
  readonly permissions: ReadonlySet<Permission>;
  readonly enabled: boolean;
  /** allowFrom/denyFrom: the client addresses this user may log in from (absent: any). */
  readonly network?: AddressPolicy;
  /** publicKeys: SSH public key blobs (wire encoding) this user may log in with over SFTP. */
  readonly publicKeys?: readonly Buffer[];
}

export class UsersFileError extends Error {
  readonly code = 'KFTPD_USERS_INVALID';
  /** One line per problem, each starting with the YAML path ("users.1.password: ..."). */
  readonly problems: readonly string[];
  constructor(problems: readonly string[], source?: string) {
    super(`invalid users file${source ? ` ${source}` : ''}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'UsersFileError';
    this.problems = problems;
  }
}

/** Logins that always mean anonymous access (see FileAuthenticator); no real user may take them. */
export const ANONYMOUS_USER_NAMES: readonly string[] = ['anonymous', 'ftp'];

// C0, DEL and C1 controls: they break log lines and reply texts and are never intended.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

const KNOWN_PERMISSION_NAMES: readonly string[] = [...Object.keys(PERMISSION_SHORTHANDS), ...PERMISSIONS];

/** Whether `home` is a canonical absolute virtual path, as storage backends require. */
export function isVirtualHome(home: string): boolean {
  if (!home.startsWith('/') || home.includes('\0')) return false;
  if (home === '/') return true;
  return home
    .slice(1)
    .split('/')
    .every((s) => s !== '' && s !== '.' && s !== '..' && !CONTROL_CHARS.test(s));
}

/** A string field whose absence and wrong type get distinct, readable messages. */
function stringField(): z.ZodString {
  return z.string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') });
}

const nameSchema = stringField()
  .min(1, { error: 'must not be empty' })
  .max(64, { error: 'must be at most 64 characters' })
  .refine((s) => !s.includes('/'), { error: 'must not contain "/"' })
  // The default home is "/" + name, which must be a valid path segment.
  .refine((s) => s !== '.' && s !== '..', { error: 'must not be "." or ".."' })
  .refine((s) => !CONTROL_CHARS.test(s), { error: 'must not contain control characters' })
  .refine((s) => !ANONYMOUS_USER_NAMES.includes(s.toLowerCase()), {
    error: 'is reserved for anonymous login (see anonymous.enabled)',
  });

const passwordSchema = stringField().superRefine((s, ctx) => {
  if (isPasswordHash(s)) return;
  // Never echo the value: it may well be a real password.
  ctx.addIssue({
    code: 'custom',
    message: s.startsWith('$scrypt$')
      ? 'is not a valid scrypt hash; create one with `kftpd hash-password`'
      : 'must be a password hash, not a plain-text password; create one with `kftpd hash-password`',
  });
});

const permissionsSchema = z.array(
  z.string({ error: 'must be a string' }).refine((s) => KNOWN_PERMISSION_NAMES.includes(s), {
    error: (issue) =>
      `unknown permission ${JSON.stringify(issue.input)} (known: ${KNOWN_PERMISSION_NAMES.join(', ')})`,
  }),
  { error: 'must be a list of permission names' },
);

/** allowFrom / denyFrom: client networks in CIDR notation (IPv4 or IPv6). */
const cidrListSchema = z.array(
  z.string({ error: 'must be a string' }).refine((s) => parseCidr(s) !== null, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a CIDR or an IP address (e.g. 10.0.0.0/8, 2001:db8::/32)`,
  }),
  { error: 'must be a list of CIDRs' },
);

const userSchema = z.strictObject({
  name: nameSchema,
  password: passwordSchema,
  home: z
    .string({ error: 'must be a string' })
    .refine(isVirtualHome, { error: 'must be an absolute path like "/alice" without "." or ".." segments' })
    .optional(),
  permissions: permissionsSchema.default(['read-write']),
  enabled: z.boolean({ error: 'must be true or false' }).default(true),
  allowFrom: cidrListSchema.optional(),
  denyFrom: cidrListSchema.optional(),
  /** OpenSSH authorized_keys lines (SFTP login by key; the password still logs in too). */
  publicKeys: z
    .array(
      z.string({ error: 'must be a string' }).superRefine((s, ctx) => {
        const key = parseAuthorizedKey(s);
        if ('error' in key) ctx.addIssue({ code: 'custom', message: key.error });
      }),
      { error: 'must be a list of OpenSSH public key lines' },
    )
    .optional(),
});

const fileSchema = z.strictObject({
  users: z.array(userSchema, { error: 'must be a list of users' }).default([]),
});

/**
 * Duplicate names, checked on the raw value: zod skips refinements of objects that already
 * have issues, and we want every problem in one pass.
 */
function duplicateProblems(raw: unknown): string[] {
  const users = typeof raw === 'object' && raw !== null ? (raw as { users?: unknown }).users : undefined;
  if (!Array.isArray(users)) return [];
  const seen = new Map<string, number>();
  const problems: string[] = [];
  users.forEach((user: unknown, index) => {
    const name = typeof user === 'object' && user !== null ? (user as { name?: unknown }).name : undefined;
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, index);
    else problems.push(`users.${index}.name: duplicate user name ${JSON.stringify(name)} (also users.${first})`);
  });
  return problems;
}

/** Orders problems by user index so each user's problems read together. */
function userIndex(problem: string): number {
  const m = /^users\.(\d+)/.exec(problem);
  return m ? Number(m[1]) : -1;
}

function issuePath(p: readonly PropertyKey[]): string {
  return p.length === 0 ? '(file)' : p.map(String).join('.');
}

/** Parses YAML text into a plain value, collecting syntax errors as problems. */
function parseYaml(text: string, source?: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new UsersFileError(
      doc.errors.map((e) => `yaml: ${e.message.split('\n')[0] ?? e.message}`),
      source,
    );
  }
  return doc.toJS() as unknown;
}

/**
 * Validates a users file and returns its users. Throws UsersFileError listing every problem.
 * An empty file means no users.
 */
export function parseUsersFile(text: string, source?: string): UserRecord[] {
  const raw = parseYaml(text, source) ?? {};
  const result = fileSchema.safeParse(raw);
  const problems = [
    ...(result.success ? [] : result.error.issues.map((issue) => `${issuePath(issue.path)}: ${issue.message}`)),
    ...duplicateProblems(raw),
  ];
  if (problems.length > 0 || !result.success) {
    throw new UsersFileError(
      problems.sort((a, b) => userIndex(a) - userIndex(b)),
      source,
    );
  }
  return result.data.users.map((u) => ({
    name: u.name,
    passwordHash: u.password,
    home: u.home ?? `/${u.name}`,
    permissions: expandPermissions(u.permissions),
    enabled: u.enabled,
    ...(u.allowFrom?.length || u.denyFrom?.length ? { network: new AddressPolicy(u.allowFrom ?? [], u.denyFrom ?? []) } : {}),
    ...(u.publicKeys?.length ? { publicKeys: u.publicKeys.map((line) => (parseAuthorizedKey(line) as { blob: Buffer }).blob) } : {}),
  }));
}

export interface UserFileEntry {
  readonly name: string;
  readonly passwordHash: string;
  readonly home?: string;
  readonly permissions?: readonly string[];
  readonly enabled?: boolean;
  readonly allowFrom?: readonly string[];
  readonly denyFrom?: readonly string[];
  /** OpenSSH authorized_keys lines (replace the user's list when given). */
  readonly publicKeys?: readonly string[];
}

/**
 * Adds a user to a users file, or updates the user of that name: name and password are set,
 * and home / permissions / enabled / allowFrom / denyFrom are set when given (an existing user keeps the others).
 * Comments and other users are preserved. The result is validated before anything is written,
 * then written atomically with mode 0600 (parent directories are created).
 */
export async function upsertUserInFile(file: string, entry: UserFileEntry): Promise<void> {
  let text = '';
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // Validate the existing file first so we never "fix" a broken file by rewriting it.
  parseUsersFile(text, file);
  const parsed = YAML.parseDocument(text);
  // Validation above guarantees a map unless the file was empty (or only comments).
  const doc: YAML.Document = isMap(parsed.contents) ? parsed : new YAML.Document({});
  if (doc !== parsed) doc.commentBefore = parsed.commentBefore ?? parsed.comment ?? null;
  let users = doc.get('users');
  if (!isSeq(users)) {
    users = doc.createNode([]);
    doc.set('users', users);
  }
  if (!isSeq(users)) throw new Error('unreachable: users is a sequence');
  // A flow sequence ("users: []") would put every user on one line.
  users.flow = false;

  const existing = users.items.find((item) => isMap(item) && item.get('name') === entry.name);
  const target = isMap(existing) ? existing : doc.createNode({ name: entry.name });
  if (!isMap(target)) throw new Error('unreachable: user is a map');
  target.set('password', entry.passwordHash);
  if (entry.home !== undefined) target.set('home', entry.home);
  if (entry.permissions !== undefined) {
    const node = doc.createNode([...entry.permissions]);
    node.flow = true;
    target.set('permissions', node);
  }
  if (entry.enabled !== undefined) target.set('enabled', entry.enabled);
  for (const key of ['allowFrom', 'denyFrom'] as const) {
    const list = entry[key];
    if (list === undefined) continue;
    const node = doc.createNode([...list]);
    node.flow = true;
    target.set(key, node);
  }
  if (entry.publicKeys !== undefined) target.set('publicKeys', doc.createNode([...entry.publicKeys]));
  if (!existing) users.items.push(target);

  const out = doc.toString();
  parseUsersFile(out, file);
  await writeFileAtomic(file, out, 0o600);
}

/** Temp file in the same directory + rename: readers see the old or the new file, never a mix. */
async function writeFileAtomic(file: string, data: string, mode: number): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data, 'utf8');
    // The umask may have removed bits but cannot add any; chmod makes the mode exact.
    await fh.chmod(mode);
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, file);
  } catch (error) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw error;
  }
}
