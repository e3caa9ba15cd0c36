/**
 * @module files/user-files
 * One logged-in user's files, whatever the protocol: the storage backend confined to the home,
 * wrapped with the rules every frontend must apply the same way: path limits, permissions,
 * what an upload may replace, the home itself never removed nor renamed, and an audit record
 * for every change. Refusals are FileAccessError codes; storage failures stay StorageErrors.
 * A frontend translates both (FTP: session/reply-map; a future SFTP frontend: SSH_FX_*).
 */
import type { Permission } from '../core/permissions.js';
import type { Principal } from '../core/principal.js';
import type { TransferRecord } from '../core/transfer-record.js';
import { parentPath, resolveVirtualPath } from '../protocol/virtual-path.js';
import { StorageError } from '../storage/errors.js';
import type { Entry, ReadSource, SpaceInfo, StorageBackend, VirtualPath, WriteHandle, WriteMode } from '../storage/types.js';
import { FileAccessError, fileErrorCode } from './file-access-error.js';

/** The audit events a file operation produces (the login service records logins). */
export type FileEventName = 'delete' | 'rename' | 'mkdir' | 'rmdir' | 'link' | 'chmod';

export interface FileEventDetail {
  readonly path: VirtualPath;
  readonly toPath?: VirtualPath;
  /** The permission bits a chmod set, as octal text ("0644"). */
  readonly mode?: string;
  readonly durationMs: number;
  /** Stable error code of a failure. */
  readonly code?: string;
}

/** Where UserFiles reports: the frontend binds these to its session (log fields, audit sink). */
export interface FileEventSink {
  /** A refusal worth a log line (permission, path limits). */
  readonly refused: (event: 'permission.denied' | 'path.refused', detail: Record<string, unknown>) => void;
  /** A change to the tree, successful or not (the audit log). */
  readonly changed?: (event: FileEventName, result: 'success' | 'failure', detail: FileEventDetail) => void;
  /** A finished transfer (files/transfer-accounting: metrics, log, xferlog, audit). */
  readonly transferred?: (record: TransferRecord, code?: string) => void;
}

export interface UserFilesLimits {
  /** limits.maxPathBytes / maxPathDepth (0 or absent: off). */
  readonly maxPathBytes?: number;
  readonly maxPathDepth?: number;
}

export class UserFiles {
  readonly principal: Principal;
  readonly storage: StorageBackend;
  readonly #limits: UserFilesLimits;
  readonly #events: FileEventSink;
  readonly #now: () => number;

  constructor(principal: Principal, storage: StorageBackend, limits: UserFilesLimits, events: FileEventSink, now: () => number = Date.now) {
    this.principal = principal;
    this.storage = storage;
    this.#limits = limits;
    this.#events = events;
    this.#now = now;
  }

  /**
   * A client's path argument, relative to `cwd`, as a normalised virtual path. Paths that climb
   * above the home cannot be written (they stop at "/"); longer or deeper paths than the limits
   * are refused, so storage and listings do bounded work.
   */
  resolve(cwd: VirtualPath, arg: string): VirtualPath {
    const path = resolveVirtualPath(cwd, arg);
    if (path === null) throw new FileAccessError('PATH_NOT_ALLOWED', 'file name not allowed');
    const { maxPathBytes = 0, maxPathDepth = 0 } = this.#limits;
    const bytes = Buffer.byteLength(path, 'utf8');
    const depth = path === '/' ? 0 : path.split('/').length - 1;
    const tooLong = maxPathBytes > 0 && bytes > maxPathBytes;
    if (tooLong || (maxPathDepth > 0 && depth > maxPathDepth)) {
      this.#events.refused('path.refused', { reason: tooLong ? 'too-long' : 'too-deep', bytes, depth });
      throw new FileAccessError('PATH_NOT_ALLOWED', 'path beyond limits');
    }
    return path;
  }

  may(permission: Permission): boolean {
    return this.principal.permissions.has(permission);
  }

  /** True when the user has `permission`; a refusal is logged. */
  check(permission: Permission, path?: VirtualPath): boolean {
    if (this.may(permission)) return true;
    this.#events.refused('permission.denied', { permission, ...(path !== undefined ? { path } : {}) });
    return false;
  }

  /** Throws PERMISSION_DENIED (and logs it) unless the user has `permission`. */
  require(permission: Permission, path?: VirtualPath): void {
    if (!this.check(permission, path)) throw new FileAccessError('PERMISSION_DENIED', `permission ${permission} missing`);
  }

  stat(path: VirtualPath): Promise<Entry> {
    return this.storage.stat(path);
  }

  /** The session is over: the storage frees what it keeps between operations (held directories). */
  release(): void {
    this.storage.release?.();
  }

  /** A directory's entries, streamed; needs "list" (refused synchronously). */
  list(dir: VirtualPath, signal?: AbortSignal): AsyncIterable<Entry> {
    this.require('list', dir);
    return this.storage.list(dir, signal ? { signal } : undefined);
  }

  /** Opens a plain file for download from `offset`; needs "download". */
  async openRead(path: VirtualPath, offset = 0, signal?: AbortSignal): Promise<ReadSource> {
    this.require('download', path);
    try {
      return await this.storage.openRead(path, { offset, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (error instanceof StorageError && error.code === 'IS_A_DIRECTORY') throw new FileAccessError('NOT_A_FILE', 'not a plain file');
      throw error;
    }
  }

  /**
   * Checks an upload before any byte moves and returns how to open it. Replacing, appending to,
   * resuming or updating an existing file needs "overwrite" as well as "upload"; the target must be a
   * plain file in an existing directory; a resume cannot start past the end. The returned
   * function opens the storage side: a frontend calls it only once its data path is ready, so
   * a refused connection never truncates a file.
   */
  async prepareUpload(path: VirtualPath, mode: WriteMode, offset: number): Promise<() => Promise<WriteHandle>> {
    // The target first: when it exists, its parent is a directory (the path resolved through
    // it), so an overwrite costs one resolution instead of two. The parent is looked at only
    // when the target cannot be stat'ed, and then decides first.
    let existing: Entry | null;
    try {
      existing = await this.storage.stat(path);
    } catch (error) {
      // An adapter that reached the parent while looking for the target says so: then no
      // second look (a thread-pool round trip per new file on local storage).
      const missing = error instanceof StorageError && error.code === 'NOT_FOUND';
      if (!(missing && error.parentIsDirectory)) {
        const parent = await this.storage.stat(parentPath(path)).catch(() => null);
        if (parent?.type !== 'directory') throw new FileAccessError('NO_SUCH_DIRECTORY', 'no such directory');
        if (!missing) throw error;
      }
      existing = null;
    }
    if (existing?.type === 'directory') throw new StorageError('IS_A_DIRECTORY', 'is a directory');
    if (existing && existing.type !== 'file') throw new FileAccessError('NOT_A_FILE', 'not a plain file');
    this.require('upload', path);
    if (existing) this.require('overwrite', path);
    // 'update' may start past the end (SFTP: the gap reads as zeros, as after pwrite(2)).
    if (mode === 'resume' && offset > (existing?.size ?? 0)) throw new FileAccessError('RESTART_BEYOND_END', 'restart position beyond end of file');
    const options = offset > 0 || mode !== 'resume' ? { mode, offset } : { mode: 'overwrite' as const };
    return () => this.storage.openWrite(path, options);
  }

  async makeDirectory(path: VirtualPath): Promise<void> {
    this.require('mkdir', path);
    await this.#audited('mkdir', { path }, () => this.storage.makeDirectory(path));
  }

  async removeDirectory(path: VirtualPath): Promise<void> {
    this.require('rmdir', path);
    this.#notHome(path);
    await this.#audited('rmdir', { path }, () => this.storage.removeDirectory(path));
  }

  async remove(path: VirtualPath): Promise<void> {
    this.require('delete', path);
    await this.#audited('delete', { path }, () => this.storage.remove(path));
  }

  /** Checks that `from` can be renamed (the first half of FTP's RNFR/RNTO). */
  async checkRenameSource(from: VirtualPath): Promise<Entry> {
    this.require('rename', from);
    this.#notHome(from);
    return this.storage.stat(from);
  }

  /**
   * Renames `from` to `to`. Replacing an existing file is an overwrite and needs that
   * permission too. `replace` false refuses an existing target (SFTP v3 rename semantics).
   */
  async rename(from: VirtualPath, to: VirtualPath, options: { replace?: boolean } = {}): Promise<void> {
    this.require('rename', from);
    this.#notHome(from);
    const existing = await this.storage.stat(to).catch(() => null);
    if (existing && options.replace === false) throw new StorageError('ALREADY_EXISTS', 'target exists');
    if (existing && existing.type !== 'directory') this.require('overwrite', to);
    await this.#audited('rename', { path: from, toPath: to }, () => this.storage.rename(from, to));
  }

  /** Sets a plain file's modification time; needs "overwrite". */
  async setModifiedTime(path: VirtualPath, time: Date): Promise<void> {
    this.require('overwrite', path);
    const entry = await this.storage.stat(path);
    if (entry.type === 'directory') throw new FileAccessError('NOT_A_FILE', 'not a plain file');
    await this.storage.setModifiedTime(path, time);
  }

  /** The storage can report free space (SFTP offers statvfs@openssh.com only then). */
  get canReportSpace(): boolean {
    return this.storage.space !== undefined;
  }

  /** The storage can give a file a second name (SFTP offers hardlink@openssh.com only then). */
  get canLink(): boolean {
    return this.storage.link !== undefined;
  }

  /** Size and free space of the storage under `path`; reading the tree (list or download) is enough. */
  async space(path: VirtualPath): Promise<SpaceInfo> {
    if (!this.may('list')) this.require('download', path);
    if (!this.storage.space) throw new StorageError('UNSUPPORTED', 'not supported');
    return this.storage.space(path);
  }

  /**
   * Gives the plain file `from` a second name `to` (a hard link): a copy as far as rights go,
   * so it needs "download" on the source and "upload" on the target, which must not exist.
   * A directory is never linked.
   */
  async link(from: VirtualPath, to: VirtualPath): Promise<void> {
    const link = this.storage.link?.bind(this.storage);
    if (!link) throw new StorageError('UNSUPPORTED', 'not supported');
    this.require('download', from);
    this.require('upload', to);
    const source = await this.storage.stat(from);
    if (source.type === 'directory') throw new StorageError('IS_A_DIRECTORY', 'is a directory');
    if (source.type !== 'file') throw new FileAccessError('NOT_A_FILE', 'not a plain file');
    if (await this.storage.stat(to).then(() => true, () => false)) throw new StorageError('ALREADY_EXISTS', 'target exists');
    await this.#audited('link', { path: from, toPath: to }, () => link(from, to));
  }

  /**
   * Cuts a plain file to `size` bytes or extends it with zeros; needs "overwrite" unless the
   * size is already that (clients that send a file's attributes back after an upload).
   */
  async truncate(path: VirtualPath, size: number): Promise<void> {
    const truncate = this.storage.truncate?.bind(this.storage);
    if (!truncate) throw new StorageError('UNSUPPORTED', 'not supported');
    const entry = await this.storage.stat(path);
    if (entry.type === 'directory') throw new StorageError('IS_A_DIRECTORY', 'is a directory');
    if (entry.type !== 'file') throw new FileAccessError('NOT_A_FILE', 'not a plain file');
    if (entry.size === size) return;
    this.require('overwrite', path);
    await truncate(path, size);
  }

  /** The storage can change permission bits (SFTP SETSTAT's mode, FTP SITE CHMOD). */
  get canSetMode(): boolean {
    return this.storage.setMode !== undefined;
  }

  /**
   * Sets the permission bits of a file or directory; needs "chmod". Returns the bits set: the
   * requested ones (setuid, setgid and sticky dropped) with the owner's read and write (and
   * search, for a directory) kept, since the server's uid owns what it stores and a file it can
   * no longer read is one it can no longer serve.
   */
  async setMode(path: VirtualPath, mode: number): Promise<number> {
    const setMode = this.storage.setMode?.bind(this.storage);
    if (!setMode) throw new StorageError('UNSUPPORTED', 'not supported');
    this.require('chmod', path);
    const entry = await this.storage.stat(path);
    if (entry.type !== 'file' && entry.type !== 'directory') throw new FileAccessError('NOT_A_FILE', 'not a plain file');
    const applied = (mode & 0o777) | (entry.type === 'directory' ? 0o700 : 0o600);
    await this.#audited('chmod', { path, mode: `0${applied.toString(8).padStart(3, '0')}` }, () => setMode(path, applied));
    return applied;
  }

  /** Reports a finished transfer of this user's (a frontend that moves bytes itself calls it). */
  recordTransfer(record: TransferRecord, error?: unknown): void {
    this.#events.transferred?.(record, error === undefined ? undefined : fileErrorCode(error));
  }

  /** The home is the user's root: it is never removed nor renamed. */
  #notHome(path: VirtualPath): void {
    if (path === '/') throw new FileAccessError('PERMISSION_DENIED', 'the home directory cannot be changed');
  }

  async #audited(event: FileEventName, detail: { path: VirtualPath; toPath?: VirtualPath; mode?: string }, operation: () => Promise<void>): Promise<void> {
    // Called as a method: a frontend's sink may be an object with methods.
    const events = this.#events;
    if (!events.changed) return operation();
    const started = this.#now();
    try {
      await operation();
      events.changed(event, 'success', { ...detail, durationMs: this.#now() - started });
    } catch (error) {
      events.changed(event, 'failure', { ...detail, durationMs: this.#now() - started, code: fileErrorCode(error) });
      throw error;
    }
  }
}
