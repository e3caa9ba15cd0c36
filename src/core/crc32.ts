/**
 * @module core/crc32
 * Incremental CRC-32 (ISO-HDLC / IEEE 802.3, the one zip, gzip and FTP's XCRC use). Node has
 * zlib.crc32 only from 20.15 and 22.2; older Node 20 releases get a small table-driven
 * implementation with identical results. Pure computation: no I/O.
 */
import zlib from 'node:zlib';

type NativeCrc32 = (data: Uint8Array, value?: number) => number;

/** zlib.crc32 when this Node has it (checked at runtime: engines allows Node 20.0). */
const native: NativeCrc32 | undefined = (zlib as unknown as { crc32?: NativeCrc32 }).crc32;

let table: Uint32Array | null = null;

/** The 256-entry table of the reflected polynomial 0xEDB88320, built on first use. */
function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC-32 of `data`, continuing from `previous` (0 to start), in the table implementation. */
export function crc32Table(data: Uint8Array, previous = 0): number {
  const t = crcTable();
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) crc = (t[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32 of `data`, continuing from `previous`; zlib's when available. */
export function crc32(data: Uint8Array, previous = 0): number {
  return native ? native(data, previous) >>> 0 : crc32Table(data, previous);
}

/** True when the runtime's zlib.crc32 is used (reported in logs and tests). */
export const NATIVE_CRC32 = native !== undefined;

/** An incremental CRC-32 with the update/digest shape of a crypto Hash. */
export class Crc32 {
  #value = 0;

  update(data: Uint8Array): this {
    this.#value = crc32(data, this.#value);
    return this;
  }

  /** The CRC as a number (unsigned 32-bit). */
  value(): number {
    return this.#value;
  }

  /** Eight hex digits, upper case as XCRC peers answer (ProFTPD mod_digest, Serv-U). */
  digestHex(): string {
    return this.#value.toString(16).toUpperCase().padStart(8, '0');
  }
}
