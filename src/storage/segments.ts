/**
 * @module storage/segments
 * The canonical virtual-path rule every storage adapter shares: only normalised absolute
 * paths are accepted. Normalising here would hide session bugs, and a '..' that reaches an
 * adapter is an attack or a bug either way. Pure.
 */
import { storageError } from './errors.js';
import type { OpenWriteOptions, VirtualPath } from './types.js';

/** Linux NAME_MAX / PATH_MAX, enforced up front so every backend agrees on what is too long. */
export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4095;

/** Splits a virtual path into its segments ("/" -> []); INVALID_NAME for anything else. */
export function splitVirtualPath(p: VirtualPath): string[] {
  if (typeof p !== 'string' || !p.startsWith('/') || p.includes('\0')) throw storageError('INVALID_NAME');
  if (p === '/') return [];
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) throw storageError('INVALID_NAME');
  const segments = p.slice(1).split('/');
  for (const s of segments) {
    if (Buffer.byteLength(s) > MAX_NAME_BYTES) throw storageError('INVALID_NAME');
    // An empty segment means '//' or a trailing '/'.
    if (s === '' || s === '.' || s === '..') throw storageError('INVALID_NAME');
  }
  return segments;
}

/** A byte offset: a safe non-negative integer, else INVALID_OFFSET. */
export function checkOffset(offset: number | undefined): number {
  const value = offset ?? 0;
  if (!Number.isSafeInteger(value) || value < 0) throw storageError('INVALID_OFFSET');
  return value;
}

/** Permission bits for setMode: an integer from 0 to 0o777, else INVALID_NAME. */
export function checkMode(mode: number): number {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw storageError('INVALID_NAME');
  return mode;
}

/**
 * The checks every adapter's openWrite starts with: a canonical path that is not the root,
 * a valid resume offset, and a signal that has not fired yet.
 */
export function checkWriteRequest(p: VirtualPath, options: OpenWriteOptions): { segments: string[]; offset: number } {
  const segments = splitVirtualPath(p);
  if (segments.length === 0) throw storageError('IS_A_DIRECTORY');
  const offset = options.mode === 'resume' || options.mode === 'update' ? checkOffset(options.offset) : 0;
  options.signal?.throwIfAborted();
  return { segments, offset };
}
