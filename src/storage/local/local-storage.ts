/**
 * @module storage/local/local-storage
 * The local-filesystem storage adapter: maps virtual paths onto a directory tree under a
 * configured root and confines every operation to one user's home inside it.
 * Owns: virtual-path validation, symlink confinement (realpath checks + O_NOFOLLOW opens),
 * errno -> StorageError mapping, resumable/append writes and ranged reads.
 * Must not: know about FTP, users or permissions; put host paths into error messages (they go
 * to clients); follow a symlink to anything outside the home.
 *
 * Symlinks are checked with realpath before use and files are then opened with O_NOFOLLOW on
 * the resolved path, so a final component swapped for a link after the check fails (ELOOP ->
 * OUTSIDE_ROOT). A directory higher up swapped between check and use is a remaining window
 * (Node has no openat2/RESOLVE_BENEATH); it needs a concurrent writer on the host.
 *
 * Known limit: hard links cannot be told apart from ordinary files cheaply, so a hard link
 * inside the home to a file elsewhere on the same filesystem is served like any other file.
 * Creating one needs access to both places on the host, so the admin has to keep untrusted
 * writers (other than through this server) away from the storage root.
 */
import { constants, createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import type { Dir, Dirent, ReadStream, Stats, WriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { StorageError, storageError } from '../errors.js';
import { checkOffset, checkWriteRequest, splitVirtualPath } from '../segments.js';
import { StreamWriteHandle } from '../stream-write-handle.js';
import type { StorageErrorCode } from '../errors.js';
import type {
  Entry,
  EntryType,
  OpenReadOptions,
  OpenWriteOptions,
  StorageBackend,
  StorageCapabilities,
  StorageProvider,
  VirtualPath,
  WriteHandle,
} from '../types.js';

/** Big chunks: fewer thread-pool round trips and syscalls per GiB transferred. */
const STREAM_HIGH_WATER_MARK = 1024 * 1024;
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW, O_NONBLOCK } = constants;

/**
 * O_NONBLOCK keeps an open() on a FIFO planted in the tree from hanging the session forever;
 * it has no effect on regular files, and anything that is not a regular file is refused after
 * the open anyway.
 */
const SAFE_OPEN = O_NOFOLLOW | O_NONBLOCK;

const fail = storageError;

const ERRNO_CODES: Readonly<Record<string, StorageErrorCode>> = {
  ENOENT: 'NOT_FOUND',
  EEXIST: 'ALREADY_EXISTS',
  ENOTDIR: 'NOT_A_DIRECTORY',
  EISDIR: 'IS_A_DIRECTORY',
  ENOTEMPTY: 'NOT_EMPTY',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  ENOSPC: 'NO_SPACE',
  EDQUOT: 'QUOTA_EXCEEDED',
  ENAMETOOLONG: 'INVALID_NAME',
  // Opening a FIFO without a reader for writing (O_NONBLOCK): not a file we serve.
  ENXIO: 'PERMISSION_DENIED',
  // O_NOFOLLOW reports a symlink in the final component as ELOOP: someone swapped a path for
  // a link after our realpath check, which is exactly the escape we refuse.
  ELOOP: 'OUTSIDE_ROOT',
};

function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Maps a native fs error onto a StorageError (already-mapped errors pass through). The native
 * error is kept as `cause` for logs; the message is a fixed text.
 */
export function toStorageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const errno = errnoOf(error);
  const code = (errno !== undefined ? ERRNO_CODES[errno] : undefined) ?? 'UNAVAILABLE';
  return fail(code, error);
}

function entryType(st: Stats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

function toEntry(name: string, st: Stats): Entry {
  return {
    name,
    type: entryType(st),
    size: st.isDirectory() ? 0 : st.size,
    modifiedAt: st.mtime,
    mode: st.mode & 0o7777,
    uniqueId: `${st.dev.toString(16)}g${st.ino.toString(16)}`,
  };
}

const CAPABILITIES: StorageCapabilities = Object.freeze({
  rename: 'atomic',
  append: true,
  resumeRead: true,
  resumeWrite: true,
  setModifiedTime: true,
});

/** Errors for which a single directory entry is skipped instead of failing the listing. */
const SKIPPABLE_ENTRY_ERRORS = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EACCES', 'EPERM']);

/**
 * A StorageBackend confined to one directory. `home` must already be a realpath (use
 * LocalStorageProvider.forHome, which resolves and creates it).
 */
export class LocalStorage implements StorageBackend {
  readonly capabilities: StorageCapabilities = CAPABILITIES;
  readonly #home: string;
  readonly #homePrefix: string;
  readonly #fsync: boolean;

  constructor(options: { home: string; fsync?: boolean }) {
    this.#home = options.home;
    this.#homePrefix = options.home.endsWith(path.sep) ? options.home : options.home + path.sep;
    this.#fsync = options.fsync ?? false;
  }

  #inside(real: string): boolean {
    return real === this.#home || real.startsWith(this.#homePrefix);
  }

  /** Host path for the segments, before any symlink resolution. */
  #join(segments: readonly string[]): string {
    return segments.length === 0 ? this.#home : path.join(this.#home, ...segments);
  }

  /** Resolves an existing path through symlinks and insists the result is inside the home. */
  async #resolveExisting(segments: readonly string[]): Promise<string> {
    let real: string;
    try {
      real = await fsp.realpath(this.#join(segments));
    } catch (error) {
      throw toStorageError(error);
    }
    if (!this.#inside(real)) throw fail('OUTSIDE_ROOT');
    return real;
  }

  /**
   * Resolves the parent directory of a (possibly new) entry and returns the host path of the
   * entry itself inside the resolved parent; the final component is left unresolved so the
   * caller decides whether to follow it.
   */
  async #resolveInParent(segments: readonly string[]): Promise<string> {
    const name = segments[segments.length - 1];
    if (name === undefined) throw fail('PERMISSION_DENIED');
    const parent = await this.#resolveExisting(segments.slice(0, -1));
    return path.join(parent, name);
  }

  /** lstat that maps errors. */
  async #lstat(hostPath: string): Promise<Stats> {
    try {
      return await fsp.lstat(hostPath);
    } catch (error) {
      throw toStorageError(error);
    }
  }

  /** If `hostPath` is a symlink, its target must resolve inside the home (dangling: NOT_FOUND). */
  async #checkLinkTarget(hostPath: string, st: Stats): Promise<void> {
    if (!st.isSymbolicLink()) return;
    let real: string;
    try {
      real = await fsp.realpath(hostPath);
    } catch (error) {
      throw toStorageError(error);
    }
    if (!this.#inside(real)) throw fail('OUTSIDE_ROOT');
  }

  async stat(p: VirtualPath): Promise<Entry> {
    const segments = splitVirtualPath(p);
    const real = await this.#resolveExisting(segments);
    try {
      return toEntry(segments[segments.length - 1] ?? '', await fsp.stat(real));
    } catch (error) {
      throw toStorageError(error);
    }
  }

  list(dir: VirtualPath, options?: { signal?: AbortSignal }): AsyncIterable<Entry> {
    return this.#list(dir, options?.signal);
  }

  async *#list(dir: VirtualPath, signal: AbortSignal | undefined): AsyncGenerator<Entry> {
    const real = await this.#resolveExisting(splitVirtualPath(dir));
    let handle: Dir;
    try {
      // opendir reads the directory in small batches, so huge directories are never held in
      // memory as a whole; the for-await below closes the handle on break/throw.
      handle = await fsp.opendir(real, { bufferSize: 64 });
    } catch (error) {
      throw toStorageError(error);
    }
    try {
      for await (const dirent of handle) {
        signal?.throwIfAborted();
        const entry = await this.#listEntry(real, dirent);
        if (entry) yield entry;
      }
    } catch (error) {
      // The caller's abort reason goes back unchanged; read errors (EIO...) get mapped.
      if (signal?.aborted && error === signal.reason) throw error;
      throw toStorageError(error);
    }
  }

  async #listEntry(dirReal: string, dirent: Dirent): Promise<Entry | undefined> {
    const hostPath = path.join(dirReal, dirent.name);
    try {
      // lstat rather than the dirent type: the entry may have been swapped for a link since.
      const lst = await fsp.lstat(hostPath);
      if (!lst.isSymbolicLink()) return toEntry(dirent.name, lst);
      const target = await fsp.realpath(hostPath);
      if (!this.#inside(target)) return undefined;
      return toEntry(dirent.name, await fsp.stat(target));
    } catch (error) {
      const errno = errnoOf(error);
      if (errno !== undefined && SKIPPABLE_ENTRY_ERRORS.has(errno)) return undefined;
      throw toStorageError(error);
    }
  }

  async openRead(p: VirtualPath, options?: OpenReadOptions): Promise<Readable> {
    const segments = splitVirtualPath(p);
    const offset = checkOffset(options?.offset);
    options?.signal?.throwIfAborted();
    const real = await this.#resolveExisting(segments);
    // Open (and check the type) before creating the stream so NOT_FOUND / IS_A_DIRECTORY are
    // thrown before the session has sent a 150 reply.
    const fh = await openFile(real, O_RDONLY | SAFE_OPEN);
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw fail('IS_A_DIRECTORY');
      if (!st.isFile()) throw fail('PERMISSION_DENIED');
    } catch (error) {
      await fh.close().catch(() => undefined);
      throw toStorageError(error);
    }
    const stream: ReadStream = createReadStream('', {
      fd: fh,
      start: offset,
      highWaterMark: STREAM_HIGH_WATER_MARK,
      autoClose: true,
    });
    if (options?.signal) addAbortSignal(options.signal, stream);
    return stream;
  }

  async openWrite(p: VirtualPath, options: OpenWriteOptions): Promise<WriteHandle> {
    const { segments, offset } = checkWriteRequest(p, options);

    let target: string;
    let exists: boolean;
    try {
      target = await this.#resolveExisting(segments);
      exists = true;
    } catch (error) {
      if (!(error instanceof StorageError) || error.code !== 'NOT_FOUND') throw error;
      // Missing (or a dangling link): the parent must exist and be inside. A dangling link in
      // the final component is refused by O_NOFOLLOW below rather than written through.
      target = await this.#resolveInParent(segments);
      exists = false;
    }
    if (exists) {
      const st = await fsp.stat(target).catch((error: unknown) => {
        throw toStorageError(error);
      });
      if (st.isDirectory()) throw fail('IS_A_DIRECTORY');
    }

    let flags: number;
    switch (options.mode) {
      case 'create':
        flags = O_WRONLY | O_CREAT | O_EXCL;
        break;
      case 'overwrite':
        flags = O_WRONLY | O_CREAT | O_TRUNC;
        break;
      case 'append':
        flags = O_WRONLY | O_CREAT | O_APPEND;
        break;
      case 'resume':
        // Only a fresh upload (offset 0) may create the file; resuming something that does not
        // exist is NOT_FOUND.
        flags = offset === 0 ? O_WRONLY | O_CREAT : O_WRONLY;
        break;
      default:
        throw fail('UNSUPPORTED');
    }

    const fh = await openFile(target, flags | SAFE_OPEN, 0o666);
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw fail('IS_A_DIRECTORY');
      if (!st.isFile()) throw fail('PERMISSION_DENIED');
      if (options.mode === 'resume') {
        if (offset > st.size) throw fail('INVALID_OFFSET');
        if (offset < st.size) await fh.truncate(offset);
      }
    } catch (error) {
      await fh.close().catch(() => undefined);
      throw toStorageError(error);
    }

    const stream = createWriteStream('', {
      fd: fh,
      // With O_APPEND the kernel picks the position; otherwise write from the resume offset.
      ...(options.mode === 'append' ? {} : { start: offset }),
      highWaterMark: STREAM_HIGH_WATER_MARK,
      // We close the handle ourselves so commit() can fsync first and report close errors.
      autoClose: false,
    });
    if (options.signal) addAbortSignal(options.signal, stream);
    return new LocalWriteHandle(stream, fh, this.#fsync);
  }

  async remove(p: VirtualPath): Promise<void> {
    const segments = splitVirtualPath(p);
    if (segments.length === 0) throw fail('PERMISSION_DENIED');
    const hostPath = await this.#resolveInParent(segments);
    const st = await this.#lstat(hostPath);
    if (st.isDirectory()) throw fail('IS_A_DIRECTORY');
    // A link is removed itself (never its target), but one pointing outside is refused like
    // every other operation on it, so the home looks the same to all commands.
    await this.#checkLinkTarget(hostPath, st);
    try {
      await fsp.unlink(hostPath);
    } catch (error) {
      throw toStorageError(error);
    }
  }

  async makeDirectory(p: VirtualPath): Promise<void> {
    const segments = splitVirtualPath(p);
    if (segments.length === 0) throw fail('ALREADY_EXISTS');
    const hostPath = await this.#resolveInParent(segments);
    try {
      // mkdir never follows a final symlink (EEXIST), so only the parent needed resolving.
      await fsp.mkdir(hostPath, { mode: 0o777 });
    } catch (error) {
      throw toStorageError(error);
    }
  }

  async removeDirectory(p: VirtualPath): Promise<void> {
    const segments = splitVirtualPath(p);
    if (segments.length === 0) throw fail('PERMISSION_DENIED');
    const hostPath = await this.#resolveInParent(segments);
    const st = await this.#lstat(hostPath);
    await this.#checkLinkTarget(hostPath, st);
    if (!st.isDirectory()) throw fail('NOT_A_DIRECTORY');
    try {
      await fsp.rmdir(hostPath);
    } catch (error) {
      // Some systems report a non-empty directory as EEXIST.
      const errno = errnoOf(error);
      if (errno === 'EEXIST' || errno === 'ENOTEMPTY') throw fail('NOT_EMPTY', error);
      throw toStorageError(error);
    }
  }

  async rename(from: VirtualPath, to: VirtualPath): Promise<void> {
    const fromSegments = splitVirtualPath(from);
    const toSegments = splitVirtualPath(to);
    if (fromSegments.length === 0 || toSegments.length === 0) throw fail('PERMISSION_DENIED');
    const source = await this.#resolveInParent(fromSegments);
    const sourceStat = await this.#lstat(source);
    await this.#checkLinkTarget(source, sourceStat);
    const target = await this.#resolveInParent(toSegments);
    if (source === target) return;
    let targetStat: Stats | undefined;
    try {
      targetStat = await fsp.lstat(target);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw toStorageError(error);
    }
    // rename(2) would silently replace an empty directory; RNTO onto a directory is refused.
    if (targetStat?.isDirectory()) throw fail('ALREADY_EXISTS');
    try {
      await fsp.rename(source, target);
    } catch (error) {
      // EINVAL: moving a directory into its own subtree.
      if (errnoOf(error) === 'EINVAL') throw fail('INVALID_NAME', error);
      throw toStorageError(error);
    }
  }

  async setModifiedTime(p: VirtualPath, time: Date): Promise<void> {
    const segments = splitVirtualPath(p);
    if (!(time instanceof Date) || Number.isNaN(time.getTime())) throw fail('INVALID_NAME');
    const real = await this.#resolveExisting(segments);
    try {
      const st = await fsp.stat(real);
      await fsp.utimes(real, st.atime, time);
    } catch (error) {
      throw toStorageError(error);
    }
  }

  async ping(): Promise<void> {
    await checkDirectory(this.#home);
  }
}

async function openFile(hostPath: string, flags: number, mode?: number): Promise<FileHandle> {
  try {
    return await fsp.open(hostPath, flags, mode);
  } catch (error) {
    throw toStorageError(error);
  }
}

async function checkDirectory(hostPath: string): Promise<void> {
  try {
    const st = await fsp.stat(hostPath);
    if (!st.isDirectory()) throw fail('NOT_A_DIRECTORY');
    await fsp.access(hostPath, constants.R_OK | constants.X_OK);
  } catch (error) {
    throw toStorageError(error);
  }
}

/**
 * Drives one upload. The stream is created with autoClose: false so it does not close the file
 * when it finishes: persist() fsyncs if asked, and only then destroys the stream, which closes
 * the handle (the stream holds a reference on the FileHandle, so a direct fh.close() would wait
 * for it forever). Errors from writes or close are recorded by the shared life cycle.
 */
class LocalWriteHandle extends StreamWriteHandle {
  readonly stream: Writable;
  readonly #ws: WriteStream;
  readonly #fh: FileHandle;
  readonly #fsync: boolean;
  #closing: Promise<void> | undefined;

  constructor(ws: WriteStream, fh: FileHandle, fsync: boolean) {
    super();
    this.stream = ws;
    this.#ws = ws;
    this.#fh = fh;
    this.#fsync = fsync;
    this.watch(ws);
  }

  protected async persist(): Promise<void> {
    if (this.#fsync) await this.#fh.sync();
    await this.#close();
  }

  protected release(): Promise<void> {
    return this.#close();
  }

  protected toError(error: unknown): StorageError {
    return toStorageError(error);
  }

  /**
   * Destroys the stream and waits for 'close', which fs streams emit only after in-flight
   * writes are done and the handle is closed. Never rejects; close errors are recorded.
   */
  #close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (this.#ws.closed) {
        resolve();
        return;
      }
      this.#ws.once('close', () => resolve());
      this.#ws.destroy();
    });
    return this.#closing;
  }
}

/**
 * Creates one LocalStorage per home under a fixed root directory.
 */
export class LocalStorageProvider implements StorageProvider {
  readonly #root: string;
  readonly #fsync: boolean;

  constructor(options: { root: string; fsync?: boolean }) {
    this.#root = path.resolve(options.root);
    this.#fsync = options.fsync ?? false;
  }

  async forHome(home: VirtualPath): Promise<LocalStorage> {
    const segments = splitVirtualPath(home);
    let rootReal: string;
    try {
      rootReal = await fsp.realpath(this.#root);
    } catch (error) {
      throw toStorageError(error);
    }
    const rootPrefix = rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep;
    // Create the home one level at a time, resolving each level before descending, so a
    // symlink planted in the root can never make us create directories outside it.
    let current = rootReal;
    for (const segment of segments) {
      const next = path.join(current, segment);
      try {
        await fsp.mkdir(next, { mode: 0o777 });
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw toStorageError(error);
      }
      try {
        current = await fsp.realpath(next);
      } catch (error) {
        throw toStorageError(error);
      }
      if (current !== rootReal && !current.startsWith(rootPrefix)) throw fail('OUTSIDE_ROOT');
    }
    await checkDirectory(current);
    return new LocalStorage({ home: current, fsync: this.#fsync });
  }

  async ping(): Promise<void> {
    await checkDirectory(this.#root);
  }
}
