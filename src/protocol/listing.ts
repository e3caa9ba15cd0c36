/**
 * @module protocol/listing
 * Text formats of directory listings: the de-facto `ls -l` lines sent for LIST (RFC 959 leaves
 * the format unspecified, §4.1.3), the machine-readable MLST/MLSD facts (RFC 3659 §7), the
 * FEAT/OPTS MLST fact lists (RFC 3659 §7.8, §7.9) and RFC 3659 §2.3 time-vals (also MDTM).
 */

/**
 * One directory entry as the formatters need it. protocol/ imports nothing, so this is its
 * own shape; storage's Entry (and any file service entry with these fields) fits it as is.
 */
export interface ListingEntry {
  /** Base name ("" for the root). */
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  /** Size in bytes (0 for directories). */
  readonly size: number;
  readonly modifiedAt: Date;
  /** POSIX permission bits (e.g. 0o644) when the backend has them. */
  readonly mode?: number;
  /** Stable identity for MLST "unique" when the backend has one. */
  readonly uniqueId?: string;
}

/** The user rights the RFC 3659 §7.5.5 perm fact reports (the names of core/permissions). */
export type PermFactRight = 'list' | 'download' | 'upload' | 'overwrite' | 'delete' | 'rename' | 'mkdir' | 'rmdir';

/** What the perm fact asks of the user's rights: a principal's permission set fits. */
export interface PermFactRights {
  has(right: PermFactRight): boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** `ls -l` switches from "HH:MM" to the year outside this window, like GNU ls's six months. */
const RECENT_WINDOW_MS = 180 * 24 * 60 * 60 * 1000;

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * Listings are line-oriented; a name containing CR or LF would split an entry in two and let a
 * file name fabricate listing lines, so those characters are shown as spaces.
 */
function oneLine(name: string): string {
  return name.replace(/[\r\n]/g, ' ');
}

function defaultMode(type: ListingEntry['type']): number {
  if (type === 'directory') return 0o755;
  if (type === 'symlink') return 0o777;
  return 0o644;
}

function typeChar(type: ListingEntry['type']): string {
  if (type === 'directory') return 'd';
  if (type === 'symlink') return 'l';
  return '-';
}

/** The nine rwx columns of `ls -l`, with setuid/setgid/sticky shown in the x columns. */
function modeString(mode: number): string {
  const triplet = (bits: number, special: boolean, specialChar: string): string => {
    const x = (bits & 1) !== 0;
    const exec = special ? (x ? specialChar : specialChar.toUpperCase()) : x ? 'x' : '-';
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${exec}`;
  };
  return (
    triplet((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    triplet((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    triplet(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

/** One `ls -l` style line (no CRLF) as most clients parse it: "-rw-r--r-- 1 owner group     1234 Mar 05 14:03 name" for entries modified within the last 180 days (relative to now), else "Mar 05  2023" (year). Uses UTC. mode bits from entry.mode, else 0o644 files / 0o755 dirs; type char d/-/l. owner/group default "ftp". Sizes beyond 4 GiB print exactly. */
export function formatListLine(entry: ListingEntry, now: Date, options?: { owner?: string; group?: string }): string {
  const mode = entry.mode ?? defaultMode(entry.type);
  const owner = options?.owner ?? 'ftp';
  const group = options?.group ?? 'ftp';
  // Directories report 0 by contract; negative/fractional sizes would confuse client parsers.
  const size = Number.isFinite(entry.size) && entry.size > 0 ? Math.trunc(entry.size) : 0;
  // An invalid Date must not throw in the middle of a streamed listing: show the epoch instead.
  const modified = Number.isNaN(entry.modifiedAt.getTime()) ? new Date(0) : entry.modifiedAt;
  const recent = Math.abs(now.getTime() - modified.getTime()) < RECENT_WINDOW_MS;
  const month = MONTHS[modified.getUTCMonth()] ?? 'Jan';
  const day = pad2(modified.getUTCDate());
  const timeOrYear = recent
    ? `${pad2(modified.getUTCHours())}:${pad2(modified.getUTCMinutes())}`
    : // Two spaces keep the year column the same width as "HH:MM".
      ` ${String(modified.getUTCFullYear()).padStart(4, '0')}`;
  // String(number) is exact for every integer up to 2^53, so >4 GiB sizes are not truncated.
  return `${typeChar(entry.type)}${modeString(mode)} 1 ${owner} ${group} ${String(size).padStart(8)} ${month} ${day} ${timeOrYear} ${oneLine(entry.name)}`;
}

export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique', 'unix.mode'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];

/** RFC 3659 §7.5.1 type values; non-standard kinds use the "OS.name=type" form it allows. */
function mlsxType(entry: ListingEntry, override: 'cdir' | 'pdir' | undefined): string {
  if (override) return override;
  switch (entry.type) {
    case 'file':
      return 'file';
    case 'directory':
      return 'dir';
    case 'symlink':
      return 'OS.unix=symlink';
    case 'other':
      return 'OS.unix=other';
  }
}

/** RFC 3659 §7.5.5 perm fact letters derived from the user's permissions. */
function mlsxPerm(isDirectory: boolean, p: PermFactRights): string {
  let out = '';
  if (isDirectory) {
    // e: may CWD into it; always granted since access to the tree is checked by the session.
    out += 'e';
    if (p.has('list')) out += 'l';
    if (p.has('upload')) out += 'c';
    if (p.has('mkdir')) out += 'm';
    if (p.has('delete')) out += 'p';
    if (p.has('rmdir')) out += 'd';
    if (p.has('rename')) out += 'f';
  } else {
    if (p.has('download')) out += 'r';
    if (p.has('upload') || p.has('overwrite')) out += 'w';
    if (p.has('upload')) out += 'a';
    if (p.has('delete')) out += 'd';
    if (p.has('rename')) out += 'f';
  }
  return out;
}

/** RFC 3659 §2.3 time-val "YYYYMMDDHHMMSS" UTC (no fraction). */
export function formatTimeVal(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
  return (
    String(date.getUTCFullYear()).padStart(4, '0') +
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds())
  );
}

/** RFC 3659 §7 fact line WITHOUT leading space or CRLF: "type=file;size=12;modify=20240305140312;perm=rwadf; name". Only facts in `facts` (and applicable to the entry) are printed, in MLST_FACTS order, each "fact=value;"; facts lower-case names as listed; then a single space and the name. options.typeOverride: 'cdir' | 'pdir' for MLSD's "." / ".." entries or MLST on a directory (cdir). size omitted for directories. unique from entry.uniqueId when present. unix.mode as octal 4 digits e.g. 0644. perm computed from permissions: files: r if download, a if upload, w if upload or overwrite (write), d if delete, f if rename; directories: e always, l if list, c if upload, m if mkdir, p if delete, d if rmdir, f if rename. */
export function formatMlsxLine(
  entry: ListingEntry,
  name: string,
  facts: ReadonlySet<MlstFact>,
  permissions: PermFactRights,
  options?: { typeOverride?: 'cdir' | 'pdir' },
): string {
  const override = options?.typeOverride;
  const isDirectory = override !== undefined || entry.type === 'directory';
  let out = '';
  for (const fact of MLST_FACTS) {
    if (!facts.has(fact)) continue;
    let value: string | undefined;
    switch (fact) {
      case 'type':
        value = mlsxType(entry, override);
        break;
      case 'size':
        // RFC 3659 §7.5.3: size is for files; a directory's "size" has no portable meaning.
        if (!isDirectory && Number.isFinite(entry.size) && entry.size >= 0) value = String(Math.trunc(entry.size));
        break;
      case 'modify':
        if (!Number.isNaN(entry.modifiedAt.getTime())) value = formatTimeVal(entry.modifiedAt);
        break;
      case 'perm':
        value = mlsxPerm(isDirectory, permissions);
        break;
      case 'unique':
        // RFC 3659 §7.5.2: a fact value may not contain ";" and the line may not contain CR/LF
        // or (before the name) spaces; an id that cannot be represented is better omitted.
        if (entry.uniqueId !== undefined && entry.uniqueId !== '' && !/[;\s]/.test(entry.uniqueId)) {
          value = entry.uniqueId;
        }
        break;
      case 'unix.mode':
        if (entry.mode !== undefined) value = (entry.mode & 0o7777).toString(8).padStart(4, '0');
        break;
    }
    if (value !== undefined) out += `${fact}=${value};`;
  }
  // RFC 3659 §7.2: facts, exactly one SP, then the pathname (which may itself contain spaces).
  return `${out} ${oneLine(name)}`;
}

/** FEAT line body "type*;size*;modify*;perm*;unique*;unix.mode;" with * on enabled facts (RFC 3659 §7.8). */
export function formatMlstFeat(enabled: ReadonlySet<MlstFact>): string {
  return MLST_FACTS.map((fact) => `${fact}${enabled.has(fact) ? '*' : ''};`).join('');
}

/** OPTS MLST argument "type;size;" -> the recognised facts (case-insensitive; unknown ignored; '' -> empty set). */
export function parseMlstOpts(arg: string): Set<MlstFact> {
  const out = new Set<MlstFact>();
  // RFC 3659 §7.9: fact names are case-insensitive; unsupported ones are silently dropped.
  for (const raw of arg.split(';')) {
    const name = raw.trim().toLowerCase();
    const fact = MLST_FACTS.find((f) => f === name);
    if (fact) out.add(fact);
  }
  return out;
}

const TIME_VAL = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Parses "YYYYMMDDHHMMSS[.sss]" UTC; null when malformed or out of range (month 1-12, day valid for month, hour < 24, min < 60, sec < 61). */
export function parseTimeVal(text: string): Date | null {
  const m = TIME_VAL.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) return null;
  if (day < 1 || day > daysInMonth(year, month)) return null;
  // RFC 3659 §2.3 allows second 60 for leap seconds; Date rolls it into the next minute.
  if (hour > 23 || minute > 59 || second > 60) return null;
  // RFC 3659 §2.3: any number of fraction digits; Date keeps milliseconds only.
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date;
}
