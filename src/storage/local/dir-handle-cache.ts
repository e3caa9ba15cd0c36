/**
 * @module storage/local/dir-handle-cache
 * A per-session (per LocalStorage) cache of open directory fds, so a queue of small files in
 * one directory does not repeat the per-component confinement walk (realpath) and the opening
 * of the parent for every file: the next file is opened relative to the held directory
 * (openat through /proc/self/fd/<dir>/<name>).
 *
 * Correctness does not depend on invalidation: every use first asks the kernel where the held
 * directory is now (readlink of /proc/self/fd/<dir>, its d_path) and serves the entry only when
 * that is exactly the host path the virtual path maps to without any symlink. Only directories
 * reached without a link on the way are cached, so a hit means a fresh resolution of the
 * virtual path would find this very directory at this moment. A directory renamed, removed,
 * replaced by a symlink or by another directory since it was cached no longer has that path
 * (a removed one reads "<path> (deleted)"), and the entry is dropped and resolved anew.
 * This session's own renames and removals also clear the cache (belt and braces).
 *
 * Held fds cost nothing while a session works through a queue, but 10,000 idle sessions must
 * not hold 10,000 directories open: one timer for all caches closes the fds of every cache
 * unused for IDLE_MS. An fd is never closed while an operation uses it (its number could be
 * reused by another open and the operation would then act on a different directory).
 */
import { closeDirectorySync, openedPathSync } from './fs-calls.js';

/** A cache unused this long closes its directories. */
const IDLE_MS = 2_000;
/** Directories held per session: the working directory and a few neighbours. */
const MAX_ENTRIES = 4;
/** The suffix /proc gives a removed directory: such names are never cached. */
const DELETED_SUFFIX = ' (deleted)';

/** An open directory, in use by `users` operations; closed once dropped and unused. */
export interface DirHandle {
  readonly fd: number;
  users: number;
  /** Dropped from its cache (or never in one): close when the last user releases it. */
  dropped: boolean;
}

/** Caches holding fds, swept by one shared timer. */
const holding = new Set<DirHandleCache>();
let sweeper: NodeJS.Timeout | null = null;

function startSweeper(): void {
  if (sweeper) return;
  sweeper = setInterval(() => {
    const cutoff = Date.now() - IDLE_MS;
    for (const cache of holding) if (cache.lastUse <= cutoff) cache.clear();
    if (holding.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = null;
    }
  }, IDLE_MS / 2);
  sweeper.unref();
}

export class DirHandleCache {
  /** Host path -> held directory, least recently used first. */
  readonly #entries = new Map<string, DirHandle>();
  lastUse = 0;

  /** Directories held now (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The held directory that is at `hostPath` right now, taken for one operation (release it
   * afterwards), or null. A held directory found anywhere else is dropped.
   */
  acquire(hostPath: string): DirHandle | null {
    const entry = this.#entries.get(hostPath);
    if (entry === undefined) return null;
    this.#entries.delete(hostPath);
    if (openedPathSync(entry.fd) !== hostPath) {
      this.#drop(entry);
      return null;
    }
    this.#entries.set(hostPath, entry);
    entry.users++;
    this.lastUse = Date.now();
    return entry;
  }

  /**
   * Takes an open directory fd the caller has proven to be at `actual`, already taken for the
   * caller's operation. Kept for later when `actual` is `hostPath` (no link on the way);
   * otherwise it is closed on release.
   */
  adopt(hostPath: string, fd: number, actual: string): DirHandle {
    const handle: DirHandle = { fd, users: 1, dropped: true };
    if (actual !== hostPath || hostPath.endsWith(DELETED_SUFFIX) || this.#entries.has(hostPath)) return handle;
    handle.dropped = false;
    this.#entries.set(hostPath, handle);
    if (this.#entries.size > MAX_ENTRIES) {
      const [oldest] = this.#entries.values();
      if (oldest) this.#drop(oldest);
    }
    this.lastUse = Date.now();
    holding.add(this);
    startSweeper();
    return handle;
  }

  /** The operation is done with `handle`. */
  release(handle: DirHandle): void {
    handle.users--;
    if (handle.dropped && handle.users === 0) closeDirectorySync(handle.fd);
  }

  /** Drops every held directory (this session changed the tree, or it went idle). */
  clear(): void {
    for (const entry of [...this.#entries.values()]) this.#drop(entry);
    holding.delete(this);
  }

  #drop(entry: DirHandle): void {
    for (const [key, value] of this.#entries) {
      if (value === entry) {
        this.#entries.delete(key);
        break;
      }
    }
    entry.dropped = true;
    if (entry.users === 0) closeDirectorySync(entry.fd);
    if (this.#entries.size === 0) holding.delete(this);
  }
}
