/**
 * @module storage/memory/memory-write-handle
 * An upload to the memory adapter: chunks are collected and applied to the file node at the
 * handle's position on commit, abort, or a seek (pwrite-like: gaps become zeros).
 */
import { Writable } from 'node:stream';
import type { StorageError } from '../errors.js';
import { storageError } from '../errors.js';
import { StreamWriteHandle } from '../stream-write-handle.js';
import { STREAM_HIGH_WATER_MARK, toStorageError, type FileNode, type Volume } from './memory-volume.js';

const fail = storageError;

/**
 * Collects chunks and applies them to the node on commit (and, like a real fd whose bytes
 * already hit the disk, on abort: partial uploads stay for REST/APPE).
 */
export class MemoryWriteHandle extends StreamWriteHandle {
  readonly stream: Writable;
  readonly #volume: Volume;
  readonly #node: FileNode;
  #position: number | 'end';
  readonly #chunks: Buffer[] = [];
  #pendingBytes = 0;

  constructor(volume: Volume, node: FileNode, position: number | 'end') {
    super();
    this.#volume = volume;
    this.#node = node;
    this.#position = position;
    this.stream = new Writable({
      highWaterMark: STREAM_HIGH_WATER_MARK,
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.#volume.usedBytes() + this.#pendingBytes + chunk.length > this.#volume.capacityBytes) {
          callback(fail('NO_SPACE'));
          return;
        }
        this.#chunks.push(chunk);
        this.#pendingBytes += chunk.length;
        callback();
      },
    });
    this.watch(this.stream);
  }

  async seek(offset: number): Promise<void> {
    if (this.#position === 'end') throw fail('UNSUPPORTED');
    const position = await this.afterEarlierWrites(offset);
    this.#apply();
    this.#position = position;
  }

  async truncate(size: number): Promise<void> {
    const length = await this.afterEarlierWrites(size);
    this.#apply();
    this.#node.data = resized(this.#node.data, length);
    this.#node.mtime = new Date();
  }

  protected async persist(): Promise<void> {
    this.#apply();
  }

  protected async release(): Promise<void> {
    this.stream.destroy();
    this.#apply();
  }

  protected toError(error: unknown): StorageError {
    return toStorageError(error);
  }

  /** Writes the collected bytes at the handle's position (pwrite-like: gaps become zeros). */
  #apply(): void {
    if (this.#chunks.length === 0) return;
    const written = Buffer.concat(this.#chunks);
    this.#chunks.length = 0;
    this.#pendingBytes = 0;
    const data = this.#node.data;
    if (this.#position === 'end') {
      this.#node.data = Buffer.concat([data, written]);
    } else {
      const start = this.#position;
      const head = data.length >= start ? data.subarray(0, start) : Buffer.concat([data, Buffer.alloc(start - data.length)]);
      this.#node.data = Buffer.concat([head, written, data.subarray(Math.min(data.length, start + written.length))]);
      // The next bytes follow these (a truncate applies what came before it, then more come).
      this.#position = start + written.length;
    }
    this.#node.mtime = new Date();
  }
}

/** `data` cut or zero-extended to `length` bytes (ftruncate(2)). */
export function resized(data: Buffer, length: number): Buffer {
  return length <= data.length ? data.subarray(0, length) : Buffer.concat([data, Buffer.alloc(length - data.length)]);
}
