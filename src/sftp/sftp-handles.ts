/**
 * @module sftp/sftp-handles
 * What an SFTP handle stands for. SFTP addresses files by offset; the storage port streams.
 * A read handle keeps one read stream open and reopens it only when the client seeks; a write
 * handle accepts the sequential writes every tested client sends (OpenSSH, libssh2, paramiko
 * pipeline writes in offset order) and refuses a gap rather than corrupting a file.
 */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { UserFiles } from '../files/user-files.js';
import type { Entry, ReadSource, VirtualPath, WriteHandle } from '../storage/types.js';

export class ReadCursor {
  /** Bytes sent to the client, and where the first read started (the transfer record). */
  bytes = 0;
  firstOffset = -1;
  readonly startedAt = Date.now();
  #source: ReadSource | null = null;
  #position = 0;
  #ended = false;
  #error: Error | null = null;

  constructor(
    readonly files: UserFiles,
    readonly path: VirtualPath,
    readonly size: number,
  ) {}

  /** Up to `length` bytes from `offset`; null at the end of the file. May return fewer bytes (allowed by draft-02 §6.4). */
  async read(offset: number, length: number): Promise<Buffer | null> {
    if (offset >= this.size && this.#source === null) return null;
    if (this.#source === null || offset !== this.#position) await this.#reopen(offset);
    const source = this.#source as ReadSource;
    const chunks: Buffer[] = [];
    let got = 0;
    for (;;) {
      if (this.#error) throw this.#error;
      while (got < length) {
        const chunk = source.read() as Buffer | null;
        if (chunk === null) break;
        const take = Math.min(chunk.length, length - got);
        if (take < chunk.length) source.unshift(chunk.subarray(take));
        chunks.push(take < chunk.length ? chunk.subarray(0, take) : chunk);
        got += take;
      }
      if (got > 0 || this.#ended) break;
      await Promise.race([once(source, 'readable'), once(source, 'end')]).catch(() => undefined);
    }
    if (got === 0) return null;
    if (this.firstOffset < 0) this.firstOffset = offset;
    this.bytes += got;
    this.#position += got;
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, got);
  }

  async #reopen(offset: number): Promise<void> {
    this.close();
    this.#ended = false;
    this.#error = null;
    const source = await this.files.openRead(this.path, offset);
    source.on('end', () => (this.#ended = true));
    source.on('error', (error) => (this.#error = error));
    this.#source = source;
    this.#position = offset;
  }

  close(): void {
    this.#source?.destroy();
    this.#source = null;
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
    /** Truncate on open (SSH_FXF_TRUNC) or append (SSH_FXF_APPEND); otherwise the first write's offset decides (resume). */
    readonly mode: 'overwrite' | 'append' | 'resume',
    readonly existed: boolean,
  ) {}

  /** Opens the storage side now (a truncating open empties the file at once, as open(2) would). */
  async start(): Promise<void> {
    const open = await this.files.prepareUpload(this.path, this.mode === 'resume' ? 'overwrite' : this.mode, 0);
    this.#attach(await open());
  }

  #attach(handle: WriteHandle): void {
    handle.stream.on('error', (error) => (this.#error = error));
    this.#handle = handle;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#handle === null) {
      const open = await this.files.prepareUpload(this.path, 'resume', offset);
      this.#attach(await open());
      this.#position = offset;
    } else if (this.mode !== 'append' && offset !== this.#position) {
      throw new NonSequentialWrite();
    }
    this.#wrote = true;
    if (this.firstOffset < 0) this.firstOffset = offset;
    this.bytes += data.length;
    const stream = (this.#handle as WriteHandle).stream;
    this.#position += data.length;
    if (!stream.write(data)) await Promise.race([once(stream, 'drain'), once(stream, 'close')]);
    this.#throwIfFailed();
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
