/**
 * @module storage/local/local-storage
 * The local-filesystem storage adapter: maps virtual paths onto a directory tree under a
 * configured root and confines every operation to one user's home inside it.
 * Owns: virtual-path validation, symlink confinement (realpath checks + O_NOFOLLOW opens),
 * errno -> StorageError mapping, resumable/append and atomic writes, and ranged reads.
 * Must not: know about FTP, users or permissions; put host paths into error messages (they go
 * to clients); follow a symlink to anything outside the home.
 *
 * Symlinks are checked with realpath before use and files are then opened with O_NOFOLLOW on
 * the resolved path (uploads: the resolved parent plus the final name, falling back to a full
 * resolution when that name is a link), so a final component swapped for a link after the
 * check fails (ELOOP -> OUTSIDE_ROOT). A directory higher up swapped between check and use
 * (Node has no openat2/RESOLVE_BENEATH) is caught through /proc/self/fd: files are created
 * relative to a proven parent directory fd, and every other open is proven inside before use
 * (see #openConfined). Directory operations (mkdir, rename, delete) still rely on the realpath
 * check alone; racing them needs a concurrent writer on the host.
 *
 * Known limit: hard links cannot be told apart from ordinary files cheaply, so a hard link
 * inside the home to a file elsewhere on the same filesystem is served like any other file.
 * Creating one needs access to both places on the host, so the admin has to keep untrusted
 * writers (other than through this server) away from the storage root.
 */
import { randomBytes } from 'node:crypto';
import fs, { constants, createWriteStream, promises as fsp } from 'node:fs';
import type { Dir, Dirent, Stats, WriteStream } from 'node:fs';
import path from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { StorageError, storageError } from '../errors.js';
import { checkOffset, checkWriteRequest, splitVirtualPath } from '../segments.js';
import { StreamWriteHandle } from '../stream-write-handle.js';
import type { StorageErrorCode } from '../errors.js';
import type {
  Entry,
  EntryType,
  OpenReadOptions,
  OpenWriteOptions,
  ReadSource,
  StorageBackend,
  StorageCapabilities,
  StorageProvider,
  VirtualPath,
  WriteHandle,
} from '../types.js';

/**
 * resumable: an upload writes the file in place and an interrupted one stays as a partial file
 * for REST/APPE to continue. atomic: see LocalStorage.#openAtomicWrite.
 */
export type UploadMode = 'resumable' | 'atomic';

/** Name prefix of atomic uploads in progress (hidden from listings). */
export const ATOMIC_TEMP_PREFIX = '.kftpd-upload-';

interface AtomicTarget {
  readonly temp: string;
  readonly target: string;
  /** Fail instead of replacing an existing target (mode create). */
  readonly exclusive: boolean;
}

/** Big chunks: fewer thread-pool round trips and syscalls per GiB transferred. */
const STREAM_HIGH_WATER_MARK = 1024 * 1024;
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;

/** Linux's /proc/self/fd magic links: openat() and "which file is this fd" for Node. */
const PROC_FD_AVAILABLE = fs.existsSync('/proc/self/fd');

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
    const code = error.code;
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
  readonly #uploadMode: UploadMode;

  constructor(options: { home: string; fsync?: boolean; uploadMode?: UploadMode }) {
    this.#home = options.home;
    this.#homePrefix = options.home.endsWith(path.sep) ? options.home : options.home + path.sep;
    this.#fsync = options.fsync ?? false;
    this.#uploadMode = options.uploadMode ?? 'resumable';
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
      real = await realpath(this.#join(segments));
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

  /**
   * Opens `hostPath` (flags without SAFE_OPEN; it is added) so that the file opened is proven
   * to be inside the home by the kernel's own name for it (/proc/self/fd/N on Linux). The
   * realpath check before the open cannot see a directory higher up swapped for a link in
   * between (Node has no openat2/RESOLVE_BENEATH). So:
   * - a write that may create the file first opens the parent directory, proves it inside, and
   *   creates the file through /proc/self/fd/<dir>/<name>, i.e. relative to that very
   *   directory (openat semantics): nothing is ever created outside;
   * - any other open is proven after the fact, before a byte is read or written (O_TRUNC is
   *   applied only after the proof).
   * Without /proc the realpath check before the open is the only one.
   */
  async #openConfined(hostPath: string, flags: number): Promise<number> {
    const truncate = (flags & O_TRUNC) !== 0;
    const openFlags = (flags & ~O_TRUNC) | SAFE_OPEN;
    let fd: number;
    if ((flags & O_CREAT) !== 0 && PROC_FD_AVAILABLE) {
      const dirFd = await openFile(path.dirname(hostPath), O_RDONLY | O_DIRECTORY | SAFE_OPEN);
      try {
        const dir = await openedPath(dirFd);
        if (dir === null || !this.#inside(dir)) throw fail('OUTSIDE_ROOT');
        fd = await openFile(`/proc/self/fd/${dirFd}/${path.basename(hostPath)}`, openFlags, 0o666);
      } finally {
        closeQuietly(dirFd);
      }
    } else {
      fd = await openFile(hostPath, openFlags, 0o666);
      const actual = await openedPath(fd);
      if (actual !== null && !this.#inside(actual)) {
        closeQuietly(fd);
        throw fail('OUTSIDE_ROOT');
      }
    }
    if (truncate) {
      try {
        await ftruncate(fd, 0);
      } catch (error) {
        closeQuietly(fd);
        throw toStorageError(error);
      }
    }
    return fd;
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
      // lstat: `real` has no links left, so this is the same answer, except when the final
      // component was swapped for a link after the check; then it must not describe the target.
      return toEntry(segments[segments.length - 1] ?? '', await lstat(real));
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
    // Uploads in progress in atomic mode are not files yet.
    if (dirent.name.startsWith(ATOMIC_TEMP_PREFIX)) return undefined;
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

  async openRead(p: VirtualPath, options?: OpenReadOptions): Promise<ReadSource> {
    const segments = splitVirtualPath(p);
    const offset = checkOffset(options?.offset);
    options?.signal?.throwIfAborted();
    const real = await this.#resolveExisting(segments);
    // Open (and check the type) before creating the stream so NOT_FOUND / IS_A_DIRECTORY are
    // thrown before the session has sent a 150 reply.
    const fd = await this.#openConfined(real, O_RDONLY);
    let size: number;
    try {
      const st = await fstat(fd);
      if (st.isDirectory()) throw fail('IS_A_DIRECTORY');
      if (!st.isFile()) throw fail('PERMISSION_DENIED');
      size = st.size;
    } catch (error) {
      closeQuietly(fd);
      throw toStorageError(error);
    }
    // The file is sent up to the size it had when opened (like pure-ftpd's mmap of the size
    // at open), so no extra read is needed to find the end.
    const stream = new FileReadStream(fd, offset, size);
    if (options?.signal) addAbortSignal(options.signal, stream);
    // Start the first read now: it overlaps with the 150 reply and the data connection.
    stream.read(0);
    return stream;
  }

  async openWrite(p: VirtualPath, options: OpenWriteOptions): Promise<WriteHandle> {
    const { segments, offset } = checkWriteRequest(p, options);
    if (this.#uploadMode === 'atomic') return this.#openAtomicWrite(segments, options, offset);
    const flags = openFlags(options.mode, offset);
    // The common case in one resolution: the parent's realpath, then the entry itself opened
    // with O_NOFOLLOW inside it (a plain file, new or existing, is then known to be inside).
    // Anything else (a symlink as the final component, a directory, a missing parent, the
    // home itself) takes the full path below, which classifies it exactly.
    let fd: number | null = null;
    if (segments.length > 0) {
      const name = segments[segments.length - 1] as string;
      const parent = await this.#resolveExisting(segments.slice(0, -1)).catch(() => null);
      if (parent !== null) fd = await this.#openConfined(path.join(parent, name), flags).catch(() => null);
    }
    fd ??= await this.#openWriteSlow(segments, flags);
    try {
      const st = await fstat(fd);
      if (st.isDirectory()) throw fail('IS_A_DIRECTORY');
      if (!st.isFile()) throw fail('PERMISSION_DENIED');
      if (options.mode === 'resume') {
        if (offset > st.size) throw fail('INVALID_OFFSET');
        if (offset < st.size) await ftruncate(fd, offset);
      }
    } catch (error) {
      closeQuietly(fd);
      throw toStorageError(error);
    }

    const stream = createWriteStream('', {
      fd,
      // With O_APPEND the kernel picks the position; otherwise write from the resume offset.
      ...(options.mode === 'append' ? {} : { start: offset }),
      highWaterMark: STREAM_HIGH_WATER_MARK,
      // We close the fd ourselves so commit() can fsync first and report close errors.
      autoClose: false,
    });
    if (options.signal) addAbortSignal(options.signal, stream);
    return new LocalWriteHandle(stream, fd, this.#fsync);
  }

  /**
   * Atomic upload: the bytes go to a hidden temporary file in the target's directory (same
   * filesystem, so the final rename is atomic) and appear under the real name only on commit;
   * an aborted or failed upload removes the temporary file, so no partial file ever shows.
   * Resume and append start from a copy of the current file (a reflink where the filesystem
   * can clone), so readers keep seeing the old complete file until the new one replaces it.
   */
  async #openAtomicWrite(segments: readonly string[], options: OpenWriteOptions, offset: number): Promise<WriteHandle> {
    const target = await this.#resolveInParent(segments);
    let existing: Stats | null = null;
    try {
      existing = await lstat(target);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw toStorageError(error);
    }
    if (existing?.isDirectory()) throw fail('IS_A_DIRECTORY');
    if (existing && !existing.isFile() && !existing.isSymbolicLink()) throw fail('PERMISSION_DENIED');
    // A link as the final name is replaced by the new file, never written through; its
    // target must still be inside (the link is an entry of the home the client could read).
    if (existing) await this.#checkLinkTarget(target, existing);
    if (options.mode === 'create' && existing) throw fail('ALREADY_EXISTS');
    const continues = options.mode === 'append' || (options.mode === 'resume' && offset > 0);
    if (continues && existing === null && options.mode === 'resume') throw fail('NOT_FOUND');
    if (options.mode === 'resume' && existing && offset > existing.size) throw fail('INVALID_OFFSET');

    const temp = path.join(path.dirname(target), `${ATOMIC_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    if (continues && existing) {
      try {
        await fsp.copyFile(target, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      } catch (error) {
        await fsp.rm(temp, { force: true }).catch(() => undefined);
        throw toStorageError(error);
      }
    }
    let fd: number;
    try {
      fd = await this.#openConfined(temp, continues && existing ? O_WRONLY | (options.mode === 'append' ? O_APPEND : 0) : O_WRONLY | O_CREAT | O_EXCL);
      if (options.mode === 'resume' && existing && offset < existing.size) await ftruncate(fd, offset);
    } catch (error) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw toStorageError(error);
    }
    const stream = createWriteStream('', {
      fd,
      ...(options.mode === 'append' ? {} : { start: continues ? offset : 0 }),
      highWaterMark: STREAM_HIGH_WATER_MARK,
      autoClose: false,
    });
    if (options.signal) addAbortSignal(options.signal, stream);
    return new LocalWriteHandle(stream, fd, this.#fsync, { temp, target, exclusive: options.mode === 'create' });
  }

  /** Resolves the target through symlinks (confined), or its parent when it does not exist. */
  async #openWriteSlow(segments: readonly string[], flags: number): Promise<number> {
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
    return this.#openConfined(target, flags);
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
    // Through an fd opened with O_NOFOLLOW, not utimes(path): utimes follows a final component
    // swapped for a link after the check and would set the time of a file outside the home.
    const fd = await openFile(real, O_RDONLY | SAFE_OPEN);
    try {
      const st = await fstat(fd);
      await new Promise<void>((resolve, reject) => fs.futimes(fd, st.atime, time, (error) => (error ? reject(error) : resolve())));
    } catch (error) {
      throw toStorageError(error);
    } finally {
      closeQuietly(fd);
    }
  }

  async ping(): Promise<void> {
    await checkDirectory(this.#home);
  }
}

function openFlags(mode: OpenWriteOptions['mode'], offset: number): number {
  switch (mode) {
    case 'create':
      return O_WRONLY | O_CREAT | O_EXCL;
    case 'overwrite':
      return O_WRONLY | O_CREAT | O_TRUNC;
    case 'append':
      return O_WRONLY | O_CREAT | O_APPEND;
    case 'resume':
      // Only a fresh upload (offset 0) may create the file; resuming something that does not
      // exist is NOT_FOUND.
      return offset === 0 ? O_WRONLY | O_CREAT : O_WRONLY;
    default:
      throw fail('UNSUPPORTED');
  }
}

// The callback fs API with plain fds: per call about half the CPU of fs.promises and
// FileHandle (measured here: 9 µs against 19 µs for a stat), which adds up over the half
// dozen calls of every small transfer.

function realpath(hostPath: string): Promise<string> {
  return new Promise((resolve, reject) => fs.realpath.native(hostPath, (error, real) => (error ? reject(error) : resolve(real))));
}

function openFile(hostPath: string, flags: number, mode?: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.open(hostPath, flags, mode, (error, fd) => (error ? reject(toStorageError(error)) : resolve(fd))),
  );
}

/**
 * The path the kernel has for an open fd, or null where /proc is not available (then the
 * realpath check before the open is the only one).
 */
function openedPath(fd: number): Promise<string | null> {
  return new Promise((resolve) => fs.readlink(`/proc/self/fd/${fd}`, (error, target) => resolve(error ? null : target)));
}

function lstat(hostPath: string): Promise<Stats> {
  return new Promise((resolve, reject) => fs.lstat(hostPath, (error, st) => (error ? reject(error) : resolve(st))));
}

function fstat(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (error, st) => (error ? reject(error) : resolve(st))));
}

function ftruncate(fd: number, length: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, length, (error) => (error ? reject(error) : resolve())));
}

function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
}

function closeQuietly(fd: number): void {
  fs.close(fd, () => undefined);
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

/** A read of a whole chunk; smaller reads (the end of a file, small files) are sized exactly. */
const READ_CHUNK = STREAM_HIGH_WATER_MARK;
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
class FileReadStream extends Readable implements ReadSource {
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

/**
 * Drives one upload. The stream is created with autoClose: false so it does not close the file
 * when it finishes: persist() fsyncs if asked, and only then destroys the stream, which closes
 * the fd once in-flight writes are done (fs streams close on destroy whatever autoClose says).
 * Errors from writes or close are recorded by the shared life cycle.
 */
class LocalWriteHandle extends StreamWriteHandle {
  readonly stream: Writable;
  readonly #ws: WriteStream;
  readonly #fd: number;
  readonly #fsync: boolean;
  readonly #atomic: AtomicTarget | undefined;
  #closing: Promise<void> | undefined;

  constructor(ws: WriteStream, fd: number, fsync: boolean, atomic?: AtomicTarget) {
    super();
    this.stream = ws;
    this.#ws = ws;
    this.#fd = fd;
    this.#fsync = fsync;
    this.#atomic = atomic;
    this.watch(ws);
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
    await this.#close();
    if (this.#atomic) await fsp.rm(this.#atomic.temp, { force: true }).catch(() => undefined);
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
  readonly capabilities: StorageCapabilities = CAPABILITIES;
  readonly #root: string;
  readonly #fsync: boolean;
  readonly #uploadMode: UploadMode;

  constructor(options: { root: string; fsync?: boolean; uploadMode?: UploadMode }) {
    this.#root = path.resolve(options.root);
    this.#fsync = options.fsync ?? false;
    this.#uploadMode = options.uploadMode ?? 'resumable';
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
    return new LocalStorage({ home: current, fsync: this.#fsync, uploadMode: this.#uploadMode });
  }

  async ping(): Promise<void> {
    await checkDirectory(this.#root);
  }
}
