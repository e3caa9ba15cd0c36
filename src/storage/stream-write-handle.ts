/**
 * @module storage/stream-write-handle
 * The commit/abort life cycle every stream-backed WriteHandle shares: commit() waits for the
 * stream to finish, then lets the adapter make the bytes durable; abort() keeps the partial
 * bytes (resumable uploads continue them with REST/APPE) and frees the resources; the first
 * stream error (e.g. ENOSPC) fails the commit. Adapters supply the two steps that differ.
 */
import { finished } from 'node:stream';
import type { Writable } from 'node:stream';
import { StorageError, storageError } from './errors.js';
import { checkOffset } from './segments.js';
import type { WriteHandle } from './types.js';

const EMPTY = Buffer.alloc(0);

type WriteState = 'open' | 'committing' | 'committed' | 'aborted' | 'failed';

export abstract class StreamWriteHandle implements WriteHandle {
  abstract readonly stream: Writable;
  #state: WriteState = 'open';
  #streamError: unknown;
  #commit: Promise<void> | undefined;

  /** Installs the error listener; also keeps an error nobody piped from crashing the process. */
  protected watch(stream: Writable): void {
    stream.on('error', (error) => {
      this.#streamError ??= error;
    });
  }

  /** The first error the stream (or a later step) reported, if any. */
  protected get streamError(): unknown {
    return this.#streamError;
  }

  protected recordError(error: unknown): void {
    this.#streamError ??= error;
  }

  /**
   * For seek(): a checked offset, once every chunk written so far has been through the
   * stream's _write (a zero-length write's callback runs after every earlier one, in order).
   * Rejects with the stream's error, or when the upload is no longer open.
   */
  protected async afterEarlierWrites(offset: number): Promise<number> {
    const checked = checkOffset(offset);
    if (this.#state !== 'open') throw storageError('UNAVAILABLE', new Error('upload is no longer open'));
    await new Promise<void>((resolve, reject) => this.stream.write(EMPTY, (error) => (error ? reject(this.toError(error)) : resolve())));
    return checked;
  }

  /** After every byte is written: make them durable and visible; throw on failure. */
  protected abstract persist(): Promise<void>;

  /** After a failure or an abort: keep what was written, free the resources. Never throws. */
  protected abstract release(): Promise<void>;

  /** Maps a native failure to a StorageError. */
  protected abstract toError(error: unknown): StorageError;

  commit(): Promise<void> {
    if (this.#commit) return this.#commit;
    if (this.#state === 'aborted') return Promise.reject(storageError('UNAVAILABLE', new Error('upload was aborted')));
    this.#commit = this.#doCommit();
    return this.#commit;
  }

  async #doCommit(): Promise<void> {
    this.#state = 'committing';
    try {
      if (this.#streamError === undefined) {
        await new Promise<void>((resolve, reject) => {
          finished(this.stream, { readable: false }, (error) => (error ? reject(error) : resolve()));
          if (!this.stream.writableEnded) this.stream.end();
        });
      }
      // The stream's own error, rethrown as is: the catch below maps it to a StorageError once.
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (this.#streamError !== undefined) throw this.#streamError;
      await this.persist();
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- as above
      if (this.#streamError !== undefined) throw this.#streamError;
      this.#state = 'committed';
    } catch (error) {
      this.#state = 'failed';
      await this.release();
      throw this.toError(error);
    }
  }

  async abort(_reason: Error): Promise<void> {
    if (this.#state === 'committing' && this.#commit) {
      // Let the commit settle (either way) rather than closing under it.
      await this.#commit.catch(() => undefined);
      return;
    }
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    await this.release();
  }
}
