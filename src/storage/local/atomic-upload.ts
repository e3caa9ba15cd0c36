/**
 * @module storage/local/atomic-upload
 * uploadMode "atomic": the bytes go to a hidden temporary file in the target's directory
 * (same filesystem, so the final rename is atomic) and appear under the real name only on
 * commit; an aborted or failed upload removes the temporary file, so no partial file ever
 * shows. Resume and append start from a copy of the current file (a reflink where the
 * filesystem can clone), so readers keep seeing the old complete file until the new one
 * replaces it.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { addAbortSignal } from 'node:stream';
import { storageError } from '../errors.js';
import type { OpenWriteOptions, WriteHandle } from '../types.js';
import type { Confinement } from './confinement.js';
import { errnoOf, toStorageError } from './errno.js';
import { FileWriteSink } from './file-write-sink.js';
import { ftruncate, lstat } from './fs-calls.js';
import { LocalWriteHandle } from './local-write-handle.js';

/** Name prefix of atomic uploads in progress (hidden from listings). */
export const ATOMIC_TEMP_PREFIX = '.kftpd-upload-';

const { O_WRONLY, O_CREAT, O_EXCL, O_APPEND } = constants;
const fail = storageError;

export async function openAtomicWrite(
  confinement: Confinement,
  segments: readonly string[],
  options: OpenWriteOptions,
  offset: number,
  fsync: boolean,
): Promise<WriteHandle> {
  const target = await confinement.resolveInParent(segments);
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
  if (existing) await confinement.checkLinkTarget(target, existing);
  if (options.mode === 'create' && existing) throw fail('ALREADY_EXISTS');
  // Update keeps the whole file, so it starts from a copy too (an SFTP client patching bytes
  // in place: readers see the old file until the handle closes).
  const continues = options.mode === 'append' || options.mode === 'update' || (options.mode === 'resume' && offset > 0);
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
    fd = await confinement.openConfined(temp, continues && existing ? O_WRONLY | (options.mode === 'append' ? O_APPEND : 0) : O_WRONLY | O_CREAT | O_EXCL);
    if (options.mode === 'resume' && existing && offset < existing.size) await ftruncate(fd, offset);
  } catch (error) {
    await fsp.rm(temp, { force: true }).catch(() => undefined);
    throw toStorageError(error);
  }
  const sink = new FileWriteSink(fd, options.mode === 'append' ? null : continues ? offset : 0);
  if (options.signal) addAbortSignal(options.signal, sink);
  return new LocalWriteHandle(sink, fd, fsync, { temp, target, exclusive: options.mode === 'create' });
}
