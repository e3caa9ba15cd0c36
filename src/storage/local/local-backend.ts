/**
 * @module storage/local/local-backend
 * The local-filesystem StorageBackend: one user's home under the storage root. Maps virtual
 * paths onto the host tree through a Confinement (confinement.ts: symlink checks, proven
 * opens, the per-session cache of directory handles), streams files (file-read-stream.ts,
 * file-write-sink.ts) and maps errno onto StorageErrors (errno.ts).
 * Must not: know about FTP, users or permissions; put host paths into error messages (they go
 * to clients); follow a symlink to anything outside the home.
 *
 * Known limit: hard links cannot be told apart from ordinary files cheaply, so a hard link
 * inside the home to a file elsewhere on the same filesystem is served like any other file.
 * Creating one needs access to both places on the host, so the admin has to keep untrusted
 * writers (other than through this server) away from the storage root.
 */
import { constants, promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { addAbortSignal } from 'node:stream';
import { StorageError, storageError } from '../errors.js';
import { checkMode, checkOffset, checkWriteRequest, splitVirtualPath } from '../segments.js';
import type {
  Entry,
  OpenReadOptions,
  OpenWriteOptions,
  ReadSource,
  SpaceInfo,
  StorageBackend,
  StorageCapabilities,
  VirtualPath,
  WriteHandle,
} from '../types.js';
import { openAtomicWrite } from './atomic-upload.js';
import { Confinement } from './confinement.js';
import { listDirectory, SmallDirectoryNote, toEntry } from './entries.js';
import { errnoOf, toStorageError } from './errno.js';
import { FileReadStream } from './file-read-stream.js';
import { FileWriteSink } from './file-write-sink.js';
import { checkDirectory, closeQuietly, fchmod, fstat, ftruncate, futimes, lstat, openFile, SAFE_OPEN, stat } from './fs-calls.js';
import { LocalWriteHandle } from './local-write-handle.js';

/**
 * resumable: an upload writes the file in place and an interrupted one stays as a partial file
 * for REST/APPE to continue. atomic: see atomic-upload.ts.
 */
export type UploadMode = 'resumable' | 'atomic';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_APPEND } = constants;
const fail = storageError;

export const LOCAL_CAPABILITIES: StorageCapabilities = Object.freeze({
  rename: 'atomic',
  append: true,
  resumeRead: true,
  resumeWrite: true,
  setModifiedTime: true,
});

/**
 * A StorageBackend confined to one directory. `home` must already be a realpath (use
 * LocalStorageProvider.forHome, which resolves and creates it).
 */
export class LocalStorage implements StorageBackend {
  readonly capabilities: StorageCapabilities = LOCAL_CAPABILITIES;
  readonly #c: Confinement;
  readonly #fsync: boolean;
  readonly #uploadMode: UploadMode;
  /** The path the last stat found missing: an upload to it usually follows. */
  #lastMissing: string | null = null;
  /** The small directory the last stat found: a listing of it usually follows. */
  readonly #smallDirectory = new SmallDirectoryNote();

  /** `heldHome`: an fd of the home, proven there by the provider, for the session to keep. */
  constructor(options: { home: string; fsync?: boolean; uploadMode?: UploadMode; heldHome?: number }) {
    this.#c = new Confinement(options.home);
    if (options.heldHome !== undefined) this.#c.holdHome(options.heldHome);
    this.#fsync = options.fsync ?? false;
    this.#uploadMode = options.uploadMode ?? 'resumable';
  }

  /** Directory handles this session holds now (tests: the cache empties when idle). */
  get heldDirectories(): number {
    return this.#c.heldDirectories;
  }

  async stat(p: VirtualPath): Promise<Entry> {
    const segments = splitVirtualPath(p);
    const name = segments[segments.length - 1] ?? '';
    this.#smallDirectory.clear();
    const held = await this.#c.statInHeld(segments).catch((error: unknown) => this.#missing(p, error));
    if (held) {
      this.#smallDirectory.note(p, held);
      return toEntry(name, held);
    }
    const real = await this.#c.resolveExisting(segments).catch((error: unknown) => this.#missing(p, error));
    let st: Stats;
    try {
      // lstat: `real` has no links left, so this is the same answer, except when the final
      // component was swapped for a link after the check; then it must not describe the target.
      st = await lstat(real);
    } catch (error) {
      throw toStorageError(error);
    }
    if (st.isFile()) this.#c.rememberParentOf(segments, real);
    else this.#smallDirectory.note(p, st);
    return toEntry(name, st);
  }

  /** Remembers a NOT_FOUND answer (an upload usually follows) and rethrows. */
  #missing(p: VirtualPath, error: unknown): never {
    if (error instanceof StorageError && error.code === 'NOT_FOUND') this.#lastMissing = p;
    throw error;
  }

  list(dir: VirtualPath, options?: { signal?: AbortSignal }): AsyncIterable<Entry> {
    return listDirectory(this.#c, splitVirtualPath(dir), options?.signal, this.#smallDirectory.take(dir));
  }

  async openRead(p: VirtualPath, options?: OpenReadOptions): Promise<ReadSource> {
    const segments = splitVirtualPath(p);
    const offset = checkOffset(options?.offset);
    options?.signal?.throwIfAborted();
    // Open (and check the type) before creating the stream so NOT_FOUND / IS_A_DIRECTORY are
    // thrown before the session has sent a 150 reply. The next file of a queue is opened
    // through the parent directory the first one left in the cache.
    let fd = await this.#c.openInHeldParent(segments, O_RDONLY);
    if (fd === null) {
      const real = await this.#c.resolveExisting(segments);
      fd = await this.#c.openConfined(real, O_RDONLY);
      this.#c.rememberParentOf(segments, real);
    }
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
    if (this.#uploadMode === 'atomic') return openAtomicWrite(this.#c, segments, options, offset, this.#fsync);
    const flags = openFlags(options.mode, offset);
    // The common case: the entry opened with O_NOFOLLOW inside its proven (usually cached)
    // parent, so a plain file, new or existing, is known to be inside. Anything else (a
    // symlink as the final component, a directory, a missing parent) takes the full path
    // below, which classifies it exactly.
    // A file the last stat did not find (the upload check before 150 just looked) is first
    // created with O_EXCL: then it is known to be a new, empty, plain file and the fstat below
    // is not needed. Were the hint stale, EEXIST sends the open down the usual path.
    const exclusive = (flags & O_EXCL) !== 0;
    const tryNew = (flags & O_CREAT) !== 0 && !exclusive && this.#lastMissing === p;
    this.#lastMissing = null;
    let fd = await this.#c.openInParent(segments, tryNew ? flags | O_EXCL : flags).catch(() => null);
    const created = exclusive || (tryNew && fd !== null);
    if (fd === null && tryNew) fd = await this.#c.openInParent(segments, flags).catch(() => null);
    fd ??= await this.#openWriteSlow(segments, flags);
    if (!created) {
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
    }
    // With O_APPEND the kernel picks the position; otherwise write from the resume offset.
    const sink = new FileWriteSink(fd, options.mode === 'append' ? null : offset);
    if (options.signal) addAbortSignal(options.signal, sink);
    // A failed or aborted upload interrupts the queue: the session gives back the directories
    // it holds, so a client whose transfers keep failing (no data connection, a fuzzer) holds
    // no fd beyond its own connections.
    return new LocalWriteHandle(sink, fd, this.#fsync, undefined, () => this.#forget());
  }

  /** Resolves the target through symlinks (confined), or its parent when it does not exist. */
  async #openWriteSlow(segments: readonly string[], flags: number): Promise<number> {
    let target: string;
    let exists: boolean;
    try {
      target = await this.#c.resolveExisting(segments);
      exists = true;
    } catch (error) {
      if (!(error instanceof StorageError) || error.code !== 'NOT_FOUND') throw error;
      // Missing (or a dangling link): the parent must exist and be inside. A dangling link in
      // the final component is refused by O_NOFOLLOW below rather than written through.
      target = await this.#c.resolveInParent(segments);
      exists = false;
    }
    if (exists) {
      const st = await stat(target).catch((error: unknown) => {
        throw toStorageError(error);
      });
      if (st.isDirectory()) throw fail('IS_A_DIRECTORY');
    }
    return this.#c.openConfined(target, flags);
  }

  async remove(p: VirtualPath): Promise<void> {
    const segments = splitVirtualPath(p);
    if (segments.length === 0) throw fail('PERMISSION_DENIED');
    const hostPath = await this.#c.resolveInParent(segments);
    const st = await this.#c.lstat(hostPath);
    if (st.isDirectory()) throw fail('IS_A_DIRECTORY');
    // A link is removed itself (never its target), but one pointing outside is refused like
    // every other operation on it, so the home looks the same to all commands.
    await this.#c.checkLinkTarget(hostPath, st);
    try {
      await fsp.unlink(hostPath);
    } catch (error) {
      throw toStorageError(error);
    }
  }

  async makeDirectory(p: VirtualPath): Promise<void> {
    const segments = splitVirtualPath(p);
    if (segments.length === 0) throw fail('ALREADY_EXISTS');
    const hostPath = await this.#c.resolveInParent(segments);
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
    const hostPath = await this.#c.resolveInParent(segments);
    const st = await this.#c.lstat(hostPath);
    await this.#c.checkLinkTarget(hostPath, st);
    if (!st.isDirectory()) throw fail('NOT_A_DIRECTORY');
    this.#forget();
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
    const source = await this.#c.resolveInParent(fromSegments);
    const sourceStat = await this.#c.lstat(source);
    await this.#c.checkLinkTarget(source, sourceStat);
    const target = await this.#c.resolveInParent(toSegments);
    if (source === target) return;
    let targetStat: Stats | undefined;
    try {
      targetStat = await fsp.lstat(target);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw toStorageError(error);
    }
    // rename(2) would silently replace an empty directory; RNTO onto a directory is refused.
    if (targetStat?.isDirectory()) throw fail('ALREADY_EXISTS');
    if (sourceStat.isDirectory()) this.#forget();
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
    await this.#throughFd(segments, O_RDONLY, async (fd) => {
      const st = await fstat(fd);
      await futimes(fd, st.atime, time);
    });
  }

  async truncate(p: VirtualPath, size: number): Promise<void> {
    const segments = splitVirtualPath(p);
    const length = checkOffset(size);
    await this.#throughFd(segments, O_WRONLY, async (fd) => {
      if (!(await fstat(fd)).isFile()) throw fail('PERMISSION_DENIED');
      await ftruncate(fd, length);
    });
  }

  async setMode(p: VirtualPath, mode: number): Promise<void> {
    const segments = splitVirtualPath(p);
    const bits = checkMode(mode);
    await this.#throughFd(segments, O_RDONLY, (fd) => fchmod(fd, bits));
  }

  /**
   * Runs `change` on an fd of the confined entry opened with O_NOFOLLOW, not on its path:
   * utimes(2), chmod(2) and truncate(2) follow a final component swapped for a link after the
   * check, and would change a file outside the home.
   */
  async #throughFd(segments: readonly string[], access: number, change: (fd: number) => Promise<void>): Promise<void> {
    const real = await this.#c.resolveExisting(segments);
    const fd = await openFile(real, access | SAFE_OPEN);
    try {
      await change(fd);
    } catch (error) {
      throw toStorageError(error);
    } finally {
      closeQuietly(fd);
    }
  }

  async ping(): Promise<void> {
    await checkDirectory(this.#c.home);
  }

  /** statfs(2) of the file system under the (confined, existing) entry. */
  async space(p: VirtualPath): Promise<SpaceInfo> {
    const real = await this.#c.resolveExisting(splitVirtualPath(p));
    try {
      const st = await fsp.statfs(real);
      // Node's statfs has no f_namemax; 255 is NAME_MAX on every Linux file system kftpd runs on.
      return { blockSize: st.bsize, blocks: st.blocks, freeBlocks: st.bfree, availableBlocks: st.bavail, files: st.files, freeFiles: st.ffree, nameMax: 255 };
    } catch (error) {
      throw toStorageError(error);
    }
  }

  /**
   * link(2) of a plain file to a new name. Both parents are proven inside the home; the source
   * is lstat'ed, so a symlink (which link(2) on Linux would copy as a link) or a directory is
   * refused; link(2) never follows nor replaces the new name (EEXIST).
   */
  async link(from: VirtualPath, to: VirtualPath): Promise<void> {
    const fromSegments = splitVirtualPath(from);
    const toSegments = splitVirtualPath(to);
    if (fromSegments.length === 0) throw fail('IS_A_DIRECTORY');
    if (toSegments.length === 0) throw fail('ALREADY_EXISTS');
    const source = await this.#c.resolveInParent(fromSegments);
    const st = await this.#c.lstat(source);
    if (st.isDirectory()) throw fail('IS_A_DIRECTORY');
    if (!st.isFile()) throw fail('PERMISSION_DENIED');
    const target = await this.#c.resolveInParent(toSegments);
    try {
      await fsp.link(source, target);
    } catch (error) {
      throw toStorageError(error);
    }
  }

  /** Closes the held directory handles (the session ended). */
  release(): void {
    this.#forget();
  }

  /** The tree changed (or the session ended): nothing remembered about it is used again. */
  #forget(): void {
    this.#c.forget();
    this.#smallDirectory.clear();
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
    case 'update':
      return O_WRONLY | O_CREAT;
    case 'resume':
      // Only a fresh upload (offset 0) may create the file; resuming something that does not
      // exist is NOT_FOUND.
      return offset === 0 ? O_WRONLY | O_CREAT : O_WRONLY;
    default:
      throw fail('UNSUPPORTED');
  }
}

