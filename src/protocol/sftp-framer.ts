/**
 * @module protocol/sftp-framer
 * The SFTP subsystem's byte stream cut into packets (draft-ietf-secsh-filexfer-02 §3: a
 * uint32 length, then the packet), with a size cap. Pure: no I/O.
 */

/**
 * One framed packet (type byte and body, without the length): one Buffer, or the views of the
 * channel chunks it spans, in order.
 */
export type SftpPacket = Buffer | readonly Buffer[];

/**
 * Splits a subsystem byte stream into packets; refuses any packet over `maxPacketBytes`.
 * The SSH channel delivers at most its packet size (32 KiB from OpenSSH) per chunk, so a
 * 255 KiB WRITE arrives in 8 pieces: a packet that spans chunks is handed on as the list of
 * their views, never copied here (parseRequest joins what is not a WRITE; a WRITE's payload
 * goes to storage as those views).
 */
export class SftpFramer {
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  /** Length of the packet being assembled, once its 4-byte prefix has arrived; -1 before. */
  #need = -1;
  constructor(readonly maxPacketBytes: number) {}

  /** Appends bytes and returns the complete packets; throws RangeError on an oversized length. */
  push(chunk: Buffer): SftpPacket[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const packets: SftpPacket[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) break;
        const length = this.#take(4).readUInt32BE(0);
        if (length === 0 || length > this.maxPacketBytes) throw new RangeError(`SFTP packet of ${length} bytes refused`);
        this.#need = length;
      }
      if (this.#buffered < this.#need) break;
      packets.push(this.#takePacket(this.#need));
      this.#need = -1;
    }
    return packets;
  }

  /** The next `n` buffered bytes as views: one Buffer when they lie in one chunk, else a view of each chunk. */
  #takePacket(n: number): SftpPacket {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) return this.#take(n);
    this.#buffered -= n;
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const chunk = this.#chunks[0] as Buffer;
      if (chunk.length <= left) {
        parts.push(chunk);
        this.#chunks.shift();
        left -= chunk.length;
      } else {
        parts.push(chunk.subarray(0, left));
        this.#chunks[0] = chunk.subarray(left);
        left = 0;
      }
    }
    return parts;
  }

  /** The next `n` buffered bytes: a view when they lie in one chunk, else one copy (a length prefix split across chunks). */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0] as Buffer;
      const part = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, part);
      at += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    return out;
  }

  get buffered(): number {
    return this.#buffered + (this.#need >= 0 ? 4 : 0);
  }
}
