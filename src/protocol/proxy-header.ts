/**
 * @module protocol/proxy-header
 * The PROXY protocol header (haproxy's doc/proxy-protocol.txt): incremental parsing of the
 * human-readable v1 (section 2.1) and binary v2 (section 2.2) headers that an L4 load balancer
 * (HAProxy, F5 BIG-IP) puts in front of the client's first byte, and encoders for both (for
 * tests and the test topology; in production the balancer writes them).
 * Owns: signature detection, strict validation, address formatting (IPv6 in Node's canonical
 * form, exactly as `socket.remoteAddress` shows it), v2 TLV framing and the header size caps.
 * Must not: touch sockets or timers, decide trust (that is transport/proxy-protocol), or interpret
 * TLV contents (PP2_TYPE_SSL sub-TLVs and PP2_TYPE_CRC32C are passed through unverified).
 *
 * Why hand-written: the best npm candidate, proxy-protocol-js (MIT, typed, no dependencies, v1
 * and v2 with TLVs), is not a dependency of this project, and it parses a complete buffer only
 * (no "need more bytes" answer for a header split across TCP segments) and is lenient where we
 * want to be strict. The format is small enough to own.
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** v1 headers are always PROXY; LOCAL (v2 only) is the balancer talking for itself (health checks). */
  readonly command: 'PROXY' | 'LOCAL';
  /** 'unknown': v1 UNKNOWN, v2 UNSPEC / UDP / unix, and every LOCAL header; no addresses then. */
  readonly family: 'tcp4' | 'tcp6' | 'unknown';
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
  /** v2 TLVs by type (section 2.2.1); present only when the header carries at least one. */
  readonly tlvs?: ReadonlyMap<number, Buffer>;
}

export type ProxyParseResult =
  | { readonly status: 'incomplete' }
  /** The buffer does not start with a PROXY signature (v1 "PROXY " or the v2 12-byte signature). */
  | { readonly status: 'none' }
  | { readonly status: 'invalid'; readonly reason: string }
  /** `length`: bytes the header occupies; whatever follows belongs to the proxied protocol. */
  | { readonly status: 'ok'; readonly header: ProxyHeader; readonly length: number };

/** Section 2.1: "a receiver ... may safely assume that ... 107 characters" is the worst case, CRLF included. */
export const PROXY_V1_MAX_LENGTH = 107;
/** Section 2.2: 16 fixed bytes, then `len` bytes; we refuse a `len` above 4096 (the spec allows 65535). */
export const PROXY_V2_MAX_BODY = 4096;
export const PROXY_V2_MAX_LENGTH = 16 + PROXY_V2_MAX_BODY;

/** Section 2.2: "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A". */
export const PROXY_V2_SIGNATURE: Buffer = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** Section 2.2.1 / 2.2.7: the registered TLV types (others, e.g. 0xE0-0xEF custom, pass through too). */
export const ProxyTlvType = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;

/** Section 2.1: "PROXY" followed by exactly one space. */
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const CR = 0x0d;
const LF = 0x0a;

/** Section 2.2, 14th byte: address family (high nibble). */
const AF_UNSPEC = 0x0;
const AF_INET = 0x1;
const AF_INET6 = 0x2;
const AF_UNIX = 0x3;
/** Section 2.2, 14th byte: transport protocol (low nibble). */
const TRANSPORT_DGRAM = 0x2;
/** Section 2.2: the size of the address block for each family. */
const ADDRESS_LENGTH: Readonly<Record<number, number>> = { [AF_UNSPEC]: 0, [AF_INET]: 12, [AF_INET6]: 36, [AF_UNIX]: 216 };

const INCOMPLETE: ProxyParseResult = { status: 'incomplete' };
const NONE: ProxyParseResult = { status: 'none' };

function invalid(reason: string): ProxyParseResult {
  return { status: 'invalid', reason };
}

/** True when `buffer` is a (possibly partial) prefix of `expected`. */
function startsLike(buffer: Buffer, expected: Buffer): boolean {
  const n = Math.min(buffer.length, expected.length);
  return buffer.subarray(0, n).equals(expected.subarray(0, n));
}

/**
 * Parses the header at the start of `buffer`. Feed it everything received so far: it answers
 * 'incomplete' while a header could still be completing, 'none' as soon as the bytes cannot be a
 * PROXY header, and never reads past the header it reports.
 */
export function parseProxyHeader(buffer: Buffer): ProxyParseResult {
  if (buffer.length === 0) return INCOMPLETE;
  if (buffer[0] === V1_PREFIX[0]) {
    if (!startsLike(buffer, V1_PREFIX)) return NONE;
    return buffer.length < V1_PREFIX.length ? INCOMPLETE : parseV1(buffer);
  }
  if (buffer[0] === PROXY_V2_SIGNATURE[0]) {
    if (!startsLike(buffer, PROXY_V2_SIGNATURE)) return NONE;
    return buffer.length < PROXY_V2_SIGNATURE.length ? INCOMPLETE : parseV2(buffer);
  }
  return NONE;
}

// ---- v1 (section 2.1) ----

function parseV1(buffer: Buffer): ProxyParseResult {
  // Section 2.1: the receiver must not start parsing before the CRLF, and must give up when none
  // appears within 107 characters. Anything outside printable US-ASCII cannot be part of a header.
  const limit = Math.min(buffer.length, PROXY_V1_MAX_LENGTH);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const byte = buffer[i] as number;
    if (byte === CR) {
      if (i + 1 >= PROXY_V1_MAX_LENGTH) return invalid('v1 header longer than 107 bytes');
      if (i + 1 >= buffer.length) return INCOMPLETE;
      if (buffer[i + 1] !== LF) return invalid('v1 header: CR not followed by LF');
      end = i;
      break;
    }
    if (byte === LF) return invalid('v1 header: bare LF');
    if (byte < 0x20 || byte > 0x7e) return invalid('v1 header: non-printable byte');
  }
  if (end < 0) return buffer.length >= PROXY_V1_MAX_LENGTH ? invalid('v1 header: no CRLF within 107 bytes') : INCOMPLETE;

  const length = end + 2;
  const line = buffer.toString('latin1', V1_PREFIX.length, end);
  // Section 2.1: with UNKNOWN "the rest of the line up to the CRLF" is ignored, and the
  // receiver uses the real connection's endpoints.
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) {
    return { status: 'ok', header: { version: 1, command: 'PROXY', family: 'unknown' }, length };
  }
  // Section 2.1: exactly one space between fields; split(' ') turns a doubled space into an
  // empty field, which no check below accepts.
  const fields = line.split(' ');
  if (fields.length !== 5) return invalid(`v1 header: expected 5 fields, got ${fields.length}`);
  const [protocol, sourceText, destinationText, sourcePortText, destinationPortText] = fields as [string, string, string, string, string];
  let family: 'tcp4' | 'tcp6';
  if (protocol === 'TCP4') family = 'tcp4';
  else if (protocol === 'TCP6') family = 'tcp6';
  else return invalid(`v1 header: unknown protocol "${protocol}"`);

  const source = v1Address(sourceText, family);
  const destination = v1Address(destinationText, family);
  if (source === null || destination === null) return invalid(`v1 header: address is not ${protocol}`);
  const sourcePort = v1Port(sourcePortText);
  const destinationPort = v1Port(destinationPortText);
  if (sourcePort === null || destinationPort === null) return invalid('v1 header: port is not a decimal 0..65535');
  return {
    status: 'ok',
    header: {
      version: 1,
      command: 'PROXY',
      family,
      source: { address: source, port: sourcePort },
      destination: { address: destination, port: destinationPort },
    },
    length,
  };
}

/** The address in canonical form, or null when it is not an address of `family` (no zone IDs). */
function v1Address(text: string, family: 'tcp4' | 'tcp6'): string | null {
  // node:net's isIPv4 refuses leading zeros ("010.0.0.1"), which some stacks read as octal.
  if (family === 'tcp4') return isIPv4(text) ? text : null;
  if (!isIPv6(text) || text.includes('%')) return null;
  return canonicalIPv6(text);
}

/** Section 2.1: a decimal integer in 0..65535; we also refuse leading zeros and signs. */
function v1Port(text: string): number | null {
  if (!/^(?:0|[1-9][0-9]{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port <= 0xffff ? port : null;
}

// ---- v2 (section 2.2) ----

function parseV2(buffer: Buffer): ProxyParseResult {
  if (buffer.length < 16) return INCOMPLETE;
  // 13th byte: version in the high nibble (must be 2), command in the low one; section 2.2 says
  // receivers must drop connections presenting unexpected values.
  const versionCommand = buffer[12] as number;
  if (versionCommand >> 4 !== 2) return invalid(`v2 header: version ${versionCommand >> 4}`);
  const commandCode = versionCommand & 0x0f;
  if (commandCode > 1) return invalid(`v2 header: unknown command ${commandCode}`);
  // 14th byte: address family and transport protocol; unassigned values are refused likewise.
  const familyByte = buffer[13] as number;
  const addressFamily = familyByte >> 4;
  const transport = familyByte & 0x0f;
  if (addressFamily > AF_UNIX || transport > TRANSPORT_DGRAM) {
    return invalid(`v2 header: unknown family/protocol 0x${familyByte.toString(16).padStart(2, '0')}`);
  }
  // 15th-16th bytes: length of what follows, network byte order.
  const bodyLength = buffer.readUInt16BE(14);
  if (bodyLength > PROXY_V2_MAX_BODY) return invalid(`v2 header: length ${bodyLength} exceeds ${PROXY_V2_MAX_BODY}`);
  const length = 16 + bodyLength;
  if (buffer.length < length) return INCOMPLETE;

  // Section 2.2, LOCAL: the receiver uses the real connection endpoints and discards the
  // protocol block, family included.
  if (commandCode === 0) return { status: 'ok', header: { version: 2, command: 'LOCAL', family: 'unknown' }, length };

  const addressLength = ADDRESS_LENGTH[addressFamily] ?? 0;
  if (bodyLength < addressLength) return invalid(`v2 header: ${bodyLength} bytes cannot hold the addresses (${addressLength})`);
  // Only TCP over IPv4 (0x11) and over IPv6 (0x21) are believed. UNSPEC, UDP and unix sockets
  // are "unknown": the real endpoints are used (section 2.2 lets the receiver do so).
  if (familyByte !== 0x11 && familyByte !== 0x21) return { status: 'ok', header: { version: 2, command: 'PROXY', family: 'unknown' }, length };

  const body = buffer.subarray(16, length);
  const tcp4 = familyByte === 0x11;
  const size = tcp4 ? 4 : 16;
  const format = tcp4 ? formatIPv4 : formatIPv6;
  const source = { address: format(body.subarray(0, size)), port: body.readUInt16BE(2 * size) };
  const destination = { address: format(body.subarray(size, 2 * size)), port: body.readUInt16BE(2 * size + 2) };
  const tlvs = parseTlvs(body.subarray(addressLength));
  if (typeof tlvs === 'string') return invalid(tlvs);
  const header: ProxyHeader = {
    version: 2,
    command: 'PROXY',
    family: tcp4 ? 'tcp4' : 'tcp6',
    source,
    destination,
    ...(tlvs.size > 0 ? { tlvs } : {}),
  };
  return { status: 'ok', header, length };
}

/**
 * Section 2.2.1: type (1 byte), length (2 bytes, network order), value; the TLVs must fill the
 * rest of the block exactly. The first of duplicate types wins. Returns an error text on failure.
 */
function parseTlvs(block: Buffer): Map<number, Buffer> | string {
  const tlvs = new Map<number, Buffer>();
  let offset = 0;
  while (offset < block.length) {
    if (offset + 3 > block.length) return 'v2 header: truncated TLV';
    const type = block[offset] as number;
    const valueLength = block.readUInt16BE(offset + 1);
    const end = offset + 3 + valueLength;
    if (end > block.length) return `v2 header: TLV 0x${type.toString(16)} overruns the header`;
    if (!tlvs.has(type)) tlvs.set(type, Buffer.from(block.subarray(offset + 3, end)));
    offset = end;
  }
  return tlvs;
}

function formatIPv4(bytes: Buffer): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

function formatIPv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return canonicalIPv6(groups.join(':'));
}

/**
 * Node's own text form (libuv's inet_ntop, as in socket.remoteAddress): lower case, longest
 * zero run compressed, IPv4-mapped shown as "::ffff:a.b.c.d". SocketAddress does no I/O.
 */
function canonicalIPv6(text: string): string {
  return new SocketAddress({ address: text, family: 'ipv6' }).address;
}

// ---- encoders ----

/** Section 2.1. Throws a RangeError for LOCAL (v1 has none) or addresses not of `family`. */
export function encodeProxyV1(header: ProxyHeader): Buffer {
  if (header.command !== 'PROXY') throw new RangeError('PROXY v1 has no LOCAL command');
  if (header.family === 'unknown') return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const { source, destination } = requireEndpoints(header);
  const protocol = header.family === 'tcp4' ? 'TCP4' : 'TCP6';
  const line = `PROXY ${protocol} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`;
  return Buffer.from(line, 'latin1');
}

/**
 * Section 2.2. 'unknown' is sent as UNSPEC (0x00) with no addresses. Throws a RangeError for
 * addresses not of `family`, a TLV value over 65535 bytes or a block over 65535 bytes.
 */
export function encodeProxyV2(header: ProxyHeader): Buffer {
  const parts: Buffer[] = [];
  let familyByte = 0x00;
  if (header.family !== 'unknown') {
    const { source, destination } = requireEndpoints(header);
    const tcp4 = header.family === 'tcp4';
    familyByte = tcp4 ? 0x11 : 0x21;
    const toBytes = tcp4 ? ipv4Bytes : ipv6Bytes;
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(source.port, 0);
    ports.writeUInt16BE(destination.port, 2);
    parts.push(toBytes(source.address), toBytes(destination.address), ports);
  }
  for (const [type, value] of header.tlvs ?? []) {
    if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`TLV type ${type} out of range`);
    if (value.length > 0xffff) throw new RangeError(`TLV 0x${type.toString(16)} longer than 65535 bytes`);
    const head = Buffer.alloc(3);
    head.writeUInt8(type, 0);
    head.writeUInt16BE(value.length, 1);
    parts.push(head, value);
  }
  const body = Buffer.concat(parts);
  if (body.length > 0xffff) throw new RangeError('PROXY v2 block longer than 65535 bytes');
  const fixed = Buffer.alloc(4);
  fixed.writeUInt8(0x20 | (header.command === 'LOCAL' ? 0x0 : 0x1), 0);
  fixed.writeUInt8(familyByte, 1);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, body]);
}

function requireEndpoints(header: ProxyHeader): { source: ProxyEndpoint; destination: ProxyEndpoint } {
  const { source, destination } = header;
  if (!source || !destination) throw new RangeError(`a ${header.family} header needs source and destination`);
  const check = header.family === 'tcp4' ? isIPv4 : (text: string) => isIPv6(text) && !text.includes('%');
  for (const endpoint of [source, destination]) {
    if (!check(endpoint.address)) throw new RangeError(`"${endpoint.address}" is not a ${header.family} address`);
    if (!Number.isInteger(endpoint.port) || endpoint.port < 0 || endpoint.port > 0xffff) throw new RangeError(`port ${endpoint.port} out of range`);
  }
  return { source, destination };
}

function ipv4Bytes(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

/** 16 bytes of a valid IPv6 text (checked by the caller), "::" and a dotted IPv4 tail included. */
function ipv6Bytes(text: string): Buffer {
  const groupsOf = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const gap = text.indexOf('::');
  const head = groupsOf(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : groupsOf(text.slice(gap + 2));
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(group, 2 * i));
  return bytes;
}
