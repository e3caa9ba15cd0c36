/**
 * @module storage/local/entries
 * Directory listings and stat results: host Stats as storage Entries, and a directory read in
 * small batches where links out of the home and uploads in progress do not show.
 */
import { promises as fsp } from 'node:fs';
import type { Dir, Dirent, Stats } from 'node:fs';
import path from 'node:path';
import type { Entry, EntryType } from '../types.js';
import { ATOMIC_TEMP_PREFIX } from './atomic-upload.js';
import type { Confinement } from './confinement.js';
import { errnoOf, toStorageError } from './errno.js';

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

/** The entries of the directory `segments` names (resolved and confined), streamed. */
export async function* listDirectory(confinement: Confinement, segments: readonly string[], signal: AbortSignal | undefined): AsyncGenerator<Entry> {
  const real = await confinement.resolveExisting(segments);
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
      const entry = await listEntry(confinement, real, dirent);
      if (entry) yield entry;
    }
  } catch (error) {
    // The caller's abort reason goes back unchanged; read errors (EIO...) get mapped.
    if (signal?.aborted && error === signal.reason) throw error;
    throw toStorageError(error);
  }
}

async function listEntry(confinement: Confinement, dirReal: string, dirent: Dirent): Promise<Entry | undefined> {
  // Uploads in progress in atomic mode are not files yet.
  if (dirent.name.startsWith(ATOMIC_TEMP_PREFIX)) return undefined;
  const hostPath = path.join(dirReal, dirent.name);
  try {
    // lstat rather than the dirent type: the entry may have been swapped for a link since.
    const lst = await fsp.lstat(hostPath);
    if (!lst.isSymbolicLink()) return toEntry(dirent.name, lst);
    const target = await fsp.realpath(hostPath);
    if (!confinement.inside(target)) return undefined;
    return toEntry(dirent.name, await fsp.stat(target));
  } catch (error) {
    const errno = errnoOf(error);
    if (errno !== undefined && SKIPPABLE_ENTRY_ERRORS.has(errno)) return undefined;
    throw toStorageError(error);
  }
}
