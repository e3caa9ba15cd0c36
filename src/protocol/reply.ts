/**
 * @module protocol/reply
 * Reply codes and the wire format of control-connection replies (RFC 959 §4.2), including the
 * guard that keeps untrusted text (file names, error messages) from forging extra reply lines.
 */

export const ReplyCode = {
  RestartMarker: 110,
  ServiceReadyIn: 120,
  DataOpenTransferStarting: 125,
  FileStatusOk: 150,
  Ok: 200,
  NotImplementedSuperfluous: 202,
  SystemStatus: 211,
  DirectoryStatus: 212,
  FileStatus: 213,
  HelpMessage: 214,
  SystemType: 215,
  ServiceReady: 220,
  ClosingControl: 221,
  DataOpenNoTransfer: 225,
  ClosingDataSuccess: 226,
  EnteringPassive: 227,
  EnteringExtendedPassive: 229,
  LoggedIn: 230,
  AuthOk: 234,
  FileActionOk: 250,
  PathCreated: 257,
  NeedPassword: 331,
  NeedAccount: 332,
  PendingFurtherInfo: 350,
  ServiceNotAvailable: 421,
  CantOpenData: 425,
  TransferAborted: 426,
  ActionAbortedLocal: 451,
  InsufficientStorage: 452,
  SyntaxError: 500,
  ArgumentSyntaxError: 501,
  NotImplemented: 502,
  BadSequence: 503,
  ParameterNotImplemented: 504,
  NotLoggedIn: 530,
  NeedAccountForStoring: 532,
  PolicyRefused: 534,
  FileUnavailable: 550,
  PageTypeUnknown: 551,
  ExceededStorage: 552,
  FileNameNotAllowed: 553,
  InvalidRestart: 554,
  NetworkProtocolNotSupported: 522,
  /** RFC 4217 §10: data connection cannot be opened with this PROT setting. */
  DataProtectionRequired: 521,
  /** RFC 4217 §10: TLS negotiation on the data connection failed or was unacceptable. */
  TlsNegotiationFailed: 522,
  /** RFC 2228 §5: requested PROT level not supported by mechanism. */
  ProtLevelNotSupported: 536,
} as const;

export type ReplyCodeValue = (typeof ReplyCode)[keyof typeof ReplyCode];

/**
 * Replaces every CR and LF with a space. A reply line ends at CRLF (RFC 959 §4.2), so an
 * unescaped newline in e.g. a file name would let a client-chosen string become a reply of its own.
 */
export function sanitizeReplyText(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}

/** RFC 959 §4.2: a reply code is exactly three digits, the first 1-5. */
function checkCode(code: number): void {
  if (!Number.isInteger(code) || code < 100 || code > 599) {
    throw new RangeError(`invalid FTP reply code ${String(code)}`);
  }
}

/** Formats one reply, CRLF-terminated. A string text is one line; an array is a multi-line reply. */
export function formatReply(code: number, text: string | readonly string[]): string {
  checkCode(code);
  const lines = typeof text === 'string' ? [text] : text;
  if (lines.length <= 1) return `${code} ${sanitizeReplyText(lines[0] ?? '')}\r\n`;
  const last = lines.length - 1;
  let out = `${code}-${sanitizeReplyText(lines[0] ?? '')}\r\n`;
  for (let i = 1; i < last; i++) {
    const line = sanitizeReplyText(lines[i] ?? '');
    // RFC 959 §4.2: a middle line must not look like the closing "<code> " line; padding any
    // line that starts with a digit is the conservative reading and keeps parsers simple.
    out += (/^[0-9]/.test(line) ? ` ${line}` : line) + '\r\n';
  }
  out += `${code} ${sanitizeReplyText(lines[last] ?? '')}\r\n`;
  return out;
}
