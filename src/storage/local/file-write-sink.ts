/**
 * @module storage/local/file-write-sink
 * Uploads: a Writable over an fd that gathers the incoming chunks (the data socket's reads)
 * and hands them to the kernel in as few calls as it can: one write for a small file that
 * arrived in one read, and for a big one a writev of everything that arrived while the
 * previous write was in the thread pool (at most BATCH_BYTES), with at most one write in the
 * thread pool at a time. fs.WriteStream writes the first chunk alone as soon as it arrives and then
 * whatever queued up meanwhile, i.e. a thread-pool round trip per socket read at first and
 * two writes for a 4 KiB file (data, then nothing left but the close).
 *
 * Backpressure: the stream's callback for a chunk is held only when a full batch is waiting
 * for the previous one to reach the file, so at most two batches plus the stream's own
 * buffer are in memory per upload. 'finish' (and so commit(), and the 226) comes only after
 * the last batch has been written. The chunks are kept by reference until written, not
 * copied: the data socket allocates every read afresh, and the Writable contract gives the
 * stream the chunk once written.
 */
import fs from 'node:fs';
import { Writable } from 'node:stream';

/** Bytes gathered before a writev. */
const BATCH_BYTES = 1024 * 1024;
/** Linux's IOV_MAX: buffers per writev. */
const MAX_IOV = 1024;

type Callback = (error?: Error | null) => void;

export class FileWriteSink extends Writable {
  readonly #fd: number;
  /** Where the next batch goes; null with O_APPEND (the kernel writes at the end). */
  #position: number | null;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #inFlight = false;
  /** Runs once the write in flight is done (a held chunk callback, _final or _destroy). */
  #afterFlight: (() => void) | null = null;
  #error: Error | null = null;
  #flushScheduled = false;

  /** `position`: the file offset of the first byte, or null to append (O_APPEND). */
  constructor(fd: number, position: number | null) {
    // Not destroyed (fd closed) on finish: the write handle fsyncs first, then destroys it.
    super({ highWaterMark: BATCH_BYTES, autoDestroy: false });
    this.#fd = fd;
    this.#position = position;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.#take(chunk);
    this.#afterTake(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: Callback): void {
    for (const { chunk } of chunks) this.#take(chunk);
    this.#afterTake(callback);
  }

  override _final(callback: Callback): void {
    this.#whenIdle(() => {
      if (this.#error || this.#pendingBytes === 0) {
        callback(this.#error);
        return;
      }
      this.#flush();
      this.#whenIdle(() => callback(this.#error));
    });
  }

  override _destroy(error: Error | null, callback: Callback): void {
    // Never close the fd under a write still running in the thread pool (it could write
    // into whatever file gets that fd number next). A chunk callback still held is dropped:
    // the stream is destroyed. Bytes already accepted are written first: an interrupted
    // upload keeps everything that arrived, for REST/APPE to continue from.
    const close = () => fs.close(this.#fd, (closeError) => callback(error ?? this.#error ?? closeError));
    const flushThenClose = () => {
      if (this.#error || this.#pendingBytes === 0) {
        close();
        return;
      }
      this.#flush();
      this.#afterFlight = close;
    };
    if (this.#inFlight) this.#afterFlight = flushThenClose;
    else flushThenClose();
  }

  /**
   * The fd and the offset of the next byte, for a receiver that writes the rest of the upload
   * itself (WriteHandle.direct): only once settled (nothing gathered, no write in flight).
   */
  direct(): { fd: number; position: number | null } | null {
    if (this.#inFlight || this.#pendingBytes > 0 || this.#error || this.destroyed || this.writableEnded) return null;
    return { fd: this.#fd, position: this.#position };
  }

  /**
   * Writes what is gathered and resolves once no write is in flight (rejects with the sink's
   * error). The caller has seen every earlier chunk through _write (LocalWriteHandle's
   * afterEarlierWrites), so everything written so far is then in the file.
   */
  settle(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => (this.#error ? reject(this.#error) : resolve());
      this.#whenIdle(() => {
        if (this.#error || this.#pendingBytes === 0) {
          done();
          return;
        }
        this.#flush();
        this.#whenIdle(done);
      });
    });
  }

  /** Moves where the next chunk goes, for SFTP's positioned writes: what is gathered is written at the old position first. */
  async reposition(offset: number): Promise<void> {
    if (this.#position === null) throw new Error('an O_APPEND upload has no position');
    await this.settle();
    this.#position = offset;
  }

  #take(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
  }

  #afterTake(callback: Callback): void {
    if (this.#error) {
      callback(this.#error);
      return;
    }
    if (this.#pendingBytes < BATCH_BYTES && this.#pending.length < MAX_IOV) {
      callback();
      this.#scheduleFlush();
      return;
    }
    this.#whenIdle(() => {
      if (this.#error) {
        callback(this.#error);
        return;
      }
      this.#flush();
      callback();
    });
  }

  /**
   * Writes what was gathered once the event loop has read everything the socket had for now
   * (setImmediate runs after the poll phase): a stalled upload has its bytes on storage, not
   * in memory, and a small file that arrived in one read is one write.
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#inFlight) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (!this.#inFlight && this.#pendingBytes > 0 && !this.destroyed && !this.#error) this.#flush();
    });
  }

  #whenIdle(run: () => void): void {
    if (this.#inFlight) this.#afterFlight = run;
    else run();
  }

  /** Starts writing everything gathered so far. */
  #flush(): void {
    const buffers = this.#pending;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#inFlight = true;
    const position = this.#position;
    if (position !== null) this.#position = position + bytes;
    this.#writeAll(buffers, bytes, position, (error) => {
      this.#inFlight = false;
      if (error) this.#error ??= error;
      const next = this.#afterFlight;
      this.#afterFlight = null;
      if (next) next();
      // What arrived while this write was in the thread pool goes out in one writev now.
      else if (this.#pendingBytes > 0 && !this.destroyed && !this.#error) this.#flush();
    });
  }

  #writeAll(buffers: Buffer[], bytes: number, position: number | null, done: (error: Error | null) => void): void {
    const onWritten = (error: Error | null, written: number) => {
      if (error) {
        done(error);
        return;
      }
      if (written >= bytes) {
        done(null);
        return;
      }
      // A short write (a signal, or a disk about to report ENOSPC): write the rest.
      this.#writeAll(skipBytes(buffers, written), bytes - written, position === null ? null : position + written, done);
    };
    const [only] = buffers;
    if (buffers.length === 1 && only) fs.write(this.#fd, only, 0, only.length, position, onWritten);
    else fs.writev(this.#fd, buffers, position, onWritten);
  }
}

/** `buffers` without their first `count` bytes. */
function skipBytes(buffers: readonly Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}
