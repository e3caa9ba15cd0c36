/**
 * @module protocol/virtual-path
 * The client-visible path namespace: resolving command arguments against the working directory
 * (RFC 959 §4.1.1 CWD/CDUP, §4.1.3 pathname arguments), confinement to "/" and the quoting
 * used in PWD/MKD replies (RFC 959 Appendix II). Pure string work on POSIX-style paths; it never
 * touches a file system, so storage adapters map the result onto their own root.
 */

/** Normalises segments onto a stack; ".." at the root stays at the root instead of escaping. */
function pushSegments(stack: string[], path: string): void {
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') stack.pop();
    else stack.push(segment);
  }
}

/** Resolves a client path argument against the current directory into a normalised absolute POSIX virtual path that can never climb above "/": resolveVirtualPath('/a', '../../b') === '/b'; ('/a','') === '/a'; ('/','x//y/./z/') === '/x/y/z'. Backslash is an ordinary character (POSIX names may contain it). Returns null if arg contains a NUL character. */
export function resolveVirtualPath(cwd: string, arg: string): string | null {
  // NUL cannot occur in a POSIX name, and would truncate the path in native file APIs.
  if (arg.includes('\0') || cwd.includes('\0')) return null;
  const stack: string[] = [];
  // A relative argument continues from cwd; cwd is treated as absolute even if it is not.
  if (!arg.startsWith('/')) pushSegments(stack, cwd);
  pushSegments(stack, arg);
  return `/${stack.join('/')}`;
}

/** RFC 959 Appendix II: "/a"b" -> "\"/a\"\"b\"" (enclose in quotes, double embedded quotes). */
export function quotePath(path: string): string {
  return `"${path.replace(/"/g, '""')}"`;
}

/** '/a/b' -> 'b', '/' -> '' */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** '/a/b' -> '/a', '/a' -> '/', '/' -> '/' */
export function parentPath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash <= 0 ? '/' : trimmed.slice(0, slash);
}

/** joinPath('/', 'a') -> '/a'; joinPath('/d', 'a') -> '/d/a'. `name` is a single entry name. */
export function joinPath(dir: string, name: string): string {
  if (name === '') return dir;
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

/** True when `path` equals `root` or is inside it (both normalised). */
export function isWithin(root: string, path: string): boolean {
  // Re-normalise defensively: a prefix check on un-normalised input ("/a/../b") would lie.
  const r = resolveVirtualPath('/', root);
  const p = resolveVirtualPath('/', path);
  if (r === null || p === null) return false;
  if (r === '/') return true;
  // Compare on a segment boundary so "/home/al" does not contain "/home/alice".
  return p === r || p.startsWith(`${r}/`);
}
