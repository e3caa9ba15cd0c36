/**
 * @module storage/local/local-storage
 * The local-filesystem storage adapter: maps virtual paths onto a directory tree under a
 * configured root and confines every operation to one user's home inside it. This module is
 * the provider (one LocalStorage per home) and the adapter's public face; the parts live
 * beside it, one concept each:
 * - local-backend.ts: the StorageBackend operations;
 * - confinement.ts: virtual path -> host path, symlink checks, opens proven inside the home;
 * - dir-handle-cache.ts: the per-session cache of proven directory handles;
 * - file-read-stream.ts / file-write-sink.ts / local-write-handle.ts: the bytes of downloads
 *   and uploads; atomic-upload.ts: uploadMode "atomic";
 * - entries.ts: listings and stat results; errno.ts: errno -> StorageError; fs-calls.ts: the
 *   fs calls themselves.
 */
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { storageError } from '../errors.js';
import { splitVirtualPath } from '../segments.js';
import type { StorageCapabilities, StorageProvider, VirtualPath } from '../types.js';
import { errnoOf, toStorageError } from './errno.js';
import { access, checkDirectory, closeQuietly, openedPathSync, openFile, PROC_FD_AVAILABLE, realpath, SAFE_OPEN } from './fs-calls.js';
import { LOCAL_CAPABILITIES, LocalStorage, type UploadMode } from './local-backend.js';

export { ATOMIC_TEMP_PREFIX } from './atomic-upload.js';
export { toStorageError } from './errno.js';
export { LocalStorage, type UploadMode } from './local-backend.js';

/**
 * Creates one LocalStorage per home under a fixed root directory.
 */
export class LocalStorageProvider implements StorageProvider {
  readonly capabilities: StorageCapabilities = LOCAL_CAPABILITIES;
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
    const options = { fsync: this.#fsync, uploadMode: this.#uploadMode };
    let rootReal: string;
    try {
      rootReal = await realpath(this.#root);
    } catch (error) {
      throw toStorageError(error);
    }
    const held = await openExistingHome(segments.length === 0 ? rootReal : path.join(rootReal, ...segments));
    if (held !== null) return new LocalStorage({ home: held.path, heldHome: held.fd, ...options });
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
        current = await realpath(next);
      } catch (error) {
        throw toStorageError(error);
      }
      if (current !== rootReal && !current.startsWith(rootPrefix)) throw storageError('OUTSIDE_ROOT');
    }
    await checkDirectory(current);
    return new LocalStorage({ home: current, ...options });
  }

  async ping(): Promise<void> {
    await checkDirectory(this.#root);
  }
}

/**
 * A login's usual case: the home exists and is reached from the root's resolved path without
 * a link. It is opened (O_DIRECTORY: a directory the server can read) and proven by the
 * kernel's own name for the fd, which is exactly `expected` only when no link was on the way;
 * the session then keeps it open for its first operations (dir-handle-cache.ts), so a short
 * session's stat, LIST and RETR in the home do not resolve it again. Null: take the walk
 * that creates a missing home and resolves links (or no /proc here).
 */
async function openExistingHome(expected: string): Promise<{ path: string; fd: number } | null> {
  if (!PROC_FD_AVAILABLE) return null;
  let fd: number;
  try {
    fd = await openFile(expected, constants.O_RDONLY | constants.O_DIRECTORY | SAFE_OPEN);
  } catch {
    return null;
  }
  try {
    if (openedPathSync(fd) !== expected) throw storageError('OUTSIDE_ROOT');
    // Search permission as well as read, as checkDirectory asks of every home.
    await access(expected, constants.R_OK | constants.X_OK);
    return { path: expected, fd };
  } catch {
    closeQuietly(fd);
    return null;
  }
}
