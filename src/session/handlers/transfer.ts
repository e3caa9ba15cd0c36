/**
 * @module session/handlers/transfer
 * File transfer commands: RETR, STOR, STOU, APPE, ABOR (RFC 959 §4.1.3) and REST STREAM
 * (RFC 3659 §5). A download or upload is answered 550/553 before 150 when the storage side
 * cannot be opened; everything after 150 goes through session/data-transfer.ts.
 */
import { finished, pipeline } from 'node:stream/promises';
import { ReplyCode } from '../../protocol/reply.js';
import { baseName, joinPath, parentPath } from '../../protocol/virtual-path.js';
import { StorageError } from '../../storage/errors.js';
import type { Duplex } from 'node:stream';
import type { WriteHandle, WriteMode } from '../../storage/types.js';
import { createFromNetworkAscii, createToNetworkAscii } from '../ascii.js';
import { storageCapabilities } from '../capabilities.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';
import type { HeldUpload } from '../ports.js';
import { runDataTransfer } from '../data-transfer.js';
import { countChunks, pump, type MovedBytes } from '../pump.js';

/** Bytes of an upload streamed before the rest is offered to the direct receiver. */
const DIRECT_AFTER_BYTES = 1024 * 1024;

/** How many candidate names STOU tries before giving up. */
const MAX_UNIQUE_NAME_ATTEMPTS = 100;

function modeName(ctx: SessionContext): string {
  return ctx.state.type === 'A' ? 'ASCII' : 'BINARY';
}

/** REST applies to the next transfer command only (RFC 3659 §5.3). */
function takeRestOffset(ctx: SessionContext): number {
  const offset = ctx.state.restOffset;
  ctx.state.restOffset = 0;
  return offset;
}

function rest(ctx: SessionContext, arg: string): void {
  const value = arg.trim();
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'REST needs a byte offset.');
    return;
  }
  ctx.state.restOffset = Number(value);
  ctx.reply(ReplyCode.PendingFurtherInfo, `Restarting at ${value}. Send STOR or RETR.`);
}

async function retr(ctx: SessionContext, arg: string): Promise<void> {
  const offset = takeRestOffset(ctx);
  if (arg === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'RETR needs a path.');
    return;
  }
  const path = ctx.resolvePath(arg);
  if (path === null) return;
  const { storage } = ctx.user();
  // openRead checks the type and learns the size itself; a separate stat first would cost
  // another path resolution per download.
  const source = await ctx.files().openRead(path, offset);
  const ascii = ctx.state.type === 'A';
  const size = source.size ?? (await storage.stat(path).catch(() => null))?.size ?? offset;
  const remaining = Math.max(0, size - offset);
  // Counted from the chunks read from storage (not an adapter stream's own counter, which
  // only the local adapter's streams have): what the logs, metrics and STAT report.
  const moved: MovedBytes = { bytes: 0 };
  await runDataTransfer(ctx, {
    command: 'RETR',
    direction: 'download',
    path,
    offset,
    openingText: `Opening ${modeName(ctx)} mode data connection for ${baseName(path)} (${remaining} bytes).`,
    successText: 'Transfer complete.',
    bytes: () => moved.bytes,
    pump: async (socket, signal) => {
      if (!ascii) {
        await pump(source, socket, signal, moved);
        return;
      }
      // TYPE A: the file's bytes, before the LF -> CRLF conversion.
      countChunks(source, moved);
      return pipeline(source, createToNetworkAscii(), socket, { signal });
    },
    cleanup: async () => {
      source.destroy();
    },
  });
}

interface UploadTarget {
  readonly path: string;
  /**
   * Opens the storage side. Called only once the data connection is established (and
   * secured), so a refused or failed connection never truncates an existing file.
   */
  readonly open: () => Promise<WriteHandle>;
}

/**
 * Checks an upload before 150 and returns how to open it: the file service's rules (files/
 * user-files), its refusals answered 550/553/554 by the session's error mapping.
 */
function prepareUpload(ctx: SessionContext, path: string, mode: WriteMode, offset: number): Promise<() => Promise<WriteHandle>> {
  return ctx.files().prepareUpload(path, mode, offset);
}

async function upload(ctx: SessionContext, command: string, target: UploadTarget, offset: number, openingText: string, successText: string): Promise<void> {
  const { path } = target;
  const ascii = ctx.state.type === 'A';
  let handle: WriteHandle | null = null;
  // Counted from the chunks handed to storage, whatever the adapter's write stream is.
  const moved: MovedBytes = { bytes: 0 };
  const opened = (): WriteHandle => {
    if (!handle) throw new Error('upload not opened');
    return handle;
  };
  await runDataTransfer(ctx, {
    command,
    direction: 'upload',
    path,
    offset,
    openingText,
    successText,
    open: async () => {
      handle = await target.open();
    },
    bytes: () => moved.bytes,
    pump: async (socket, signal) => {
      const sink = opened().stream;
      if (socket.readableEnded) {
        // The client sent nothing and closed before the file was opened (a 0-byte upload):
        // an ended stream has no unread bytes, so the file is simply empty.
        sink.end();
        await finished(sink);
        return;
      }
      if (!ascii) return receiveBinary(ctx, socket, opened(), signal, moved);
      // TYPE A: the file's bytes, after the CRLF -> LF conversion.
      const convert = createFromNetworkAscii();
      countChunks(convert, moved);
      return pipeline(socket, convert, sink, { signal });
    },
    // 226 only once every byte is on storage and the file is closed.
    finish: () => opened().commit(),
    cleanup: async (reason) => {
      await handle?.abort(reason);
    },
  });
}

/**
 * A binary upload: streamed, and once past its first MiB handed to the direct (native)
 * receiver when the data-channel manager has one and the storage gives its file: a small file
 * costs no thread, a big one no JavaScript per chunk. Refused (TLS, the audit digest's tap, no
 * slot left), the stream goes on.
 */
async function receiveBinary(ctx: SessionContext, socket: Duplex, handle: WriteHandle, signal: AbortSignal, moved: MovedBytes): Promise<void> {
  const { data } = ctx.deps;
  let held: HeldUpload | null = null;
  const handoff = data.holdUpload && handle.direct ? { after: DIRECT_AFTER_BYTES, take: () => (held = data.holdUpload?.(socket) ?? null) !== null } : undefined;
  const outcome = await pump(socket, handle.stream, signal, moved, handoff);
  const taken = held as HeldUpload | null;
  if (outcome === 'ended' || !taken) return;
  let target;
  try {
    target = await handle.direct?.();
  } finally {
    if (!target) taken.release();
  }
  const received = target ? taken.receive(target, signal, moved) : null;
  // No thread after all: the stream takes the rest (release() restarted the socket's reading).
  if (!received) {
    await pump(socket, handle.stream, signal, moved);
    return;
  }
  await received;
}

async function stor(ctx: SessionContext, arg: string): Promise<void> {
  const offset = takeRestOffset(ctx);
  if (arg === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'STOR needs a path.');
    return;
  }
  const path = ctx.resolvePath(arg);
  if (path === null) return;
  const open = await prepareUpload(ctx, path, offset > 0 ? 'resume' : 'overwrite', offset);
  await upload(ctx, 'STOR', { path, open }, offset, `Ok to send data for ${baseName(path)}.`, 'Transfer complete.');
}

async function appe(ctx: SessionContext, arg: string): Promise<void> {
  takeRestOffset(ctx); // APPE always writes at the end of the file
  if (arg === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'APPE needs a path.');
    return;
  }
  const path = ctx.resolvePath(arg);
  if (path === null) return;
  const open = await prepareUpload(ctx, path, 'append', 0);
  await upload(ctx, 'APPE', { path, open }, 0, `Ok to append data to ${baseName(path)}.`, 'Transfer complete.');
}

async function stou(ctx: SessionContext, arg: string): Promise<void> {
  takeRestOffset(ctx);
  if (!ctx.checkPermission('upload')) return;
  // RFC 959 STOU takes no argument; like vsftpd, an argument is used as the name prefix.
  const requested = arg === '' ? null : ctx.resolvePath(arg);
  if (arg !== '' && requested === null) return;
  const dir = requested ? parentPath(requested) : ctx.state.cwd;
  const stem = requested ? baseName(requested) : 'file';
  const { storage } = ctx.user();
  for (let attempt = 0; attempt < MAX_UNIQUE_NAME_ATTEMPTS; attempt++) {
    const name = attempt === 0 ? stem : `${stem}.${attempt}`;
    const path = joinPath(dir, name);
    let handle: WriteHandle;
    try {
      handle = await storage.openWrite(path, { mode: 'create' });
    } catch (error) {
      if (error instanceof StorageError && error.code === 'ALREADY_EXISTS') continue;
      throw error;
    }
    // RFC 1123 §4.1.2.9: the 150 reply carries "FILE: <name>".
    // The unique name must be reserved before 150 announces it; the file is new and empty.
    const reserved = handle;
    try {
      await upload(ctx, 'STOU', { path, open: async () => reserved }, 0, `FILE: ${name}`, `Transfer complete (unique file name: ${name}).`);
    } finally {
      // The handle is open before the transfer starts: when the transfer ends before asking
      // for it (no PASV/EPSV, PROT P required, data connection failed) nothing else closes
      // it, and the fd would leak. abort() after a commit or an abort does nothing.
      await reserved.abort(new Error('STOU ended')).catch(() => undefined);
    }
    return;
  }
  ctx.reply(ReplyCode.FileNameNotAllowed, 'Could not create a unique file name.');
}

async function abor(ctx: SessionContext): Promise<void> {
  // RFC 959 §4.1.3: with a transfer running, 426 answers it (sent by the transfer) then 226.
  // Without one (it may have just ended), any prepared data connection is closed: 226.
  if (await ctx.abortTransfer()) {
    ctx.reply(ReplyCode.ClosingDataSuccess, 'ABOR successful.');
    return;
  }
  ctx.resetDataEndpoint();
  ctx.reply(ReplyCode.ClosingDataSuccess, 'No transfer to abort; data connection closed.');
}

function restFeat(ctx: SessionContext): string | undefined {
  const capabilities = storageCapabilities(ctx);
  return capabilities.resumeRead || capabilities.resumeWrite ? 'REST STREAM' : undefined;
}

export const TRANSFER_COMMANDS: readonly CommandSpec[] = [
  // RFC 3659 §5: restart by byte offset, advertised when the storage can resume reads or writes.
  { verb: 'REST', requiresLogin: true, syntax: 'REST <offset>', feat: restFeat, handle: rest },
  { verb: 'RETR', requiresLogin: true, syntax: 'RETR <path>', handle: retr },
  { verb: 'STOR', requiresLogin: true, syntax: 'STOR <path>', handle: stor },
  { verb: 'APPE', requiresLogin: true, syntax: 'APPE <path>', enabled: (ctx) => storageCapabilities(ctx).append, handle: appe },
  { verb: 'STOU', requiresLogin: true, syntax: 'STOU [prefix]', handle: stou },
  { verb: 'ABOR', requiresLogin: true, syntax: 'ABOR', duringTransfer: true, handle: abor },
];
