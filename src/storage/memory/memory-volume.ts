/**
 * @module storage/memory/memory-volume
 * The in-memory adapter's tree: file and directory nodes holding Buffers, and the volume one
 * provider's backends share (with an optional capacity, to simulate a full disk).
 */
import { StorageError, storageError } from '../errors.js';

/** Bytes the adapter's read and upload streams buffer. */
export const STREAM_HIGH_WATER_MARK = 256 * 1024;

export function toStorageError(error: unknown): StorageError {
  return error instanceof StorageError ? error : storageError('UNAVAILABLE', error);
}

export interface FileNode {
  readonly kind: 'file';
  readonly id: number;
  data: Buffer;
  mtime: Date;
  mode: number;
}

export interface DirNode {
  readonly kind: 'directory';
  readonly id: number;
  readonly children: Map<string, Node>;
  mtime: Date;
  mode: number;
}

export type Node = FileNode | DirNode;

/** The shared tree of one provider; every backend of the provider sees the same files. */
export class Volume {
  readonly root: DirNode;
  readonly capacityBytes: number;
  #nextId = 1;

  constructor(capacityBytes: number) {
    this.capacityBytes = capacityBytes;
    this.root = this.newDirectory();
  }

  newDirectory(): DirNode {
    return { kind: 'directory', id: this.#nextId++, children: new Map(), mtime: new Date(), mode: 0o755 };
  }

  newFile(): FileNode {
    return { kind: 'file', id: this.#nextId++, data: Buffer.alloc(0), mtime: new Date(), mode: 0o644 };
  }

  /** Bytes held by visible files. A walk, which is fine for test-sized trees. */
  usedBytes(): number {
    let total = 0;
    const stack: DirNode[] = [this.root];
    for (let dir = stack.pop(); dir; dir = stack.pop()) {
      for (const child of dir.children.values()) {
        if (child.kind === 'file') total += child.data.length;
        else stack.push(child);
      }
    }
    return total;
  }
}
