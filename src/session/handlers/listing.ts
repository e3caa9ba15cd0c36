/**
 * @module session/handlers/listing
 * Directory listings: LIST and NLST (RFC 959 §4.1.3), MLSD and MLST (RFC 3659 §7), and
 * STAT (RFC 959 §4.1.3) in its server, file and directory forms. Listings stream from
 * storage in batches; nothing holds a whole directory in memory.
 */
import { Readable } from 'node:stream';
import { formatListLine, formatMlsxLine, formatMlstFeat, MLST_FACTS, type MlstFact } from '../../protocol/listing.js';
import { ReplyCode, sanitizeReplyText } from '../../protocol/reply.js';
import { compileGlob, hasGlob } from '../../protocol/glob.js';
import { baseName, parentPath } from '../../protocol/virtual-path.js';
import { formatReplicaStatus } from '../../protocol/replica-status.js';
import { StorageError } from '../../storage/errors.js';
import type { Entry, StorageBackend } from '../../storage/types.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';
import { runDataTransfer } from '../data-transfer.js';
import { pump } from '../pump.js';

export const DEFAULT_MLST_FACTS: readonly MlstFact[] = MLST_FACTS;

/** Lines are written to the data socket in batches of about this many bytes. */
const LISTING_BATCH_BYTES = 64 * 1024;

/** `ls` options clients put in LIST/NLST arguments ("-la", "-a dir"). */
const LS_OPTIONS = /^-[a-zA-Z1]+$/;

/**
 * Splits "-la dir" into the path part. A leading token that looks like ls options is dropped
 * unless a file of exactly that name exists (names may start with a dash).
 */
async function listTarget(ctx: SessionContext, arg: string): Promise<string> {
  let rest = arg;
  for (;;) {
    const match = /^(\S+)(?:\s+|$)/.exec(rest);
    if (!match || !LS_OPTIONS.test(match[1] ?? '')) return rest;
    const candidate = ctx.resolvePath(rest);
    if (candidate !== null && (await exists(ctx.user().storage, candidate))) return rest;
    rest = rest.slice(match[0].length);
  }
}

async function exists(storage: StorageBackend, path: string): Promise<boolean> {
  return storage.stat(path).then(
    () => true,
    () => false,
  );
}

type LineFormatter = (entry: Entry) => string;

/**
 * Groups lines into ~64 KiB buffers; the consumer pulls one at a time (backpressure reaches
 * storage.list), so a directory of any size costs one batch of memory. Past `maxEntries`
 * (limits.maxListEntries, 0: none) the listing fails: the transfer answers 451.
 */
async function* batched(lines: AsyncIterable<string>, maxEntries = 0): AsyncGenerator<Buffer> {
  let batch = '';
  let count = 0;
  for await (const line of lines) {
    if (maxEntries > 0 && ++count > maxEntries) {
      throw new StorageError('UNAVAILABLE', `listing has more than ${maxEntries} entries (limits.maxListEntries)`);
    }
    batch += `${line}\r\n`;
    if (batch.length >= LISTING_BATCH_BYTES) {
      yield Buffer.from(batch, 'utf8');
      batch = '';
    }
  }
  if (batch.length > 0) yield Buffer.from(batch, 'utf8');
}

async function* directoryLines(storage: StorageBackend, dir: string, format: LineFormatter, signal: AbortSignal, first?: string): AsyncGenerator<string> {
  if (first !== undefined) yield first;
  for await (const entry of storage.list(dir, { signal })) yield format(entry);
}

/** Resolves the listing target; answers 550 (and returns null) when it does not exist. */
async function statTarget(ctx: SessionContext, arg: string): Promise<{ path: string; entry: Entry } | null> {
  const path = ctx.resolvePath(arg);
  if (path === null) return null;
  try {
    return { path, entry: await ctx.user().storage.stat(path) };
  } catch (error) {
    if (error instanceof StorageError && error.code === 'NOT_FOUND') {
      ctx.reply(ReplyCode.FileUnavailable, 'No such file or directory.');
      return null;
    }
    throw error;
  }
}

async function sendListing(ctx: SessionContext, command: string, path: string, lines: (signal: AbortSignal) => AsyncIterable<string>): Promise<void> {
  let bytes = 0;
  await runDataTransfer(ctx, {
    command,
    direction: 'list',
    path,
    offset: 0,
    openingText: 'Here comes the directory listing.',
    successText: 'Directory send OK.',
    bytes: () => bytes,
    pump: async (socket, signal) => {
      const source = Readable.from(
        (async function* () {
          for await (const chunk of batched(lines(signal), ctx.deps.settings.maxListEntries)) {
            bytes += chunk.length;
            yield chunk;
          }
        })(),
      );
      // pump, not stream.pipeline: pipeline aborts an AbortController of its own on every
      // completion (a DOMException with a stack trace), a measurable share of a short session.
      await pump(source, socket, signal);
    },
    cleanup: async () => undefined,
  });
}

function lsFormatter(ctx: SessionContext): LineFormatter {
  const now = ctx.deps.clock.now();
  return (entry) => formatListLine(entry, now);
}

/**
 * What LIST/NLST lists: a directory, one file, or the entries of a directory matching a
 * shell pattern in the last component ("NLST *.csv", as classic clients send for mget).
 */
type ListSelection =
  | { readonly kind: 'entry'; readonly path: string; readonly entry: Entry }
  | { readonly kind: 'glob'; readonly path: string; readonly pattern: RegExp; readonly prefix: string };

async function selectForList(ctx: SessionContext, arg: string): Promise<ListSelection | null> {
  const text = await listTarget(ctx, arg);
  const path = ctx.resolvePath(text);
  if (path === null) return null;
  const name = baseName(path);
  const { storage } = ctx.user();
  try {
    return { kind: 'entry', path, entry: await storage.stat(path) };
  } catch (error) {
    if (!(error instanceof StorageError) || error.code !== 'NOT_FOUND') throw error;
    const pattern = hasGlob(name) ? compileGlob(name) : null;
    const dir = parentPath(path);
    const parent = pattern ? await storage.stat(dir).catch(() => null) : null;
    if (!pattern || parent?.type !== 'directory') {
      ctx.reply(ReplyCode.FileUnavailable, 'No such file or directory.');
      return null;
    }
    // Names come back with the directory part the client typed, so RETR of each one works.
    const slash = text.lastIndexOf('/');
    return { kind: 'glob', path: dir, pattern, prefix: slash === -1 ? '' : text.slice(0, slash + 1) };
  }
}

function selectionLines(ctx: SessionContext, selection: ListSelection, format: LineFormatter, signal: AbortSignal): AsyncIterable<string> {
  const { storage } = ctx.user();
  if (selection.kind === 'glob') {
    return (async function* () {
      for await (const entry of storage.list(selection.path, { signal })) {
        if (selection.pattern.test(entry.name)) yield format({ ...entry, name: selection.prefix + entry.name });
      }
    })();
  }
  if (selection.entry.type === 'directory') return directoryLines(storage, selection.path, format, signal);
  const entry = selection.entry;
  return (async function* () {
    yield format(entry);
  })();
}

async function list(ctx: SessionContext, arg: string): Promise<void> {
  if (!ctx.checkPermission('list')) return;
  const selection = await selectForList(ctx, arg);
  if (!selection) return;
  const format = lsFormatter(ctx);
  await sendListing(ctx, 'LIST', selection.path, (signal) => selectionLines(ctx, selection, format, signal));
}

async function nlst(ctx: SessionContext, arg: string): Promise<void> {
  if (!ctx.checkPermission('list')) return;
  const selection = await selectForList(ctx, arg);
  if (!selection) return;
  // RFC 959 §4.1.3: NLST sends names only, one per line.
  // A name containing CR/LF must not forge extra lines (LIST and MLSD replace them too).
  await sendListing(ctx, 'NLST', selection.path, (signal) => selectionLines(ctx, selection, (entry) => sanitizeReplyText(entry.name), signal));
}

async function mlsd(ctx: SessionContext, arg: string): Promise<void> {
  if (!ctx.checkPermission('list')) return;
  const target = await statTarget(ctx, arg);
  if (!target) return;
  if (target.entry.type !== 'directory') {
    // RFC 3659 §7.2.1: MLSD on a non-directory is a permanent error.
    ctx.reply(ReplyCode.FileUnavailable, 'Not a directory.');
    return;
  }
  const { storage, principal } = ctx.user();
  const facts = ctx.state.mlstFacts;
  const cdir = formatMlsxLine(target.entry, '.', facts, principal.permissions, { typeOverride: 'cdir' });
  await sendListing(ctx, 'MLSD', target.path, (signal) =>
    directoryLines(storage, target.path, (entry) => formatMlsxLine(entry, entry.name, facts, principal.permissions), signal, cdir),
  );
}

async function mlst(ctx: SessionContext, arg: string): Promise<void> {
  if (!ctx.checkPermission('list')) return;
  const target = await statTarget(ctx, arg);
  if (!target) return;
  const { principal } = ctx.user();
  const options = target.entry.type === 'directory' ? { typeOverride: 'cdir' as const } : {};
  const line = formatMlsxLine(target.entry, target.path, ctx.state.mlstFacts, principal.permissions, options);
  // RFC 3659 §7.2: the fact line is sent over the control connection, starting with a space.
  ctx.reply(ReplyCode.FileActionOk, [`Listing ${target.path}`, ` ${line}`, 'End']);
}

async function stat(ctx: SessionContext, arg: string): Promise<void> {
  const transfer = ctx.state.transfer;
  if (arg === '' || transfer) {
    const login = ctx.state.login;
    const lines = [
      `${ctx.deps.settings.serverName} status:`,
      `Connected to ${ctx.deps.control.localAddress} from ${ctx.deps.control.remoteAddress}`,
      login.phase === 'logged-in' ? `Logged in as ${login.principal.name}` : 'Not logged in',
      // Which replica and passive slice (for `kftpd doctor`); logged-in users only, who see
      // ports of the slice in every PASV reply anyway.
      ...(login.phase === 'logged-in' && ctx.deps.settings.replica ? [formatReplicaStatus(ctx.deps.settings.replica)] : []),
      `TYPE: ${ctx.state.type === 'A' ? 'ASCII' : 'BINARY'}, STRUcture: File, MODE: Stream`,
    ];
    if (transfer) {
      // RFC 959 §4.1.3: STAT during a transfer reports its progress.
      lines.push(`${transfer.command} ${transfer.path}: ${transfer.bytes()} bytes transferred`);
    } else {
      lines.push('No data transfer in progress');
    }
    lines.push('End of status');
    ctx.reply(ReplyCode.SystemStatus, lines);
    return;
  }
  if (ctx.state.login.phase !== 'logged-in') {
    ctx.reply(ReplyCode.NotLoggedIn, 'Please login with USER and PASS.');
    return;
  }
  if (!ctx.checkPermission('list')) return;
  const target = await statTarget(ctx, await listTarget(ctx, arg));
  if (!target) return;
  const format = lsFormatter(ctx);
  const lines = [`Status of ${target.path}:`];
  if (target.entry.type === 'directory') {
    // Over the control connection, so bounded: a huge directory is cut off with a note.
    for await (const entry of ctx.user().storage.list(target.path)) {
      if (lines.length > STAT_MAX_LINES) {
        lines.push('... (listing truncated; use LIST)');
        break;
      }
      lines.push(format(entry));
    }
  } else {
    lines.push(format({ ...target.entry, name: baseName(target.path) }));
  }
  lines.push('End of status');
  ctx.reply(target.entry.type === 'directory' ? ReplyCode.DirectoryStatus : ReplyCode.FileStatus, lines);
}

const STAT_MAX_LINES = 10_000;

export const LISTING_COMMANDS: readonly CommandSpec[] = [
  { verb: 'LIST', requiresLogin: true, syntax: 'LIST [path]', handle: list },
  { verb: 'NLST', requiresLogin: true, syntax: 'NLST [path]', handle: nlst },
  { verb: 'MLSD', requiresLogin: true, syntax: 'MLSD [path]', handle: mlsd },
  { verb: 'MLST', requiresLogin: true, syntax: 'MLST [path]', feat: (ctx) => `MLST ${formatMlstFeat(ctx.state.mlstFacts)}`, handle: mlst },
  { verb: 'STAT', requiresLogin: false, syntax: 'STAT [path]', duringTransfer: true, handle: stat },
];
