/**
 * @module storage/local/entries
 * Directory listings and stat results: host Stats as storage Entries, and a directory read
 * (in one call when a stat just found it small, else in batches; through the session's held
 * fd when it has one) where links out of the home and uploads in progress do not show.
 */
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { Entry, EntryType } from '../types.js';
import { ATOMIC_TEMP_PREFIX } from './atomic-upload.js';
import type { Confinement } from './confinement.js';
import { errnoOf, toStorageError } from './errno.js';
import { lstat, readdir, realpath, stat } from './fs-calls.js';

/** Errors for which a single directory entry is skipped instead of failing the listing. */
const SKIPPABLE_ENTRY_ERRORS = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EACCES', 'EPERM']);

function entryType(st: Stats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

export function toEntry(name: string, st: Stats): Entry {
  return {
    name,
    type: entryType(st),
    size: st.isDirectory() ? 0 : st.size,
    modifiedAt: st.mtime,
    mode: st.mode & 0o7777,
    uniqueId: `${st.dev.toString(16)}g${st.ino.toString(16)}`,
  };
}

/**
 * A directory whose own size is at most this is read in one readdir call: on ext4 and xfs
 * that is a few thousand names at most (tmpfs counts 20 bytes a name), so the names in memory
 * stay bounded, and a short session's LIST costs one thread-pool round trip instead of four
 * (opendir, a batch, the empty batch that ends it, closedir). Larger ones, and filesystems
 * that report no size for directories (0), are streamed in batches.
 */
export const ONE_CALL_DIRECTORY_BYTES = 64 * 1024;

/** How long a stat's "small directory" stays true for the listing that follows it. */
const SMALL_DIRECTORY_NOTE_MS = 1_000;

/**
 * The small directory a session's last stat found (the FTP and SFTP frontends stat a path
 * before they list it), taken by the listing that follows. Only a fresh note of the very same
 * path counts: a directory stat'ed by CWD and listed much later may have grown meanwhile, and
 * a bounded read is the point, not a saved call.
 */
export class SmallDirectoryNote {
  #path: string | null = null;
  #at = 0;

  note(p: string, st: Stats): void {
    if (!st.isDirectory() || st.size <= 0 || st.size > ONE_CALL_DIRECTORY_BYTES) return;
    this.#path = p;
    this.#at = Date.now();
  }

  /** Whether `p` was just found small; the note is used up either way. */
  take(p: string): boolean {
    const small = this.#path === p && Date.now() - this.#at <= SMALL_DIRECTORY_NOTE_MS;
    this.#path = null;
    return small;
  }

  clear(): void {
    this.#path = null;
  }
}

/**
 * The entries of the directory `segments` names (resolved and confined), streamed. `small`:
 * a stat of this directory a moment ago found it at most ONE_CALL_DIRECTORY_BYTES (the FTP
 * and SFTP frontends stat a path before they list it), so its names are read in one call.
 */
export async function* listDirectory(
  confinement: Confinement,
  segments: readonly string[],
  signal: AbortSignal | undefined,
  small = false,
): AsyncGenerator<Entry> {
  // A directory the session holds is read through its fd (the very directory proven inside),
  // any other is resolved first.
  const held = confinement.acquireHeld(segments);
  try {
    const dir = held ? held.path : await confinement.resolveExisting(segments);
    for await (const name of directoryNames(dir, small)) {
      signal?.throwIfAborted();
      const entry = await listEntry(confinement, dir, name);
      if (entry) yield entry;
    }
  } catch (error) {
    // The caller's abort reason goes back unchanged; read errors (EIO...) get mapped.
    if (signal?.aborted && error === signal.reason) throw error;
    throw toStorageError(error);
  } finally {
    held?.release();
  }
}

/**
 * The names in `dir`: one readdir when `small`, otherwise opendir's batches (a huge directory
 * is never held in memory as a whole; the for-await closes the handle on break or throw).
 * Errors are mapped by the listing.
 */
async function* directoryNames(dir: string, small: boolean): AsyncGenerator<string> {
  if (small) {
    yield* await readdir(dir);
    return;
  }
  for await (const dirent of await fsp.opendir(dir, { bufferSize: 64 })) yield dirent.name;
}

/** `dir`: the directory's resolved path, or the /proc/self/fd path of the session's held fd for it. */
async function listEntry(confinement: Confinement, dir: string, name: string): Promise<Entry | undefined> {
  // Uploads in progress in atomic mode are not files yet.
  if (name.startsWith(ATOMIC_TEMP_PREFIX)) return undefined;
  const hostPath = path.join(dir, name);
  try {
    // lstat rather than the dirent type: the entry may have been swapped for a link since.
    const lst = await lstat(hostPath);
    if (!lst.isSymbolicLink()) return toEntry(name, lst);
    const target = await realpath(hostPath);
    if (!confinement.inside(target)) return undefined;
    return toEntry(name, await stat(target));
  } catch (error) {
    const errno = errnoOf(error);
    if (errno !== undefined && SKIPPABLE_ENTRY_ERRORS.has(errno)) return undefined;
    throw toStorageError(error);
  }
}
