/**
 * @module storage/local/confinement
 * Maps a user's virtual path onto the host tree and proves that what is opened is inside the
 * home. Symlinks are checked with realpath before use and files are then opened with O_NOFOLLOW
 * on the resolved path (uploads: the resolved parent plus the final name, falling back to a
 * full resolution when that name is a link), so a final component swapped for a link after the
 * check fails (ELOOP -> OUTSIDE_ROOT). A directory higher up swapped between check and use
 * (Node has no openat2/RESOLVE_BENEATH) is caught through /proc/self/fd: files are created
 * relative to a proven parent directory fd, and every other open is proven inside before use
 * (see openConfined). Directory operations (mkdir, rename, delete) still rely on the realpath
 * check alone; racing them needs a concurrent writer on the host.
 *
 * The per-component walk (realpath) is done once per directory and session: the home (from
 * login on) and proven parent directories are held in a DirHandleCache and the next file is
 * opened (or the directory listed) relative to them after asking the kernel where the held
 * directory is now (dir-handle-cache.ts).
 */
import { constants, promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { StorageError, storageError } from '../errors.js';
import { DirHandleCache, type DirHandle } from './dir-handle-cache.js';
import { errnoOf, toStorageError } from './errno.js';
import {
  closeQuietly,
  fstat,
  ftruncate,
  lstat,
  openedPathSync,
  openFile,
  procFdPath,
  PROC_FD_AVAILABLE,
  realpath,
  SAFE_OPEN,
} from './fs-calls.js';

const { O_RDONLY, O_CREAT, O_TRUNC, O_DIRECTORY } = constants;

const fail = storageError;

export class Confinement {
  readonly home: string;
  readonly #homePrefix: string;
  readonly #dirs = new DirHandleCache();
  /** Parents being opened for the cache after a download's full resolution. */
  readonly #remembering = new Set<string>();
  /** The parent of the last download resolved in full: held when the next one is there too. */
  #resolvedOnce: string | null = null;

  /** `home` must be a realpath. */
  constructor(home: string) {
    this.home = home;
    this.#homePrefix = home.endsWith(path.sep) ? home : home + path.sep;
  }

  /** Directories held for this session (tests). */
  get heldDirectories(): number {
    return this.#dirs.size;
  }

  inside(real: string): boolean {
    return real === this.home || real.startsWith(this.#homePrefix);
  }

  /** Host path for the segments, before any symlink resolution. */
  join(segments: readonly string[]): string {
    return segments.length === 0 ? this.home : path.join(this.home, ...segments);
  }

  /** Keeps `fd`, the home proven by the provider (the kernel's name for it is `home`). */
  holdHome(fd: number): void {
    this.#dirs.release(this.#dirs.adopt(this.home, fd, this.home));
  }

  /**
   * The held directory `segments` names, as a path that reaches exactly it (/proc/self/fd/N),
   * taken until release(); null when it is not held (the caller resolves it).
   */
  acquireHeld(segments: readonly string[]): { path: string; release(): void } | null {
    if (!PROC_FD_AVAILABLE) return null;
    const dir = this.#dirs.acquire(this.join(segments));
    if (dir === null) return null;
    return { path: procFdPath(dir.fd), release: () => this.#dirs.release(dir) };
  }

  /** This session changed directories (rename, rmdir): forget the held ones. */
  forget(): void {
    this.#dirs.clear();
  }

  /** Resolves an existing path through symlinks and insists the result is inside the home. */
  async resolveExisting(segments: readonly string[]): Promise<string> {
    let real: string;
    try {
      real = await realpath(this.join(segments));
    } catch (error) {
      throw toStorageError(error);
    }
    if (!this.inside(real)) throw fail('OUTSIDE_ROOT');
    return real;
  }

  /**
   * Resolves the parent directory of a (possibly new) entry and returns the host path of the
   * entry itself inside the resolved parent; the final component is left unresolved so the
   * caller decides whether to follow it.
   */
  async resolveInParent(segments: readonly string[]): Promise<string> {
    const name = segments[segments.length - 1];
    if (name === undefined) throw fail('PERMISSION_DENIED');
    const parent = await this.resolveExisting(segments.slice(0, -1));
    return path.join(parent, name);
  }

  /**
   * Opens `hostPath` (flags without SAFE_OPEN; it is added) so that the file opened is proven
   * to be inside the home by the kernel's own name for it (/proc/self/fd/N on Linux). The
   * realpath check before the open cannot see a directory higher up swapped for a link in
   * between. So:
   * - a write that may create the file first opens the parent directory, proves it inside, and
   *   creates the file through /proc/self/fd/<dir>/<name>, i.e. relative to that very
   *   directory (openat semantics): nothing is ever created outside;
   * - any other open is proven after the fact, before a byte is read or written (O_TRUNC is
   *   applied only after the proof).
   * Without /proc the realpath check before the open is the only one.
   */
  async openConfined(hostPath: string, flags: number): Promise<number> {
    const truncate = (flags & O_TRUNC) !== 0;
    const openFlags = (flags & ~O_TRUNC) | SAFE_OPEN;
    let fd: number;
    if ((flags & O_CREAT) !== 0 && PROC_FD_AVAILABLE) {
      const dirFd = await openFile(path.dirname(hostPath), O_RDONLY | O_DIRECTORY | SAFE_OPEN);
      try {
        const dir = openedPathSync(dirFd);
        if (dir === null || !this.inside(dir)) throw fail('OUTSIDE_ROOT');
        fd = await openFile(procFdPath(dirFd, path.basename(hostPath)), openFlags, 0o666);
      } finally {
        closeQuietly(dirFd);
      }
    } else {
      fd = await openFile(hostPath, openFlags, 0o666);
      this.#prove(fd);
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

  /**
   * Opens the entry `segments` names inside its parent directory with O_NOFOLLOW (flags
   * without SAFE_OPEN; O_TRUNC is applied by the open itself: the file is in a proven
   * directory and is not a link). The parent comes from the cache, or is resolved (realpath),
   * opened, proven inside and, when no link was on the way, cached. A final component that is
   * a link fails (ELOOP): the caller then resolves the whole path itself.
   */
  async openInParent(segments: readonly string[], flags: number): Promise<number> {
    const name = segments[segments.length - 1];
    if (name === undefined) throw fail('IS_A_DIRECTORY');
    const parentSegments = segments.slice(0, -1);
    if (!PROC_FD_AVAILABLE) return this.openConfined(path.join(await this.resolveExisting(parentSegments), name), flags);
    const dir = this.#dirs.acquire(this.join(parentSegments)) ?? (await this.#openParent(parentSegments));
    let fd: number;
    try {
      fd = await openFile(procFdPath(dir.fd, name), flags | SAFE_OPEN, 0o666);
    } finally {
      this.#dirs.release(dir);
    }
    this.#prove(fd);
    return fd;
  }

  /**
   * A download's open through a held parent directory: the fd, or null on a cache miss or
   * when the name cannot be opened that way (a link, missing...: the caller then takes the
   * full resolution, which classifies it exactly).
   */
  async openInHeldParent(segments: readonly string[], flags: number): Promise<number | null> {
    const name = segments[segments.length - 1];
    if (name === undefined || !PROC_FD_AVAILABLE) return null;
    const dir = this.#dirs.acquire(this.join(segments.slice(0, -1)));
    if (dir === null) return null;
    let fd: number;
    try {
      fd = await openFile(procFdPath(dir.fd, name), flags | SAFE_OPEN);
    } catch {
      return null;
    } finally {
      this.#dirs.release(dir);
    }
    this.#prove(fd);
    return fd;
  }

  /**
   * After a full resolution found `real` for `segments` (a file): when no link was on the way
   * and the previous one was in the same directory (a queue, not a session's one download),
   * open and hold the parent for the next files. Runs in the background; a failure only
   * means no cache entry.
   */
  rememberParentOf(segments: readonly string[], real: string): void {
    if (!PROC_FD_AVAILABLE || segments.length === 0 || real !== this.join(segments)) return;
    const host = path.dirname(real);
    if (this.#resolvedOnce !== host) {
      // A short session fetches one file and leaves: opening and later closing its directory
      // would be two thread-pool round trips for nothing.
      this.#resolvedOnce = host;
      return;
    }
    if (this.#remembering.has(host)) return;
    this.#remembering.add(host);
    openFile(host, O_RDONLY | O_DIRECTORY | SAFE_OPEN).then(
      (fd) => {
        this.#remembering.delete(host);
        const actual = openedPathSync(fd);
        if (actual === null || !this.inside(actual)) {
          closeQuietly(fd);
          return;
        }
        this.#dirs.release(this.#dirs.adopt(host, fd, actual));
      },
      () => this.#remembering.delete(host),
    );
  }

  /**
   * stat through a held directory: the entry's lstat (the directory's own fstat when
   * `segments` names it), NOT_FOUND when the name is missing, or null when nothing is held or
   * the entry is a link (the caller resolves it).
   */
  async statInHeld(segments: readonly string[]): Promise<Stats | null> {
    if (!PROC_FD_AVAILABLE) return null;
    const self = this.#dirs.acquire(this.join(segments));
    if (self !== null) {
      try {
        return await fstat(self.fd);
      } catch {
        return null;
      } finally {
        this.#dirs.release(self);
      }
    }
    const name = segments[segments.length - 1];
    if (name === undefined) return null;
    const dir = this.#dirs.acquire(this.join(segments.slice(0, -1)));
    if (dir === null) return null;
    try {
      const st = await lstat(procFdPath(dir.fd, name));
      return st.isSymbolicLink() ? null : st;
    } catch (error) {
      // The held directory (proven a directory) answered: only the name is missing.
      if (errnoOf(error) === 'ENOENT') throw new StorageError('NOT_FOUND', 'not found', { cause: error, parentIsDirectory: true });
      return null;
    } finally {
      this.#dirs.release(dir);
    }
  }

  /** Resolves, opens and proves a parent directory; cached when no link was on the way. */
  async #openParent(parentSegments: readonly string[]): Promise<DirHandle> {
    const real = await this.resolveExisting(parentSegments);
    const fd = await openFile(real, O_RDONLY | O_DIRECTORY | SAFE_OPEN);
    const actual = openedPathSync(fd);
    if (actual === null || !this.inside(actual)) {
      closeQuietly(fd);
      throw fail('OUTSIDE_ROOT');
    }
    return this.#dirs.adopt(this.join(parentSegments), fd, actual);
  }

  /** Closes `fd` and refuses when the kernel says it is outside the home. */
  #prove(fd: number): void {
    const actual = openedPathSync(fd);
    if (actual !== null && !this.inside(actual)) {
      closeQuietly(fd);
      throw fail('OUTSIDE_ROOT');
    }
  }

  /** lstat that maps errors. */
  async lstat(hostPath: string): Promise<Stats> {
    try {
      return await lstat(hostPath);
    } catch (error) {
      throw toStorageError(error);
    }
  }

  /** If `hostPath` is a symlink, its target must resolve inside the home (dangling: NOT_FOUND). */
  async checkLinkTarget(hostPath: string, st: Stats): Promise<void> {
    if (!st.isSymbolicLink()) return;
    let real: string;
    try {
      real = await fsp.realpath(hostPath);
    } catch (error) {
      throw toStorageError(error);
    }
    if (!this.inside(real)) throw fail('OUTSIDE_ROOT');
  }
}
