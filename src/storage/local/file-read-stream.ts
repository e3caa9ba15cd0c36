/**
 * @module storage/local/file-read-stream
 * Downloads: a file range as a Readable over an fd, read into a few reused buffers.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadSource } from '../types.js';

/** A read of a whole chunk; smaller reads (the end of a file, small files) are sized exactly. */
const READ_CHUNK = 1024 * 1024;
/** Chunk buffers one download keeps for reuse: one being sent, one read ahead, one being read. */
const MAX_FREE_CHUNKS = 3;

/**
 * A file range as a Readable, read with the callback fs API into a few reused buffers.
 * fs.ReadStream allocates a fresh highWaterMark-sized buffer for every read: 1 MiB of
 * external memory for a 4 KiB file (twice, counting the EOF probe), which made small
 * downloads GC-bound, and for big files fresh memory on every chunk, whose page faults cost
 * as much CPU as the copy from the page cache. A consumer that knows when a chunk is no
 * longer referenced (the transfer pump: the socket's write callback) hands it back with
 * release(), and the next read goes into it.
 */
export class FileReadStream extends Readable implements ReadSource {
  readonly size: number;
  bytesRead = 0;
  readonly #fd: number;
  #pos: number;
  #reading = false;
  #closeWhenIdle: ((error?: Error | null) => void) | null = null;
  readonly #free: Buffer[] = [];
  /** Backing stores of the reusable chunk buffers this stream allocated. */
  readonly #own = new WeakSet<ArrayBufferLike>();

  constructor(fd: number, start: number, size: number) {
    super({ highWaterMark: READ_CHUNK });
    this.#fd = fd;
    this.#pos = start;
    this.size = size;
  }

  override _read(): void {
    const want = Math.min(READ_CHUNK, this.size - this.#pos);
    if (want <= 0) {
      this.push(null);
      return;
    }
    let buffer: Buffer;
    if (want < READ_CHUNK) {
      buffer = Buffer.allocUnsafe(want);
    } else {
      buffer = this.#free.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK);
      this.#own.add(buffer.buffer);
    }
    this.#reading = true;
    fs.read(this.#fd, buffer, 0, want, this.#pos, (error, n) => {
      this.#reading = false;
      if (this.#closeWhenIdle) {
        this.#closeWhenIdle(error);
        return;
      }
      if (error) {
        this.destroy(error);
        return;
      }
      if (n === 0) {
        // The file shrank since it was opened: send what there was.
        this.push(null);
        return;
      }
      this.#pos += n;
      this.bytesRead += n;
      this.push(n === buffer.length ? buffer : buffer.subarray(0, n));
      if (this.#pos >= this.size) this.push(null);
    });
  }

  /** The consumer no longer references `chunk` (pushed by this stream): reuse its memory. */
  release(chunk: Buffer): void {
    if (chunk.byteOffset !== 0 || chunk.length !== READ_CHUNK || !this.#own.has(chunk.buffer)) return;
    if (this.#free.length < MAX_FREE_CHUNKS && !this.destroyed) this.#free.push(chunk);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#free.length = 0;
    const close = (readError?: Error | null) => fs.close(this.#fd, (closeError) => callback(error ?? readError ?? closeError));
    // Never close the fd under a read still running in the thread pool (it could read
    // from whatever file gets that fd number next).
    if (this.#reading) this.#closeWhenIdle = close;
    else close();
  }
}

