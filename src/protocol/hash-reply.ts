/**
 * @module protocol/hash-reply
 * The wire format of file-hash commands, pure: algorithm names and the FEAT line of HASH
 * (draft-bryan-ftpext-hash-02 §3, §4), its 213 reply, the RANG argument
 * (draft-bryan-ftp-range-08 §3) and the arguments of the older XCRC/XMD5/XSHA1/XSHA256/XSHA512
 * commands as ProFTPD's mod_digest, Serv-U and FileZilla accept them.
 */

/** Algorithms by their draft names (§4: IANA "Hash Function Textual Names"), in FEAT order. */
export const HASH_ALGORITHMS = ['SHA-256', 'SHA-512', 'SHA-1', 'MD5', 'CRC32'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

/** The draft's default selection: SHA-256 is the strongest algorithm every peer knows. */
export const DEFAULT_HASH_ALGORITHM: HashAlgorithm = 'SHA-256';

/** Case-insensitive algorithm name ("sha-256", "SHA256" as some clients write it). */
export function parseHashAlgorithm(name: string): HashAlgorithm | null {
  const wanted = name.trim().toUpperCase();
  for (const algorithm of HASH_ALGORITHMS) {
    if (algorithm === wanted || algorithm.replace('-', '') === wanted) return algorithm;
  }
  return null;
}

/**
 * The FEAT line (draft §3.1): "HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32", the selected algorithm
 * marked with "*".
 */
export function formatHashFeat(selected: HashAlgorithm): string {
  return `HASH ${HASH_ALGORITHMS.map((a) => (a === selected ? `${a}*` : a)).join(';')}`;
}

export interface HashResult {
  readonly algorithm: HashAlgorithm;
  /** First byte hashed. */
  readonly start: number;
  /** The last byte hashed, inclusive (draft §3.4: a 100-byte file is "0-99"). */
  readonly end: number;
  /** Lower-case hex digest. */
  readonly hex: string;
  /** The path as the client sent it. */
  readonly path: string;
}

/** The 213 text (draft §3.2): "<algorithm> <start>-<end> <hex> <path>". */
export function formatHashReply(result: HashResult): string {
  return `${result.algorithm} ${result.start}-${result.end} ${result.hex} ${result.path}`;
}

/** Parses a 213 HASH text back (clients, tests); null when malformed. */
export function parseHashReply(text: string): HashResult | null {
  const match = /^(\S+) (\d+)-(\d+) ([0-9a-fA-F]+) (.+)$/.exec(text);
  if (!match) return null;
  const algorithm = parseHashAlgorithm(match[1] ?? '');
  if (!algorithm) return null;
  return { algorithm, start: Number(match[2]), end: Number(match[3]), hex: (match[4] ?? '').toLowerCase(), path: match[5] ?? '' };
}

const OFFSET = /^\d{1,16}$/;

function offset(text: string): number | null {
  if (!OFFSET.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

export type RangArgument =
  /** draft-bryan-ftp-range §3: "RANG 1 0" resets the range. */
  | { readonly kind: 'reset' }
  /** Bytes start..end, both inclusive (§3: the end point is the last byte). */
  | { readonly kind: 'range'; readonly start: number; readonly end: number };

/** "RANG <start> <end>"; null on a syntax error or an end before the start. */
export function parseRangArgument(arg: string): RangArgument | null {
  const parts = arg.trim().split(/\s+/);
  if (parts.length !== 2) return null;
  const start = offset(parts[0] ?? '');
  const end = offset(parts[1] ?? '');
  if (start === null || end === null) return null;
  if (start === 1 && end === 0) return { kind: 'reset' };
  if (end < start) return null;
  return { kind: 'range', start, end };
}

export interface XHashArgument {
  readonly path: string;
  /** First byte; undefined: 0. */
  readonly start?: number;
  /** One past the last byte; undefined: the end of the file. */
  readonly end?: number;
  /** The path was quoted, so the numbers after it are certainly a range. */
  readonly quoted: boolean;
}

/**
 * `XCRC "<path>" [start [end]]` (also XMD5, XSHA1, XSHA256, XSHA512). A path with spaces
 * should be quoted (FileZilla and Serv-U do); unquoted, up to two trailing numbers are taken
 * as the range. `end` is exclusive, as ProFTPD's mod_digest reads it. Null when empty.
 */
export function parseXHashArgument(arg: string): XHashArgument | null {
  const text = arg.trim();
  if (text === '') return null;
  let path: string;
  let rest: string[];
  let quoted = false;
  if (text.startsWith('"')) {
    const close = text.indexOf('"', 1);
    if (close === -1) return null;
    path = text.slice(1, close);
    rest = text.slice(close + 1).trim().split(/\s+/).filter((s) => s !== '');
    quoted = true;
  } else {
    const tokens = text.split(' ');
    const numbers: string[] = [];
    while (numbers.length < 2 && tokens.length > 1 && OFFSET.test(tokens[tokens.length - 1] ?? '')) numbers.unshift(tokens.pop() ?? '');
    path = tokens.join(' ');
    rest = numbers;
  }
  if (path === '' || rest.length > 2) return null;
  const numbers = rest.map(offset);
  if (numbers.some((n) => n === null)) return null;
  const [start, end] = numbers as number[];
  if (start !== undefined && end !== undefined && end < start) return null;
  return { path, quoted, ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}) };
}
