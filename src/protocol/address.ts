/**
 * @module protocol/address
 * Host/port arguments and replies of the data-connection commands: PORT/PASV (RFC 959 §4.1.2,
 * §4.2), EPRT/EPSV (RFC 2428 §2, §3), plus address-family helpers. Parsing is strict because
 * these values decide where the server connects (PORT/EPRT are the FTP bounce vector, RFC 2577).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** One decimal byte as RFC 959 writes host-port numbers: 1-3 digits, 0-255. */
const PORT_ARGUMENT = /^(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})$/;

/** RFC 959 PORT "h1,h2,h3,h4,p1,p2" (each 0-255, decimal, no extra parts); null when malformed. port may be 0 -> caller decides. */
export function parsePortArgument(arg: string): HostPort | null {
  const match = PORT_ARGUMENT.exec(arg);
  if (!match) return null;
  const parts = match.slice(1).map(Number);
  if (parts.some((n) => n > 255)) return null;
  const [h1, h2, h3, h4, p1, p2] = parts as [number, number, number, number, number, number];
  return { host: `${h1}.${h2}.${h3}.${h4}`, port: p1 * 256 + p2 };
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`invalid TCP port ${String(port)}`);
  }
}

/** PASV reply text, e.g. "Entering Passive Mode (127,0,0,1,195,80)". host must be IPv4 or an IPv4-mapped IPv6 address (::ffff:a.b.c.d); throws otherwise. */
export function formatPasvText(host: string, port: number): string {
  const v4 = normalizeAddress(host);
  // RFC 959's host-port encoding has room for 4 bytes only; IPv6 needs EPSV (RFC 2428).
  if (!isIPv4(v4)) throw new TypeError(`PASV needs an IPv4 address, got "${host}"`);
  checkPort(port);
  return `Entering Passive Mode (${v4.split('.').join(',')},${port >> 8},${port & 0xff})`;
}

export type EprtResult =
  | { readonly ok: true; readonly family: 1 | 2; readonly host: string; readonly port: number }
  | { readonly ok: false; readonly error: 'syntax' | 'family' };

/** RFC 2428 §2 EPRT "<d><net-prt><d><net-addr><d><tcp-port><d>"; d is any char in ASCII 33-126 (usually '|'). family 1 = IPv4, 2 = IPv6; other numbers -> error 'family'; address must match the family; port 1-65535 decimal. */
export function parseEprtArgument(arg: string): EprtResult {
  const syntax = { ok: false, error: 'syntax' } as const;
  const d = arg.charCodeAt(0);
  // RFC 2428 §2: the delimiter is an ASCII character in the range 33-126.
  if (!(d >= 33 && d <= 126)) return syntax;
  const fields = arg.split(arg.charAt(0));
  // "" before the first delimiter and "" after the last one: exactly three fields between.
  if (fields.length !== 5 || fields[0] !== '' || fields[4] !== '') return syntax;
  const [, proto = '', host = '', portText = ''] = fields;
  if (!/^\d{1,5}$/.test(proto)) return syntax;
  const family = Number(proto);
  // RFC 2428 §2: an unsupported network protocol is answered with 522, not 501.
  if (family !== 1 && family !== 2) return { ok: false, error: 'family' };
  if (family === 1 ? !isIPv4(host) : !isIPv6(host)) return syntax;
  if (!/^\d{1,5}$/.test(portText)) return syntax;
  const port = Number(portText);
  if (port < 1 || port > 65535) return syntax;
  return { ok: true, family, host, port };
}

export type EpsvArgument =
  | { readonly kind: 'any' }
  | { readonly kind: 'all' }
  | { readonly kind: 'family'; readonly family: 1 | 2 }
  | { readonly kind: 'unsupported-family' }
  | { readonly kind: 'syntax' };

/** RFC 2428 §3 EPSV argument: '' -> any, 'ALL' (any case) -> all, '1'/'2' -> family, other integer -> unsupported-family, else syntax. */
export function parseEpsvArgument(arg: string): EpsvArgument {
  // Surrounding spaces carry no meaning here (unlike file names), so tolerate "EPSV  2 ".
  const text = arg.trim();
  if (text === '') return { kind: 'any' };
  if (text.toUpperCase() === 'ALL') return { kind: 'all' };
  if (!/^\d+$/.test(text)) return { kind: 'syntax' };
  const family = Number(text);
  if (family === 1 || family === 2) return { kind: 'family', family };
  return { kind: 'unsupported-family' };
}

/** "Entering Extended Passive Mode (|||6446|)" */
export function formatEpsvText(port: number): string {
  checkPort(port);
  // RFC 2428 §3: only the port is sent; the client reuses the control connection's address.
  return `Entering Extended Passive Mode (|||${port}|)`;
}

const V4_MAPPED_PREFIX = '::ffff:';

/** "::ffff:10.0.0.1" -> "10.0.0.1"; an IPv6 zone suffix is kept as is; other values unchanged. */
export function normalizeAddress(address: string): string {
  // Dual-stack sockets report IPv4 peers as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2).
  if (address.slice(0, V4_MAPPED_PREFIX.length).toLowerCase() === V4_MAPPED_PREFIX) {
    const rest = address.slice(V4_MAPPED_PREFIX.length);
    if (isIPv4(rest)) return rest;
  }
  return address;
}

/** 1 for IPv4 (after normalizeAddress), 2 for IPv6. Throws for anything that is not an IP literal. */
export function addressFamily(address: string): 1 | 2 {
  const normalized = normalizeAddress(address);
  if (isIPv4(normalized)) return 1;
  if (isIPv6(normalized)) return 2;
  throw new TypeError(`not an IP address: "${address}"`);
}
