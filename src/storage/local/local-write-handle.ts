/**
 * @module storage/local/local-write-handle
 * One upload to a local file: the commit/abort life cycle over a FileWriteSink, fsync when
 * configured, and the final rename of an atomic upload.
 */
import { promises as fsp } from 'node:fs';
import type { Writable } from 'node:stream';
import type { StorageError } from '../errors.js';
import { StreamWriteHandle } from '../stream-write-handle.js';
import type { DirectTarget } from '../types.js';
import { toStorageError } from './errno.js';
import type { FileWriteSink } from './file-write-sink.js';
import { fsync, ftruncate } from './fs-calls.js';

/** Where an atomic upload's temporary file goes on commit. */
export interface AtomicTarget {
  readonly temp: string;
  readonly target: string;
  /** Fail instead of replacing an existing target (mode create). */
  readonly exclusive: boolean;
}

/**
 * Drives one upload. The sink does not close the fd when it finishes: persist() fsyncs if
 * asked, and only then destroys the sink, which closes the fd once a write in flight is done.
 * Errors from writes or close are recorded by the shared life cycle.
 */
export class LocalWriteHandle extends StreamWriteHandle {
  readonly stream: Writable;
  readonly #sink: FileWriteSink;
  readonly #fd: number;
  readonly #fsync: boolean;
  readonly #atomic: AtomicTarget | undefined;
  #closing: Promise<void> | undefined;

  /** Called when the upload fails or is aborted (see release()). */
  readonly #onAbandon: (() => void) | undefined;

  constructor(sink: FileWriteSink, fd: number, fsync: boolean, atomic?: AtomicTarget, onAbandon?: () => void) {
    super();
    this.#onAbandon = onAbandon;
    this.stream = sink;
    this.#sink = sink;
    this.#fd = fd;
    this.#fsync = fsync;
    this.#atomic = atomic;
    this.watch(sink);
  }

  async direct(): Promise<DirectTarget | null> {
    // Every chunk written so far through _write, then on disk: the receiver goes on from there.
    await this.afterEarlierWrites(0);
    await this.#sink.settle().catch((error: unknown) => {
      throw toStorageError(error);
    });
    return this.#sink.direct();
  }

  async seek(offset: number): Promise<void> {
    const position = await this.afterEarlierWrites(offset);
    await this.#sink.reposition(position).catch((error: unknown) => {
      throw toStorageError(error);
    });
  }

  async truncate(size: number): Promise<void> {
    const length = await this.afterEarlierWrites(size);
    try {
      await this.#sink.settle();
      await ftruncate(this.#fd, length);
    } catch (error) {
      throw toStorageError(error);
    }
  }

  protected async persist(): Promise<void> {
    if (this.#fsync) await fsync(this.#fd);
    await this.#close();
    if (this.streamError !== undefined || this.#atomic === undefined) return;
    const { temp, target, exclusive } = this.#atomic;
    if (exclusive) {
      // STOU/create: link() fails if the name was taken meanwhile, where rename would replace it.
      await fsp.link(temp, target);
      await fsp.unlink(temp).catch(() => undefined);
    } else {
      await fsp.rename(temp, target);
    }
  }

  protected async release(): Promise<void> {
    this.#onAbandon?.();
    await this.#close();
    if (this.#atomic) await fsp.rm(this.#atomic.temp, { force: true }).catch(() => undefined);
  }

  protected toError(error: unknown): StorageError {
    return toStorageError(error);
  }

  /**
   * Destroys the sink and waits for 'close', which comes only after a write in flight is done
   * and the fd is closed. Never rejects; close errors are recorded.
   */
  #close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (this.#sink.closed) {
        resolve();
        return;
      }
      this.#sink.once('close', () => resolve());
      this.#sink.destroy();
    });
    return this.#closing;
  }
}
