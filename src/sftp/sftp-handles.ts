/**
 * @module sftp/sftp-handles
 * What an SFTP handle stands for. SFTP addresses files by offset; the storage port streams.
 * A read handle keeps one read stream open and reopens it only when the client seeks; a write
 * handle keeps one upload stream open and moves its position only when a WRITE's offset is not
 * where the last one ended (OpenSSH, libssh2 and paramiko pipeline writes in offset order;
 * sshfs, paramiko's "r+" and multi-part clients do not).
 */
import { finished } from 'node:stream/promises';
import type { UserFiles } from '../files/user-files.js';
import { StorageError } from '../storage/errors.js';
import type { Entry, ReadSource, VirtualPath, WriteHandle } from '../storage/types.js';

/** Bytes a read handle keeps buffered ahead of the client before it pauses the file (two storage chunks). */
const READ_AHEAD_HIGH = 2 * 1024 * 1024;
const READ_AHEAD_LOW = 1024 * 1024;

/**
 * Resolves on the first of `events`; every listener is removed then (Promise.race over
 * events.once() left the losing listener behind on every wait: one more per back-pressure).
 */
export function firstOf(emitter: NodeJS.EventEmitter, events: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      for (const event of events) emitter.off(event, done);
      resolve();
    };
    for (const event of events) emitter.once(event, done);
  });
}

/** Up to the requested bytes of a read, as views of the storage's chunks (copied once, into the reply). */
export interface ReadResult {
  readonly chunks: readonly Buffer[];
  readonly length: number;
}

export class ReadCursor {
  /** Bytes sent to the client, and where the first read started (the transfer record). */
  bytes = 0;
  firstOffset = -1;
  readonly startedAt = Date.now();
  #source: ReadSource | null = null;
  #position = 0;
  #ended = false;
  #error: Error | null = null;
  /**
   * Chunks read ahead, taken from the stream's 'data' events whole: Readable.read() without a
   * size concatenates everything buffered, which made every 255 KiB request copy up to 2 MiB
   * (a download used 78 s of CPU per GiB).
   */
  readonly #queue: Buffer[] = [];
  #queued = 0;
  /** Bytes of #queue[0] already handed out. */
  #head = 0;
  /** Whole chunks handed out by the last read: given back to the storage at the next read (the reply was encoded by then). */
  #consumed: Buffer[] = [];
  #wake: (() => void) | null = null;

  constructor(
    readonly files: UserFiles,
    readonly path: VirtualPath,
    readonly size: number,
  ) {}

  /**
   * `length` bytes from `offset`, fewer only at the end of the file; null at the end.
   * draft-02 §6.4 allows short reads anywhere, but OpenSSH's client shrinks its request size
   * for the rest of the download after one (sftp-client.c, "Short data block"): a read that
   * ended at a storage chunk's boundary turned 255 KiB requests into 4 KiB ones.
   */
  async read(offset: number, length: number): Promise<ReadResult | null> {
    this.#recycle();
    if (offset >= this.size && this.#source === null) return null;
    if (this.#source === null || offset !== this.#position) await this.#reopen(offset);
    const source = this.#source as ReadSource;
    const chunks: Buffer[] = [];
    let got = 0;
    while (got < length) {
      if (this.#queue.length === 0) {
        if (this.#error) throw this.#error;
        if (this.#ended) break;
        if (source.isPaused()) source.resume();
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      const chunk = this.#queue[0] as Buffer;
      const take = Math.min(chunk.length - this.#head, length - got);
      chunks.push(this.#head === 0 && take === chunk.length ? chunk : chunk.subarray(this.#head, this.#head + take));
      this.#head += take;
      this.#queued -= take;
      got += take;
      if (this.#head === chunk.length) {
        this.#consumed.push(chunk);
        this.#queue.shift();
        this.#head = 0;
      }
    }
    if (this.#error) throw this.#error;
    if (got === 0) return null;
    if (source.isPaused() && this.#queued < READ_AHEAD_LOW) source.resume();
    if (this.firstOffset < 0) this.firstOffset = offset;
    this.bytes += got;
    this.#position += got;
    return { chunks, length: got };
  }

  #recycle(): void {
    const source = this.#source;
    if (source?.release) for (const chunk of this.#consumed) source.release(chunk);
    this.#consumed = [];
  }

  async #reopen(offset: number): Promise<void> {
    this.close();
    this.#ended = false;
    this.#error = null;
    const source = await this.files.openRead(this.path, offset);
    const wake = (): void => {
      const resolve = this.#wake;
      this.#wake = null;
      resolve?.();
    };
    source.on('data', (chunk: Buffer) => {
      if (this.#source !== source) return;
      this.#queue.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= READ_AHEAD_HIGH) source.pause();
      wake();
    });
    source.on('end', () => {
      if (this.#source === source) this.#ended = true;
      wake();
    });
    source.on('error', (error) => {
      if (this.#source === source) this.#error = error;
      wake();
    });
    // Destroyed without an error (the handle closed meanwhile): a waiting read ends.
    source.on('close', () => {
      if (this.#source === source) this.#ended = true;
      wake();
    });
    this.#source = source;
    this.#position = offset;
  }

  close(): void {
    this.#source?.destroy();
    this.#source = null;
    this.#queue.length = 0;
    this.#queued = 0;
    this.#head = 0;
    this.#consumed = [];
  }
}

export class WriteCursor {
  /** Bytes written, and where the first write started (the transfer record). */
  bytes = 0;
  firstOffset = -1;
  readonly startedAt = Date.now();
  #handle: WriteHandle | null = null;
  #position = 0;
  #error: Error | null = null;
  #wrote = false;

  constructor(
    readonly files: UserFiles,
    readonly path: VirtualPath,
    /**
     * Truncate on open (SSH_FXF_TRUNC, or a new file), append (SSH_FXF_APPEND: offsets are
     * ignored, as O_APPEND makes pwrite(2) do), or update: the existing bytes stay and each
     * WRITE lands at its offset, as in OpenSSH's sftp-server (which opens without O_TRUNC).
     */
    readonly mode: 'overwrite' | 'append' | 'update',
    readonly existed: boolean,
  ) {}

  /** Opens the storage side now (a truncating open empties the file at once, as open(2) would). */
  async start(): Promise<void> {
    const open = await this.files.prepareUpload(this.path, this.mode === 'update' ? 'overwrite' : this.mode, 0);
    this.#attach(await open());
  }

  #attach(handle: WriteHandle): void {
    handle.stream.on('error', (error) => (this.#error = error));
    this.#handle = handle;
  }

  /** `data`: the payload as one or more views (of the SSH channel's chunks; the stream keeps them until written). */
  async write(offset: number, data: readonly Buffer[]): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#handle === null) {
      // Opened at the first WRITE, so an open and close without writes leaves the file as it was.
      const open = await this.files.prepareUpload(this.path, 'update', offset);
      this.#attach(await open());
      this.#position = offset;
    } else if (this.mode !== 'append' && offset !== this.#position) {
      const handle = this.#handle;
      if (!handle.seek) throw new NonSequentialWrite();
      await handle.seek(offset);
      this.#position = offset;
    }
    this.#wrote = true;
    if (this.firstOffset < 0) this.firstOffset = offset;
    const stream = (this.#handle as WriteHandle).stream;
    let flowing = true;
    for (const piece of data) {
      this.bytes += piece.length;
      this.#position += piece.length;
      flowing = stream.write(piece);
    }
    if (!flowing) await firstOf(stream, ['drain', 'close']);
    this.#throwIfFailed();
  }

  /**
   * FSETSTAT with a size on this handle: the file as written so far is cut or extended
   * (ftruncate(2) on the fd OpenSSH's server holds); the next WRITE's offset is unchanged.
   */
  async truncate(size: number): Promise<void> {
    this.#throwIfFailed();
    const handle = this.#handle;
    if (handle === null) {
      // Opened without TRUNC and not written yet: the file itself.
      await this.files.truncate(this.path, size);
      return;
    }
    if (!handle.truncate) throw new StorageError('UNSUPPORTED', 'not supported');
    await handle.truncate(size);
  }

  /** A storage error seen by the stream's 'error' listener meanwhile. */
  #throwIfFailed(): void {
    if (this.#error) throw this.#error;
  }

  get wrote(): boolean {
    return this.#wrote;
  }

  /** Ends the upload and commits it; a file created by open without writes is created empty. */
  async close(): Promise<void> {
    if (this.#handle === null) {
      if (this.existed) return;
      const open = await this.files.prepareUpload(this.path, 'overwrite', 0);
      this.#attach(await open());
    }
    const handle = this.#handle as WriteHandle;
    this.#handle = null;
    try {
      if (this.#error) throw this.#error;
      handle.stream.end();
      await finished(handle.stream);
      await handle.commit();
    } catch (error) {
      await handle.abort(error instanceof Error ? error : new Error(String(error))).catch(() => undefined);
      throw error;
    }
  }

  /** The session ended with the handle open: the upload is aborted (the storage's upload mode decides what stays). */
  async abort(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    await handle?.abort(new Error('SFTP session closed with the file open')).catch(() => undefined);
  }
}

/** A WRITE away from the position of an upload whose storage can only go forward. */
export class NonSequentialWrite extends Error {
  constructor() {
    super('non-sequential write');
    this.name = 'NonSequentialWrite';
  }
}

export class DirCursor {
  readonly #iterator: AsyncIterator<Entry>;
  #done = false;

  constructor(entries: AsyncIterable<Entry>) {
    this.#iterator = entries[Symbol.asyncIterator]();
  }

  /** Up to `max` entries; an empty array at the end. */
  async next(max: number): Promise<Entry[]> {
    const out: Entry[] = [];
    while (!this.#done && out.length < max) {
      const step = await this.#iterator.next();
      if (step.done) this.#done = true;
      else out.push(step.value);
    }
    return out;
  }

  close(): void {
    if (!this.#done) void this.#iterator.return?.();
    this.#done = true;
  }
}

export type OpenHandle =
  | { readonly kind: 'read'; readonly cursor: ReadCursor }
  | { readonly kind: 'write'; readonly cursor: WriteCursor }
  | { readonly kind: 'dir'; readonly cursor: DirCursor; readonly path: VirtualPath };
