/**
 * @module sftp/sftp-session
 * One SFTP session: each request of protocol/sftp-packet mapped onto the user's UserFiles,
 * so SFTP applies the same confinement, permissions, upload checks and audit as FTP; the
 * file service's coded refusals become SSH_FX_* statuses with OpenSSH's texts (sftp-status).
 */
import { randomBytes } from 'node:crypto';
import type { UserFiles } from '../files/user-files.js';
import { FX, FXF, encodeAttrs, encodeData, encodeHandle, encodeName, encodeStatus, encodeVersion, extendedReply, type SftpRequest } from '../protocol/sftp-packet.js';
import { encodeStatvfs, parseExtended, STATVFS_FLAG } from '../protocol/sftp-extended.js';
import { parentPath } from '../protocol/virtual-path.js';
import type { VirtualPath } from '../storage/types.js';
import { StorageError } from '../storage/errors.js';
import { DirCursor, ReadCursor, WriteCursor, type OpenHandle } from './sftp-handles.js';
import { entryAttrs, longName, statusFor, STATUS_TEXT } from './sftp-status.js';

export interface SftpSessionSettings {
  readonly maxOpenHandles: number;
  readonly maxPacketBytes: number;
  readonly maxReadBytes: number;
}

/** Entries per SSH_FXP_NAME reply to READDIR (OpenSSH's sftp-server sends up to 100). */
const NAMES_PER_REPLY = 100;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

class BadPath extends Error {}

export class SftpSession {
  readonly #files: UserFiles;
  readonly #settings: SftpSessionSettings;
  readonly #handles = new Map<string, OpenHandle>();
  readonly #log: (event: string, detail: Record<string, unknown>) => void;

  constructor(files: UserFiles, settings: SftpSessionSettings, log: (event: string, detail: Record<string, unknown>) => void) {
    this.#files = files;
    this.#settings = settings;
    this.#log = log;
  }

  get openHandles(): number {
    return this.#handles.size;
  }

  /** Open file handles (not directories): a transfer is under way until the client closes them. */
  get openFiles(): number {
    let n = 0;
    for (const open of this.#handles.values()) if (open.kind !== 'dir') n++;
    return n;
  }

  /**
   * The extensions OpenSSH's client looks for in VERSION before it uses them; statvfs and
   * hardlink only when the user's storage can do them (OpenSSH's sftp then says "Server does
   * not support ..." itself). Versions as OpenSSH's sftp-server announces them.
   */
  version(): Buffer {
    const space = this.#files.canReportSpace;
    return encodeVersion([
      ['posix-rename@openssh.com', '1'],
      ...(space ? ([['statvfs@openssh.com', '2'], ['fstatvfs@openssh.com', '2']] as const) : []),
      ...(this.#files.canLink ? ([['hardlink@openssh.com', '1']] as const) : []),
      ['limits@openssh.com', '1'],
      ['fsync@openssh.com', '1'],
    ]);
  }

  /** Answers one request (never throws). */
  async handle(request: SftpRequest): Promise<Buffer> {
    if (request.type === 'init') return this.version();
    const id = request.id ?? 0;
    try {
      return await this.#dispatch(request, id);
    } catch (error) {
      if (error instanceof BadPath) return encodeStatus(id, FX.NO_SUCH_FILE, STATUS_TEXT[FX.NO_SUCH_FILE]);
      const code = statusFor(error);
      if (code === FX.FAILURE && !(error instanceof StorageError)) this.#log('sftp.request-failed', { request: request.type, err: error });
      return encodeStatus(id, code, STATUS_TEXT[code]);
    }
  }

  #path(raw: Buffer): VirtualPath {
    let text: string;
    try {
      text = UTF8.decode(raw);
    } catch {
      // Names are UTF-8 in every storage adapter: other bytes cannot name an existing file.
      throw new BadPath();
    }
    return this.#files.resolve('/', text);
  }

  async #dispatch(request: Exclude<SftpRequest, { type: 'init' }>, id: number): Promise<Buffer> {
    const ok = () => encodeStatus(id, FX.OK, STATUS_TEXT[FX.OK]);
    switch (request.type) {
      case 'realpath': {
        const path = this.#path(request.path);
        return encodeName(id, [{ filename: path, longname: path, attrs: {} }]);
      }
      case 'stat':
      case 'lstat':
        return encodeAttrs(id, entryAttrs(await this.#files.stat(this.#path(request.path))));
      case 'fstat': {
        const open = this.#get(request.handle);
        if (!open || open.kind === 'dir') return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
        return encodeAttrs(id, entryAttrs(await this.#files.stat(open.cursor.path)));
      }
      case 'open': {
        const path = this.#path(request.path);
        // "name/" names a directory (open(2): ENOTDIR for a file, EISDIR for a directory);
        // the virtual path lost the slash.
        if (request.path.length > 1 && request.path[request.path.length - 1] === 0x2f) {
          const code = (await this.#files.stat(path)).type === 'directory' ? FX.FAILURE : FX.NO_SUCH_FILE;
          return encodeStatus(id, code, STATUS_TEXT[code]);
        }
        return this.#open(id, path, request.flags);
      }
      case 'read': {
        const open = this.#get(request.handle);
        if (open?.kind !== 'read') return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
        const data = await open.cursor.read(request.offset, Math.min(request.length, this.#settings.maxReadBytes));
        return data ? encodeData(id, data.chunks) : encodeStatus(id, FX.EOF, STATUS_TEXT[FX.EOF]);
      }
      case 'write': {
        const open = this.#get(request.handle);
        if (open?.kind !== 'write') return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
        await open.cursor.write(request.offset, request.data);
        return ok();
      }
      case 'close': {
        const key = request.handle.toString('hex');
        const open = this.#handles.get(key);
        if (!open) return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
        this.#handles.delete(key);
        if (open.kind === 'write') {
          try {
            await open.cursor.close();
          } catch (error) {
            this.#account(open, 'failed', error);
            throw error;
          }
          this.#account(open, 'ok');
        } else {
          open.cursor.close();
          this.#account(open, 'ok');
        }
        return ok();
      }
      case 'opendir': {
        const path = this.#path(request.path);
        const entry = await this.#files.stat(path);
        if (entry.type !== 'directory') return encodeStatus(id, FX.NO_SUCH_FILE, STATUS_TEXT[FX.NO_SUCH_FILE]);
        return this.#register(id, { kind: 'dir', cursor: new DirCursor(this.#files.list(path)), path });
      }
      case 'readdir': {
        const open = this.#get(request.handle);
        if (open?.kind !== 'dir') return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
        const entries = await open.cursor.next(NAMES_PER_REPLY);
        if (entries.length === 0) return encodeStatus(id, FX.EOF, STATUS_TEXT[FX.EOF]);
        return encodeName(id, entries.map((e) => ({ filename: e.name, longname: longName(e), attrs: entryAttrs(e) })));
      }
      case 'setstat':
      case 'fsetstat': {
        const open = request.type === 'fsetstat' ? this.#get(request.handle) : undefined;
        const path = request.type === 'setstat' ? this.#path(request.path) : open?.kind === 'dir' ? open.path : open?.cursor.path;
        if (path === undefined) return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
        // In OpenSSH's order: the size (paramiko truncate; through the handle when it is an
        // upload under way), the times (sftp -p, rclone), then the mode (chmod, sftp -p; needs
        // "chmod", where the storage has modes), so a refused mode leaves the time set. Owner
        // and group are accepted and ignored: the server's uid owns what it stores.
        const { size } = request.attrs;
        if (size !== undefined) {
          if (open?.kind === 'write') await open.cursor.truncate(size);
          else await this.#files.truncate(path, size);
        }
        if (request.attrs.mtime !== undefined) {
          const entry = await this.#files.stat(path);
          if (entry.type === 'file') await this.#files.setModifiedTime(path, new Date(request.attrs.mtime * 1000));
        }
        if (request.attrs.permissions !== undefined && this.#files.canSetMode) await this.#files.setMode(path, request.attrs.permissions);
        return ok();
      }
      case 'mkdir':
        await this.#files.makeDirectory(this.#path(request.path));
        return ok();
      case 'rmdir':
        await this.#files.removeDirectory(this.#path(request.path));
        return ok();
      case 'remove': {
        const path = this.#path(request.path);
        if ((await this.#files.stat(path)).type === 'directory') return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
        await this.#files.remove(path);
        return ok();
      }
      case 'rename':
        // draft-02 §6.5: fail if the target exists (posix-rename@openssh.com replaces).
        await this.#files.rename(this.#path(request.from), this.#path(request.to), { replace: false });
        return ok();
      case 'readlink':
      case 'symlink':
        // Links could lead out of a user's home on a shared tree: never created nor followed.
        return encodeStatus(id, FX.OP_UNSUPPORTED, STATUS_TEXT[FX.OP_UNSUPPORTED]);
      case 'extended':
        return this.#extended(id, request.name, request.body);
      case 'unknown':
        return encodeStatus(id, FX.OP_UNSUPPORTED, STATUS_TEXT[FX.OP_UNSUPPORTED]);
      case 'malformed':
        return encodeStatus(id, FX.BAD_MESSAGE, STATUS_TEXT[FX.BAD_MESSAGE]);
    }
  }

  async #extended(id: number, name: string, body: Buffer): Promise<Buffer> {
    const ext = parseExtended(name, body);
    switch (ext.type) {
      case 'posix-rename':
        await this.#files.rename(this.#path(ext.from), this.#path(ext.to), { replace: true });
        return encodeStatus(id, FX.OK, STATUS_TEXT[FX.OK]);
      case 'fsync': {
        // Uploads are made durable by the storage adapter when they are committed (storage.fsync).
        const open = this.#get(ext.handle);
        return open ? encodeStatus(id, FX.OK, STATUS_TEXT[FX.OK]) : encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
      }
      case 'statvfs':
        return this.#statvfs(id, this.#path(ext.path));
      case 'fstatvfs': {
        const open = this.#get(ext.handle);
        if (!open) return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
        return this.#statvfs(id, open.kind === 'dir' ? open.path : open.cursor.path);
      }
      case 'hardlink':
        await this.#files.link(this.#path(ext.from), this.#path(ext.to));
        return encodeStatus(id, FX.OK, STATUS_TEXT[FX.OK]);
      case 'limits': {
        const { maxPacketBytes, maxReadBytes, maxOpenHandles } = this.#settings;
        return extendedReply(id).uint64(maxPacketBytes).uint64(maxReadBytes).uint64(maxReadBytes).uint64(maxOpenHandles).finish();
      }
      case 'malformed':
        return encodeStatus(id, FX.BAD_MESSAGE, STATUS_TEXT[FX.BAD_MESSAGE]);
      case 'unknown':
        return encodeStatus(id, FX.OP_UNSUPPORTED, STATUS_TEXT[FX.OP_UNSUPPORTED]);
    }
  }

  /** statvfs@openssh.com: the storage's figures, read-only for a user who may not upload. */
  async #statvfs(id: number, path: VirtualPath): Promise<Buffer> {
    const space = await this.#files.space(path);
    return encodeStatvfs(id, {
      bsize: space.blockSize,
      frsize: space.blockSize,
      blocks: space.blocks,
      bfree: space.freeBlocks,
      bavail: space.availableBlocks,
      files: space.files,
      ffree: space.freeFiles,
      favail: space.freeFiles,
      fsid: 0,
      flag: STATVFS_FLAG.NOSUID | (this.#files.may('upload') ? 0 : STATVFS_FLAG.RDONLY),
      namemax: space.nameMax,
    });
  }

  async #open(id: number, path: VirtualPath, flags: number): Promise<Buffer> {
    if (this.#handles.size >= this.#settings.maxOpenHandles) {
      this.#log('sftp.handles-exhausted', { max: this.#settings.maxOpenHandles });
      return encodeStatus(id, FX.FAILURE, `Too many open handles (at most ${this.#settings.maxOpenHandles} per session)`);
    }
    if (!(flags & FXF.WRITE)) {
      // CREAT and EXCL without WRITE (paramiko's "x"): open(2) still creates, or refuses an
      // existing file, as OpenSSH's server passes the flags on.
      if (flags & FXF.CREAT) await this.#createForRead(path, (flags & FXF.EXCL) !== 0);
      const source = await this.#files.stat(path);
      if (source.type !== 'file') return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
      this.#files.require('download', path);
      return this.#register(id, { kind: 'read', cursor: new ReadCursor(this.#files, path, source.size) });
    }
    const existing = await this.#files.stat(path).catch(() => null);
    if (existing && flags & FXF.CREAT && flags & FXF.EXCL) return encodeStatus(id, FX.FAILURE, STATUS_TEXT[FX.FAILURE]);
    if (!existing && !(flags & FXF.CREAT)) return encodeStatus(id, FX.NO_SUCH_FILE, STATUS_TEXT[FX.NO_SUCH_FILE]);
    if (!existing) {
      const parent = await this.#files.stat(parentPath(path)).catch(() => null);
      if (parent?.type !== 'directory') return encodeStatus(id, FX.NO_SUCH_FILE, STATUS_TEXT[FX.NO_SUCH_FILE]);
    }
    const mode = flags & FXF.APPEND ? 'append' : flags & FXF.TRUNC || !existing ? 'overwrite' : 'update';
    // Permissions and the target's type are checked now, before the client sends data.
    await this.#files.prepareUpload(path, mode === 'append' ? 'append' : 'update', 0);
    const cursor = new WriteCursor(this.#files, path, mode, existing !== null);
    if (mode !== 'update') await cursor.start();
    return this.#register(id, { kind: 'write', cursor });
  }

  async #createForRead(path: VirtualPath, exclusive: boolean): Promise<void> {
    const existing = await this.#files.stat(path).catch(() => null);
    if (existing && exclusive) throw new StorageError('ALREADY_EXISTS', 'file exists');
    if (existing) return;
    const handle = await (await this.#files.prepareUpload(path, 'create', 0))();
    await handle.commit();
  }

  #register(id: number, open: OpenHandle): Buffer {
    const handle = randomBytes(8);
    this.#handles.set(handle.toString('hex'), open);
    return encodeHandle(id, handle);
  }

  #get(handle: Buffer): OpenHandle | undefined {
    return this.#handles.get(handle.toString('hex'));
  }

  /** The session ended: open reads stop, unfinished uploads are aborted. */
  async closeAll(): Promise<void> {
    const open = [...this.#handles.values()];
    this.#handles.clear();
    for (const h of open) {
      if (h.kind === 'write') await h.cursor.abort();
      else h.cursor.close();
      this.#account(h, 'aborted');
    }
  }

  /** A closed file handle is a finished transfer (files/transfer-accounting), if it moved data or was an upload. */
  #account(open: OpenHandle, result: 'ok' | 'aborted' | 'failed', error?: unknown): void {
    if (open.kind === 'dir') return;
    const cursor = open.cursor;
    const upload = open.kind === 'write';
    if (!upload && cursor.bytes === 0) return;
    this.#files.recordTransfer(
      {
        protocol: 'sftp',
        direction: upload ? 'upload' : 'download',
        command: upload ? 'SFTP WRITE' : 'SFTP READ',
        path: cursor.path,
        bytes: cursor.bytes,
        durationMs: Date.now() - cursor.startedAt,
        result,
        offset: Math.max(0, cursor.firstOffset),
      },
      error,
    );
  }
}
