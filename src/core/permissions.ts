/**
 * @module core/permissions
 * What an authenticated user may do. Protocol-neutral (shared with a future SFTP front end).
 */
export const PERMISSIONS = [
  'list',
  'download',
  'upload',
  'overwrite',
  'delete',
  'rename',
  'mkdir',
  'rmdir',
  /** Change permission bits (SFTP SETSTAT's mode, FTP SITE CHMOD). */
  'chmod',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/** Shorthands accepted in the users file. */
export const PERMISSION_SHORTHANDS: Readonly<Record<string, readonly Permission[]>> = {
  'read-only': ['list', 'download'],
  'read-write': PERMISSIONS,
  all: PERMISSIONS,
};

export function expandPermissions(items: readonly string[]): ReadonlySet<Permission> {
  const out = new Set<Permission>();
  for (const item of items) {
    const short = PERMISSION_SHORTHANDS[item];
    if (short) for (const p of short) out.add(p);
    else if ((PERMISSIONS as readonly string[]).includes(item)) out.add(item as Permission);
    else throw new Error(`unknown permission "${item}"`);
  }
  return out;
}
