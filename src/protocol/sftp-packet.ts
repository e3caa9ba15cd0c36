/**
 * @module protocol/sftp-packet
 * SFTP version 3 (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks) on the wire:
 * framing of the subsystem byte stream, parsing of client requests and encoding of server
 * replies. Pure: no I/O. Paths and handles stay Buffers so names that are not UTF-8 are
 * carried byte-exact; the frontend decides what to do with them.
 */

import type { SftpPacket } from './sftp-framer.js';

export type { SftpPacket } from './sftp-framer.js';

export const SFTP_VERSION = 3;

/** Packet types (draft-02 §3). */
export const FXP = {
  INIT: 1, VERSION: 2, OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, LSTAT: 7, FSTAT: 8, SETSTAT: 9, FSETSTAT: 10,
  OPENDIR: 11, READDIR: 12, REMOVE: 13, MKDIR: 14, RMDIR: 15, REALPATH: 16, STAT: 17, RENAME: 18,
  READLINK: 19, SYMLINK: 20, STATUS: 101, HANDLE: 102, DATA: 103, NAME: 104, ATTRS: 105,
  EXTENDED: 200, EXTENDED_REPLY: 201,
} as const;

/** Status codes (draft-02 §7). */
export const FX = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, NO_CONNECTION: 6, CONNECTION_LOST: 7, OP_UNSUPPORTED: 8 } as const;
export type StatusCode = (typeof FX)[keyof typeof FX];

/** SSH_FXF_* open flags (draft-02 §6.3). */
export const FXF = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;

/** SSH_FILEXFER_ATTR_* flags (draft-02 §5). */
export const ATTR = { SIZE: 0x1, UIDGID: 0x2, PERMISSIONS: 0x4, ACMODTIME: 0x8, EXTENDED: 0x80000000 } as const;

/** File attributes; times in seconds since the epoch (uint32 on the wire in v3). */
export interface Attrs {
  readonly size?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly permissions?: number;
  readonly atime?: number;
  readonly mtime?: number;
}

export type SftpRequest =
  | { readonly type: 'init'; readonly version: number }
  | { readonly type: 'open'; readonly id: number; readonly path: Buffer; readonly flags: number; readonly attrs: Attrs }
  | { readonly type: 'close' | 'fstat' | 'readdir'; readonly id: number; readonly handle: Buffer }
  | { readonly type: 'read'; readonly id: number; readonly handle: Buffer; readonly offset: number; readonly length: number }
  /** `data`: the payload as views of the packet's buffers (a 255 KiB WRITE spans eight channel chunks; it is never joined). */
  | { readonly type: 'write'; readonly id: number; readonly handle: Buffer; readonly offset: number; readonly data: readonly Buffer[] }
  | { readonly type: 'lstat' | 'stat' | 'opendir' | 'remove' | 'rmdir' | 'realpath' | 'readlink'; readonly id: number; readonly path: Buffer }
  | { readonly type: 'setstat' | 'mkdir'; readonly id: number; readonly path: Buffer; readonly attrs: Attrs }
  | { readonly type: 'fsetstat'; readonly id: number; readonly handle: Buffer; readonly attrs: Attrs }
  | { readonly type: 'rename' | 'symlink'; readonly id: number; readonly from: Buffer; readonly to: Buffer }
  | { readonly type: 'extended'; readonly id: number; readonly name: string; readonly body: Buffer }
  /** Unknown type or a body that does not parse: answered SSH_FX_OP_UNSUPPORTED / BAD_MESSAGE. */
  | { readonly type: 'unknown'; readonly id: number | null; readonly packetType: number }
  | { readonly type: 'malformed'; readonly id: number | null; readonly packetType: number };

/** A cursor over one packet body; every read checks the bounds. */
export class SftpReader {
  #offset = 0;
  constructor(readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length - this.#offset;
  }

  #need(n: number): number {
    if (this.#offset + n > this.buffer.length) throw new RangeError('truncated SFTP packet');
    const at = this.#offset;
    this.#offset += n;
    return at;
  }

  uint32(): number {
    return this.buffer.readUInt32BE(this.#need(4));
  }

  /** uint64 as a number: offsets beyond 2^53 are refused (no storage has such files). */
  uint64(): number {
    const value = this.buffer.readBigUInt64BE(this.#need(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('offset beyond 2^53');
    return Number(value);
  }

  string(): Buffer {
    const length = this.uint32();
    const at = this.#need(length);
    return this.buffer.subarray(at, at + length);
  }

  rest(): Buffer {
    return this.buffer.subarray(this.#need(this.remaining));
  }

  attrs(): Attrs {
    const flags = this.uint32();
    const attrs: { -readonly [K in keyof Attrs]: Attrs[K] } = {};
    if (flags & ATTR.SIZE) attrs.size = this.uint64();
    if (flags & ATTR.UIDGID) {
      attrs.uid = this.uint32();
      attrs.gid = this.uint32();
    }
    if (flags & ATTR.PERMISSIONS) attrs.permissions = this.uint32();
    if (flags & ATTR.ACMODTIME) {
      attrs.atime = this.uint32();
      attrs.mtime = this.uint32();
    }
    if (flags & ATTR.EXTENDED) {
      const count = this.uint32();
      for (let i = 0; i < count; i++) {
        this.string();
        this.string();
      }
    }
    return attrs;
  }
}

/** Longest handle a WRITE may carry to be parsed without joining (draft-02 §3: at most 256 bytes). */
const MAX_HANDLE_BYTES = 256;

/**
 * Parses one packet. Never throws. A WRITE that spans several chunks keeps its payload as views
 * of them (only its header is copied); any other packet that spans chunks is joined once.
 */
export function parseRequest(packet: SftpPacket): SftpRequest {
  if (Buffer.isBuffer(packet)) return parseJoined(packet);
  if (packet[0]?.[0] === FXP.WRITE) {
    const write = parseSplitWrite(packet);
    if (write) return write;
  }
  return parseJoined(Buffer.concat(packet));
}

/** A WRITE spread over `pieces`, or null to parse it joined (a header too short or too odd to split). */
function parseSplitWrite(pieces: readonly Buffer[]): SftpRequest | null {
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  // type, id, handle length
  if (total < 9) return null;
  const handleLength = prefix(pieces, 9).readUInt32BE(5);
  if (handleLength > MAX_HANDLE_BYTES) return null;
  const headerLength = 9 + handleLength + 8 + 4;
  if (total < headerLength) return null;
  const header = new SftpReader(prefix(pieces, headerLength).subarray(1));
  const id = header.uint32();
  const handle = header.string();
  let offset: number;
  try {
    offset = header.uint64();
  } catch {
    return { type: 'malformed', id, packetType: FXP.WRITE };
  }
  const length = header.uint32();
  if (headerLength + length > total) return { type: 'malformed', id, packetType: FXP.WRITE };
  return { type: 'write', id, handle, offset, data: slice(pieces, headerLength, length) };
}

/** The first `n` bytes of `pieces` as one Buffer (a copy: n is a header's size). */
function prefix(pieces: readonly Buffer[], n: number): Buffer {
  const first = pieces[0] as Buffer;
  if (first.length >= n) return first.subarray(0, n);
  return Buffer.concat(pieces, n);
}

/** Views of `length` bytes of `pieces` from byte `start` on (no copy). */
function slice(pieces: readonly Buffer[], start: number, length: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = start;
  let left = length;
  for (const piece of pieces) {
    if (left === 0) break;
    if (skip >= piece.length) {
      skip -= piece.length;
      continue;
    }
    const part = piece.subarray(skip, skip + Math.min(left, piece.length - skip));
    skip = 0;
    left -= part.length;
    if (part.length > 0) out.push(part);
  }
  return out;
}

function parseJoined(packet: Buffer): SftpRequest {
  const packetType = packet.length > 0 ? (packet[0] as number) : -1;
  const r = new SftpReader(packet.subarray(1));
  let id: number | null = null;
  try {
    if (packetType === FXP.INIT) return { type: 'init', version: r.uint32() };
    id = r.uint32();
    switch (packetType) {
      case FXP.OPEN: return { type: 'open', id, path: r.string(), flags: r.uint32(), attrs: r.attrs() };
      case FXP.CLOSE: return { type: 'close', id, handle: r.string() };
      case FXP.FSTAT: return { type: 'fstat', id, handle: r.string() };
      case FXP.READDIR: return { type: 'readdir', id, handle: r.string() };
      case FXP.READ: return { type: 'read', id, handle: r.string(), offset: r.uint64(), length: r.uint32() };
      case FXP.WRITE: return { type: 'write', id, handle: r.string(), offset: r.uint64(), data: [r.string()] };
      case FXP.LSTAT: return { type: 'lstat', id, path: r.string() };
      case FXP.STAT: return { type: 'stat', id, path: r.string() };
      case FXP.OPENDIR: return { type: 'opendir', id, path: r.string() };
      case FXP.REMOVE: return { type: 'remove', id, path: r.string() };
      case FXP.RMDIR: return { type: 'rmdir', id, path: r.string() };
      case FXP.REALPATH: return { type: 'realpath', id, path: r.string() };
      case FXP.READLINK: return { type: 'readlink', id, path: r.string() };
      case FXP.SETSTAT: return { type: 'setstat', id, path: r.string(), attrs: r.attrs() };
      case FXP.MKDIR: return { type: 'mkdir', id, path: r.string(), attrs: r.attrs() };
      case FXP.FSETSTAT: return { type: 'fsetstat', id, handle: r.string(), attrs: r.attrs() };
      case FXP.RENAME: return { type: 'rename', id, from: r.string(), to: r.string() };
      // OpenSSH (and paramiko, libssh2, Go's pkg/sftp) send (target, link), the reverse of
      // draft-02 §6.10; OpenSSH's sftp-server reads it that way, and so do we.
      case FXP.SYMLINK: return { type: 'symlink', id, to: r.string(), from: r.string() };
      case FXP.EXTENDED: return { type: 'extended', id, name: r.string().toString('latin1'), body: r.rest() };
      default: return { type: 'unknown', id, packetType };
    }
  } catch {
    return { type: 'malformed', id, packetType };
  }
}

/** Builds one reply packet (length prefix included). */
export class SftpWriter {
  readonly #parts: Buffer[] = [];
  #length = 0;

  constructor(type: number, id?: number) {
    this.byte(type);
    if (id !== undefined) this.uint32(id);
  }

  #push(buffer: Buffer): this {
    this.#parts.push(buffer);
    this.#length += buffer.length;
    return this;
  }

  byte(value: number): this {
    return this.#push(Buffer.from([value]));
  }

  uint32(value: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(value >>> 0);
    return this.#push(b);
  }

  uint64(value: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(value))));
    return this.#push(b);
  }

  string(value: Buffer | string): this {
    const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.uint32(b.length);
    return this.#push(b);
  }

  attrs(attrs: Attrs): this {
    let flags = 0;
    if (attrs.size !== undefined) flags |= ATTR.SIZE;
    if (attrs.uid !== undefined && attrs.gid !== undefined) flags |= ATTR.UIDGID;
    if (attrs.permissions !== undefined) flags |= ATTR.PERMISSIONS;
    if (attrs.atime !== undefined && attrs.mtime !== undefined) flags |= ATTR.ACMODTIME;
    this.uint32(flags);
    if (attrs.size !== undefined) this.uint64(attrs.size);
    if (flags & ATTR.UIDGID) this.uint32(attrs.uid ?? 0).uint32(attrs.gid ?? 0);
    if (attrs.permissions !== undefined) this.uint32(attrs.permissions);
    if (flags & ATTR.ACMODTIME) this.uint32(attrs.atime ?? 0).uint32(attrs.mtime ?? 0);
    return this;
  }

  finish(): Buffer {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(this.#length);
    return Buffer.concat([head, ...this.#parts], this.#length + 4);
  }
}

export function encodeVersion(extensions: readonly (readonly [string, string])[]): Buffer {
  const w = new SftpWriter(FXP.VERSION).uint32(SFTP_VERSION);
  for (const [name, data] of extensions) w.string(name).string(data);
  return w.finish();
}

export function encodeStatus(id: number, code: StatusCode, message: string): Buffer {
  return new SftpWriter(FXP.STATUS, id).uint32(code).string(message).string('en').finish();
}

export function encodeHandle(id: number, handle: Buffer): Buffer {
  return new SftpWriter(FXP.HANDLE, id).string(handle).finish();
}

/**
 * SSH_FXP_DATA from one buffer or several pieces (a read that spans storage chunks), laid out
 * in one allocation: the data is copied once, straight after the 13-byte header.
 */
export function encodeData(id: number, data: Buffer | readonly Buffer[]): Buffer {
  const pieces = Buffer.isBuffer(data) ? [data] : data;
  let length = 0;
  for (const piece of pieces) length += piece.length;
  const out = Buffer.allocUnsafe(13 + length);
  out.writeUInt32BE(9 + length, 0);
  out[4] = FXP.DATA;
  out.writeUInt32BE(id >>> 0, 5);
  out.writeUInt32BE(length, 9);
  let at = 13;
  for (const piece of pieces) at += piece.copy(out, at);
  return out;
}

export function encodeAttrs(id: number, attrs: Attrs): Buffer {
  return new SftpWriter(FXP.ATTRS, id).attrs(attrs).finish();
}

export interface NameEntry {
  readonly filename: Buffer | string;
  readonly longname: Buffer | string;
  readonly attrs: Attrs;
}

export function encodeName(id: number, entries: readonly NameEntry[]): Buffer {
  const w = new SftpWriter(FXP.NAME, id).uint32(entries.length);
  for (const e of entries) w.string(e.filename).string(e.longname).attrs(e.attrs);
  return w.finish();
}

/** An SSH_FXP_EXTENDED_REPLY whose body the caller has laid out. */
export function extendedReply(id: number): SftpWriter {
  return new SftpWriter(FXP.EXTENDED_REPLY, id);
}

/** The mode bits of `ls -l` for a longname ("drwxr-xr-x"). */
export function modeString(permissions: number): string {
  const type = (permissions & 0o170000) === 0o040000 ? 'd' : (permissions & 0o170000) === 0o120000 ? 'l' : '-';
  let out = type;
  for (let shift = 6; shift >= 0; shift -= 3) {
    const bits = (permissions >> shift) & 7;
    out += (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
  }
  return out;
}
