/**
 * @module storage/types
 * The storage port: what a session may do to files, independent of where they live.
 * Paths are always normalised virtual paths ("/", "/a/b.txt") relative to the storage root
 * the adapter was created with (a user's home); adapters must never let one reach outside it.
 * Pure types; no I/O.
 */
import type { Readable, Writable } from 'node:stream';

/** A normalised absolute POSIX path inside the storage root, e.g. "/" or "/dir/file.txt". */
export type VirtualPath = string;

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface Entry {
  /** Base name ("" for the root). */
  readonly name: string;
  readonly type: EntryType;
  /** Size in bytes (0 for directories). A number: files beyond 4 GiB stay exact up to 2^53. */
  readonly size: number;
  readonly modifiedAt: Date;
  /** POSIX permission bits (e.g. 0o644) when the backend has them. */
  readonly mode?: number;
  /** Stable identity for MLST "unique" when the backend has one (e.g. dev/ino). */
  readonly uniqueId?: string;
}

export interface StorageCapabilities {
  readonly rename: 'atomic' | 'copy' | 'none';
  readonly append: boolean;
  readonly resumeRead: boolean;
  /** Modes 'resume' and 'update', and WriteHandle.seek. */
  readonly resumeWrite: boolean;
  readonly setModifiedTime: boolean;
}

export type WriteMode =
  /** Fail with ALREADY_EXISTS if the file exists (STOU). */
  | 'create'
  /** Truncate or create (STOR). */
  | 'overwrite'
  /** Append at the end, creating the file if missing (APPE). */
  | 'append'
  /** Keep existing bytes up to `offset`, write from there, drop the rest (REST+STOR). */
  | 'resume'
  /**
   * Keep every existing byte (create the file when missing) and write from `offset`, over
   * the old bytes or past the end (a hole reads as zeros): open(2) without O_TRUNC and
   * pwrite(2), what SFTP's OPEN without SSH_FXF_TRUNC means.
   */
  | 'update';

export interface OpenWriteOptions {
  readonly mode: WriteMode;
  /** Byte offset for modes 'resume' and 'update'. */
  readonly offset?: number;
  readonly signal?: AbortSignal;
}

/**
 * An upload in progress. The stream ending is not success: `commit()` flushes, closes and makes
 * the data durable under its name; `abort()` closes and leaves the partial bytes in place
 * (resumable uploads keep partial files so REST/APPE can continue them).
 */
/**
 * An upload's file as a descriptor, for a receiver that writes it without going through the
 * handle's stream (data/native-receive: the bytes never enter JavaScript).
 */
export interface DirectTarget {
  readonly fd: number;
  /** Offset of the first byte (pwrite); null: the fd appends (O_APPEND). */
  readonly position: number | null;
}

export interface WriteHandle {
  readonly stream: Writable;
  /**
   * Optional (absent: the adapter's files are not descriptors): the file for a direct
   * receiver, once every byte written to `stream` so far is in it, with the position of the
   * next byte; null when the upload is no longer open. The writer then writes nothing more to
   * `stream`, and ends with commit() or abort() as usual, only after the receiver stopped.
   */
  direct?(): Promise<DirectTarget | null>;
  /**
   * Optional (absent: the upload is a stream that only goes forward): the bytes written to
   * `stream` after the returned promise settles go to `offset`; everything written before
   * lands where it was aimed first. Not for mode 'append'. For SFTP, whose WRITE carries an
   * offset (draft-ietf-secsh-filexfer-02 §6.4).
   */
  seek?(offset: number): Promise<void>;
  /**
   * Optional: cuts the file being written to `size` bytes or extends it with zeros, after
   * every byte written so far (SFTP FSETSTAT with a size on an open handle). The position of
   * the next write does not move.
   */
  truncate?(size: number): Promise<void>;
  commit(): Promise<void>;
  abort(reason: Error): Promise<void>;
}

export interface OpenReadOptions {
  /** Start offset in bytes (REST). Default 0. */
  readonly offset?: number;
  readonly signal?: AbortSignal;
}

/**
 * What openRead returns. `size` is the file's size when it was opened, for adapters that
 * learn it while opening (the 150 reply announces it; a stat of its own would cost another
 * path resolution per download).
 */
export type ReadSource = Readable & {
  readonly size?: number;
  /**
   * Optional: the consumer is done with `chunk` (the socket wrote it), so the adapter may read
   * into its memory again. Only chunks this stream emitted, each at most once.
   */
  release?(chunk: Buffer): void;
};

/**
 * The file system's size and free space as statvfs(3) reports it (counts of `blockSize`-byte
 * blocks), for SFTP's statvfs@openssh.com (`df` in OpenSSH's sftp).
 */
export interface SpaceInfo {
  readonly blockSize: number;
  readonly blocks: number;
  readonly freeBlocks: number;
  /** Free blocks an unprivileged writer may use. */
  readonly availableBlocks: number;
  readonly files: number;
  readonly freeFiles: number;
  /** Longest file name the file system takes. */
  readonly nameMax: number;
}

export interface StorageBackend {
  readonly capabilities: StorageCapabilities;
  /** Stat without following a final symlink out of the root. Throws StorageError NOT_FOUND. */
  stat(path: VirtualPath): Promise<Entry>;
  /** Lists a directory's entries (not "." or ".."), streamed. Throws NOT_FOUND / NOT_A_DIRECTORY. */
  list(dir: VirtualPath, options?: { signal?: AbortSignal }): AsyncIterable<Entry>;
  /** Opens a file for reading. Throws NOT_FOUND / IS_A_DIRECTORY before any byte is read. */
  openRead(path: VirtualPath, options?: OpenReadOptions): Promise<ReadSource>;
  /** Opens a file for writing; the parent directory must exist. */
  openWrite(path: VirtualPath, options: OpenWriteOptions): Promise<WriteHandle>;
  /** Removes a file (not a directory). */
  remove(path: VirtualPath): Promise<void>;
  makeDirectory(path: VirtualPath): Promise<void>;
  /** Removes an empty directory. Throws NOT_EMPTY otherwise. */
  removeDirectory(path: VirtualPath): Promise<void>;
  /** Renames a file or directory; replaces an existing target file (RFC 959 RNTO). */
  rename(from: VirtualPath, to: VirtualPath): Promise<void>;
  /** Sets the modification time (MFMT). */
  setModifiedTime(path: VirtualPath, time: Date): Promise<void>;
  /** A cheap reachability check for readiness probes. */
  ping(): Promise<void>;
  /**
   * Optional (absent: the storage has no such notion, and SFTP does not offer statvfs): size
   * and free space of the file system holding `path` (an existing entry).
   */
  space?(path: VirtualPath): Promise<SpaceInfo>;
  /**
   * Optional (absent: SFTP does not offer hardlink@openssh.com): a second name `to` for the
   * plain file `from`. Throws ALREADY_EXISTS when `to` exists, IS_A_DIRECTORY for a directory
   * and PERMISSION_DENIED for anything but a plain file; both names stay inside the root.
   */
  link?(from: VirtualPath, to: VirtualPath): Promise<void>;
  /**
   * Optional (absent: SFTP refuses a SETSTAT that changes the size): cuts an existing plain
   * file to `size` bytes, or extends it with zeros, in place (ftruncate(2)).
   */
  truncate?(path: VirtualPath, size: number): Promise<void>;
  /**
   * Optional (absent: SFTP ignores modes in SETSTAT and FTP offers no SITE CHMOD): sets the
   * permission bits (0 to 0o777) of an existing file or directory. Never through a link: a
   * final component that is a symlink is refused like everywhere else in the root.
   */
  setMode?(path: VirtualPath, mode: number): Promise<void>;
  /**
   * Optional: the session is over, free what the backend keeps between operations (the local
   * adapter's held directory handles) now rather than when it next notices it is idle. The
   * backend stays usable.
   */
  release?(): void;
}

/** Creates a backend confined to `home` (a virtual path inside the server's storage root). */
export interface StorageProvider {
  /**
   * What every backend this provider creates can do (the same for every home). Read before
   * login, when there is no backend yet: FEAT and HELP offer only what the adapter supports.
   */
  readonly capabilities: StorageCapabilities;
  forHome(home: VirtualPath): Promise<StorageBackend>;
  ping(): Promise<void>;
}
