/**
 * @module protocol/command
 * Splits one control-connection line into verb and argument (RFC 959 §5.3: "<verb> SP <arg>").
 * Deliberately does no interpretation of the argument: file names may contain spaces, quotes
 * and leading dashes, so any trimming or flag parsing belongs to the individual command handler.
 */

export interface ParsedCommand {
  readonly verb: string;
  readonly arg: string;
}

/** ASCII-only upper-casing: RFC 959 §5.3 verbs are case-insensitive ASCII letters, and
 * locale/Unicode case mapping could turn a bogus verb into a valid one (e.g. "ſtor"). */
function asciiUpper(text: string): string {
  return text.replace(/[a-z]+/g, (s) => s.toUpperCase());
}

/** "retr my file.txt" -> {verb:'RETR', arg:'my file.txt'}; returns null for an empty/blank line. */
export function parseCommand(line: string): ParsedCommand | null {
  // The line reader strips the CRLF; one stray CR may remain when a client sent CR CR LF.
  const body = line.endsWith('\r') ? line.slice(0, -1) : line;
  let start = 0;
  while (start < body.length && body[start] === ' ') start++;
  if (body.slice(start).trim() === '') return null;
  const space = body.indexOf(' ', start);
  if (space === -1) return { verb: asciiUpper(body.slice(start)), arg: '' };
  // Exactly one SP separates verb and argument; everything after it is the argument verbatim.
  return { verb: asciiUpper(body.slice(start, space)), arg: body.slice(space + 1) };
}
