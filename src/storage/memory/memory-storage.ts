/**
 * @module storage/memory/memory-storage
 * An in-memory reference implementation of the storage port, for fast session tests and as
 * the executable statement of the contract (it passes the same contract suite as the local
 * adapter). Owns: the port's operations over a tree of nodes holding Buffers (memory-volume,
 * with an optional capacity to simulate a full disk: NO_SPACE) and uploads (memory-write-handle).
 * Must not: touch the filesystem, or diverge from the local adapter's error semantics
 * (test/contract/storage.contract.ts is the referee).
 */
import { Readable, addAbortSignal } from 'node:stream';
import { storageError } from '../errors.js';
import { checkMode, checkOffset, checkWriteRequest, splitVirtualPath } from '../segments.js';
import type {
  Entry,
  OpenReadOptions,
  OpenWriteOptions,
  ReadSource,
  StorageBackend,
  StorageCapabilities,
  StorageProvider,
  VirtualPath,
  WriteHandle,
} from '../types.js';
import { STREAM_HIGH_WATER_MARK, Volume, type DirNode, type FileNode, type Node } from './memory-volume.js';
import { MemoryWriteHandle, resized } from './memory-write-handle.js';

const CHUNK_SIZE = 64 * 1024;
const fail = storageError;

const CAPABILITIES: StorageCapabilities = Object.freeze({
  rename: 'atomic',
  append: true,
  resumeRead: true,
  resumeWrite: true,
  setModifiedTime: true,
});

function toEntry(name: string, node: Node): Entry {
  return {
    name,
    type: node.kind,
    size: node.kind === 'file' ? node.data.length : 0,
    modifiedAt: new Date(node.mtime.getTime()),
    mode: node.mode,
    uniqueId: `mem-${node.id.toString(16)}`,
  };
}

// Lets MemoryStorage reach a provider's volume without making it public API.
let volumeOf: (provider: MemoryStorageProvider) => Volume;

export interface MemoryStorageOptions {
  /** Share the tree of this provider (default: a fresh private tree). */
  readonly provider?: MemoryStorageProvider;
  /** Virtual home inside the tree, created if missing. Default "/". */
  readonly home?: VirtualPath;
  /** Total bytes the fresh tree may hold before writes fail with NO_SPACE (ignored with `provider`). */
  readonly capacityBytes?: number;
}

export class MemoryStorage implements StorageBackend {
  readonly capabilities: StorageCapabilities = CAPABILITIES;
  readonly #volume: Volume;
  readonly #home: DirNode;

  constructor(options: MemoryStorageOptions = {}) {
    this.#volume = options.provider
      ? volumeOf(options.provider)
      : new Volume(options.capacityBytes ?? Number.POSITIVE_INFINITY);
    let dir = this.#volume.root;
    for (const segment of splitVirtualPath(options.home ?? '/')) {
      let child = dir.children.get(segment);
      if (!child) {
        child = this.#volume.newDirectory();
        dir.children.set(segment, child);
      }
      if (child.kind !== 'directory') throw fail('NOT_A_DIRECTORY');
      dir = child;
    }
    this.#home = dir;
  }

  #lookup(segments: readonly string[]): Node {
    let node: Node = this.#home;
    for (const segment of segments) {
      if (node.kind !== 'directory') throw fail('NOT_A_DIRECTORY');
      const child: Node | undefined = node.children.get(segment);
      if (!child) throw fail('NOT_FOUND');
      node = child;
    }
    return node;
  }

  #lookupParent(segments: readonly string[]): { parent: DirNode; name: string } {
    const name = segments[segments.length - 1];
    if (name === undefined) throw fail('PERMISSION_DENIED');
    const parent = this.#lookup(segments.slice(0, -1));
    if (parent.kind !== 'directory') throw fail('NOT_A_DIRECTORY');
    return { parent, name };
  }

  async stat(p: VirtualPath): Promise<Entry> {
    const segments = splitVirtualPath(p);
    return toEntry(segments[segments.length - 1] ?? '', this.#lookup(segments));
  }

  list(dir: VirtualPath, options?: { signal?: AbortSignal }): AsyncIterable<Entry> {
    return this.#list(dir, options?.signal);
  }

  async *#list(dir: VirtualPath, signal: AbortSignal | undefined): AsyncGenerator<Entry> {
    const node = this.#lookup(splitVirtualPath(dir));
    if (node.kind !== 'directory') throw fail('NOT_A_DIRECTORY');
    // Snapshot so concurrent changes cannot break iteration (like readdir, which may or may
    // not see them).
    for (const [name, child] of Array.from(node.children)) {
      signal?.throwIfAborted();
      yield toEntry(name, child);
    }
  }

  async openRead(p: VirtualPath, options?: OpenReadOptions): Promise<ReadSource> {
    const segments = splitVirtualPath(p);
    const offset = checkOffset(options?.offset);
    options?.signal?.throwIfAborted();
    const node = this.#lookup(segments);
    if (node.kind === 'directory') throw fail('IS_A_DIRECTORY');
    // Like an open fd on a replaced file, the reader keeps the bytes it opened.
    const data = node.data;
    function* chunks(): Generator<Buffer> {
      for (let pos = offset; pos < data.length; pos += CHUNK_SIZE) {
        yield data.subarray(pos, Math.min(pos + CHUNK_SIZE, data.length));
      }
    }
    const stream = Object.assign(Readable.from(chunks(), { objectMode: false, highWaterMark: STREAM_HIGH_WATER_MARK }), { size: data.length });
    if (options?.signal) addAbortSignal(options.signal, stream);
    return stream;
  }

  async openWrite(p: VirtualPath, options: OpenWriteOptions): Promise<WriteHandle> {
    const { segments, offset } = checkWriteRequest(p, options);
    const { parent, name } = this.#lookupParent(segments);
    const existing = parent.children.get(name);
    if (existing?.kind === 'directory') throw fail('IS_A_DIRECTORY');

    let node: FileNode;
    switch (options.mode) {
      case 'create':
        if (existing) throw fail('ALREADY_EXISTS');
        node = this.#addFile(parent, name);
        break;
      case 'overwrite':
        node = existing ?? this.#addFile(parent, name);
        node.data = Buffer.alloc(0);
        node.mtime = new Date();
        break;
      case 'append':
      case 'update':
        node = existing ?? this.#addFile(parent, name);
        break;
      case 'resume':
        if (!existing) {
          if (offset > 0) throw fail('NOT_FOUND');
          node = this.#addFile(parent, name);
        } else {
          if (offset > existing.data.length) throw fail('INVALID_OFFSET');
          node = existing;
          node.data = node.data.subarray(0, offset);
          node.mtime = new Date();
        }
        break;
      default:
        throw fail('UNSUPPORTED');
    }
    const handle = new MemoryWriteHandle(this.#volume, node, options.mode === 'append' ? 'end' : offset);
    if (options.signal) addAbortSignal(options.signal, handle.stream);
    return handle;
  }

  #addFile(parent: DirNode, name: string): FileNode {
    const node = this.#volume.newFile();
    parent.children.set(name, node);
    parent.mtime = new Date();
    return node;
  }

  async remove(p: VirtualPath): Promise<void> {
    const segments = splitVirtualPath(p);
    if (segments.length === 0) throw fail('PERMISSION_DENIED');
    const { parent, name } = this.#lookupParent(segments);
    const node = parent.children.get(name);
    if (!node) throw fail('NOT_FOUND');
    if (node.kind === 'directory') throw fail('IS_A_DIRECTORY');
    parent.children.delete(name);
    parent.mtime = new Date();
  }

  async makeDirectory(p: VirtualPath): Promise<void> {
    const segments = splitVirtualPath(p);
    if (segments.length === 0) throw fail('ALREADY_EXISTS');
    const { parent, name } = this.#lookupParent(segments);
    if (parent.children.has(name)) throw fail('ALREADY_EXISTS');
    parent.children.set(name, this.#volume.newDirectory());
    parent.mtime = new Date();
  }

  async removeDirectory(p: VirtualPath): Promise<void> {
    const segments = splitVirtualPath(p);
    if (segments.length === 0) throw fail('PERMISSION_DENIED');
    const { parent, name } = this.#lookupParent(segments);
    const node = parent.children.get(name);
    if (!node) throw fail('NOT_FOUND');
    if (node.kind !== 'directory') throw fail('NOT_A_DIRECTORY');
    if (node.children.size > 0) throw fail('NOT_EMPTY');
    parent.children.delete(name);
    parent.mtime = new Date();
  }

  async rename(from: VirtualPath, to: VirtualPath): Promise<void> {
    const fromSegments = splitVirtualPath(from);
    const toSegments = splitVirtualPath(to);
    if (fromSegments.length === 0 || toSegments.length === 0) throw fail('PERMISSION_DENIED');
    const source = this.#lookupParent(fromSegments);
    const node = source.parent.children.get(source.name);
    if (!node) throw fail('NOT_FOUND');
    const target = this.#lookupParent(toSegments);
    if (source.parent === target.parent && source.name === target.name) return;
    const existing = target.parent.children.get(target.name);
    if (existing?.kind === 'directory') throw fail('ALREADY_EXISTS');
    if (node.kind === 'directory') {
      // rename(2) semantics: a directory cannot replace a file (ENOTDIR) nor move into its
      // own subtree (EINVAL).
      if (existing) throw fail('NOT_A_DIRECTORY');
      if (this.#contains(node, target.parent)) throw fail('INVALID_NAME');
    }
    source.parent.children.delete(source.name);
    target.parent.children.set(target.name, node);
    const now = new Date();
    source.parent.mtime = now;
    target.parent.mtime = now;
  }

  /** Whether `needle` is `dir` or below it. */
  #contains(dir: DirNode, needle: DirNode): boolean {
    if (dir === needle) return true;
    for (const child of dir.children.values()) {
      if (child.kind === 'directory' && this.#contains(child, needle)) return true;
    }
    return false;
  }

  async truncate(p: VirtualPath, size: number): Promise<void> {
    const length = checkOffset(size);
    const node = this.#lookup(splitVirtualPath(p));
    if (node.kind === 'directory') throw fail('IS_A_DIRECTORY');
    node.data = resized(node.data, length);
    node.mtime = new Date();
  }

  async setMode(p: VirtualPath, mode: number): Promise<void> {
    this.#lookup(splitVirtualPath(p)).mode = checkMode(mode);
  }

  async setModifiedTime(p: VirtualPath, time: Date): Promise<void> {
    const segments = splitVirtualPath(p);
    if (!(time instanceof Date) || Number.isNaN(time.getTime())) throw fail('INVALID_NAME');
    this.#lookup(segments).mtime = new Date(time.getTime());
  }

  async ping(): Promise<void> {}
}

export class MemoryStorageProvider implements StorageProvider {
  readonly capabilities: StorageCapabilities = CAPABILITIES;
  readonly #volume: Volume;

  static {
    volumeOf = (provider) => provider.#volume;
  }

  constructor(options: { capacityBytes?: number } = {}) {
    this.#volume = new Volume(options.capacityBytes ?? Number.POSITIVE_INFINITY);
  }

  async forHome(home: VirtualPath): Promise<MemoryStorage> {
    return new MemoryStorage({ provider: this, home });
  }

  async ping(): Promise<void> {}
}
