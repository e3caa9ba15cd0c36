/**
 * @module protocol/glob
 * Shell-style patterns in the last path component of LIST/NLST arguments ("*.csv",
 * "report-202?-*.txt", "[ab]*"), as classic ftp clients send for mget. Pure.
 * Supported: `*`, `?`, `[...]` with ranges and `!`/`^` negation; no `**`, no braces.
 */

/** True when the name contains a glob metacharacter. */
export function hasGlob(name: string): boolean {
  return /[*?[]/.test(name);
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Compiles a pattern for one path component; null when it is malformed (unclosed `[`). */
export function compileGlob(pattern: string): RegExp | null {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) return null;
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      // Keep ranges (a-z), escape everything else.
      const parts = body.replace(/[\\\]^]/g, '\\$&');
      source += `[${negate ? '^' : ''}${parts}]`;
      i = end;
    } else source += escapeRegExp(ch);
  }
  try {
    return new RegExp(`^${source}$`, 'u');
  } catch {
    return null;
  }
}
