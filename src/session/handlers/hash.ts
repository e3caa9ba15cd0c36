/**
 * @module session/handlers/hash
 * File digests so a client can verify a transfer end to end: HASH with OPTS HASH and RANG
 * (draft-bryan-ftpext-hash-02, draft-bryan-ftp-range-08), and the older XCRC, XMD5, XSHA1,
 * XSHA256 and XSHA512 that FileZilla, ProFTPD (mod_digest), Serv-U and their clients use.
 *
 * Hashing streams the file from storage (never whole in memory), runs under runTransfer (so
 * ABOR aborts it, STAT reports its progress and the idle timer does not fire), waits for one
 * of limits.maxConcurrentHashes server-wide slots, and needs the download permission: a
 * digest reveals as much about a file as reading it.
 */
import { createHash } from 'node:crypto';
import { Crc32 } from '../../core/crc32.js';
import {
  formatHashFeat,
  formatHashReply,
  parseHashAlgorithm,
  parseRangArgument,
  parseXHashArgument,
  type HashAlgorithm,
} from '../../protocol/hash-reply.js';
import { ReplyCode } from '../../protocol/reply.js';
import { StorageError } from '../../storage/errors.js';
import type { ReadSource } from '../../storage/types.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';

/** Node's names for the draft's algorithms (CRC32 is ours, see core/crc32.ts). */
const NODE_ALGORITHMS: Readonly<Record<Exclude<HashAlgorithm, 'CRC32'>, string>> = {
  'SHA-256': 'sha256',
  'SHA-512': 'sha512',
  'SHA-1': 'sha1',
  MD5: 'md5',
};

interface Digest {
  update(chunk: Buffer): void;
  hex(): string;
}

function createDigest(algorithm: HashAlgorithm, upperCrc: boolean): Digest {
  if (algorithm === 'CRC32') {
    const crc = new Crc32();
    return {
      update: (chunk) => crc.update(chunk),
      hex: () => (upperCrc ? crc.digestHex() : crc.digestHex().toLowerCase()),
    };
  }
  const hash = createHash(NODE_ALGORITHMS[algorithm]);
  return { update: (chunk) => hash.update(chunk), hex: () => hash.digest('hex') };
}

interface HashRequest {
  readonly verb: string;
  readonly algorithm: HashAlgorithm;
  readonly path: string;
  /** First byte. */
  readonly start: number;
  /** One past the last byte; undefined: the end of the file. */
  readonly end?: number;
  /** XCRC answers upper-case hex, like its peers. */
  readonly upperCrc: boolean;
}

/**
 * Checks and hashes one file. Answers every failure itself and returns null then; on success
 * returns the digest and the range actually hashed (the end is capped at the file size).
 */
async function hashFile(ctx: SessionContext, request: HashRequest): Promise<{ hex: string; start: number; end: number } | null> {
  if (!ctx.checkPermission('download')) return null;
  const { storage } = ctx.user();
  const entry = await storage.stat(request.path);
  if (entry.type !== 'file') {
    // draft-bryan-ftpext-hash-02 §3.5: the hash of a directory is not defined (553); the older
    // X* commands answer 550 like their peers.
    ctx.reply(request.verb === 'HASH' && entry.type === 'directory' ? ReplyCode.FileNameNotAllowed : ReplyCode.FileUnavailable, 'Not a plain file.');
    return null;
  }
  const end = Math.min(request.end ?? entry.size, entry.size);
  if (request.start > entry.size || request.start > end) {
    ctx.reply(ReplyCode.InvalidRestart, 'Invalid byte range.');
    return null;
  }
  let hashed = 0;
  const progress = { command: request.verb, path: request.path, startedAt: ctx.deps.clock.now(), bytes: () => hashed };
  const started = Date.now();
  const outcome = await ctx.runTransfer(progress, async (signal) => {
    let release: (() => void) | null = null;
    let source: ReadSource | null = null;
    try {
      release = (await ctx.deps.hashSlots?.acquire(signal)) ?? null;
      const digest = createDigest(request.algorithm, request.upperCrc);
      let left = end - request.start;
      if (left > 0) {
        source = await storage.openRead(request.path, { offset: request.start, signal });
        const stream = source;
        const onAbort = () => stream.destroy(Object.assign(new Error('hash aborted'), { code: 'ABORT_ERR' }));
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
            digest.update(part);
            left -= part.length;
            hashed += part.length;
            // The adapter may read into this chunk's memory again (storage/types.ts ReadSource).
            stream.release?.(chunk);
            if (left <= 0) break;
          }
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
        if (signal.aborted) return 'aborted' as const;
        // A file that shrank while being hashed: the digest would not be of the range announced.
        if (left > 0) throw new StorageError('UNAVAILABLE', 'file shorter than its size while hashing');
      }
      return { hex: digest.hex(), start: request.start, end };
    } catch (error) {
      if (signal.aborted) return 'aborted' as const;
      throw error;
    } finally {
      source?.destroy();
      release?.();
    }
  });
  ctx.log.info({ event: 'hash', verb: request.verb, algorithm: request.algorithm, path: request.path, bytes: hashed, durationMs: Date.now() - started, result: outcome === 'aborted' ? 'aborted' : 'ok' }, 'file hashed');
  if (outcome === 'aborted') {
    // RFC 959 §4.1.3 ABOR: the aborted command is answered 426, ABOR itself 226.
    ctx.reply(ReplyCode.TransferAborted, 'Hash aborted.');
    return null;
  }
  return outcome;
}

/** REST applies to the next transfer command (RFC 3659 §5.3); HASH takes it as its start. */
function takeRestOffset(ctx: SessionContext): number {
  const offset = ctx.state.restOffset;
  ctx.state.restOffset = 0;
  return offset;
}

async function hash(ctx: SessionContext, arg: string): Promise<void> {
  const range = ctx.state.hashRange;
  ctx.state.hashRange = null;
  const rest = takeRestOffset(ctx);
  if (arg === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'HASH needs a path.');
    return;
  }
  const path = ctx.resolvePath(arg);
  if (path === null) return;
  // RANG (inclusive end) wins over REST; without either, the whole file.
  const start = range ? range.start : rest;
  const result = await hashFile(ctx, {
    verb: 'HASH',
    algorithm: ctx.state.hashAlgorithm,
    path,
    start,
    ...(range ? { end: range.end + 1 } : {}),
    upperCrc: false,
  });
  if (!result) return;
  // draft-bryan-ftpext-hash-02 §3: 213 <algorithm> <start>-<end> <hash> <pathname>, the end
  // being the last byte hashed (§3.4: "RANG 0 49" answers "0-49", a 100-byte file "0-99").
  // An empty range still needs end >= start, so an empty file answers "0-0".
  const last = Math.max(result.start, result.end - 1);
  ctx.reply(ReplyCode.FileStatus, formatHashReply({ algorithm: ctx.state.hashAlgorithm, start: result.start, end: last, hex: result.hex, path: arg }));
}

function rang(ctx: SessionContext, arg: string): void {
  const parsed = parseRangArgument(arg);
  if (!parsed) {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'RANG needs a start and an end byte (end >= start).');
    return;
  }
  // draft-bryan-ftp-range-08 §3: RANG and REST exclude each other; "RANG 1 0" resets.
  ctx.state.restOffset = 0;
  if (parsed.kind === 'reset') {
    ctx.state.hashRange = null;
    ctx.reply(ReplyCode.PendingFurtherInfo, 'Restarting at 0. Ending at EOF.');
    return;
  }
  ctx.state.hashRange = { start: parsed.start, end: parsed.end };
  ctx.reply(ReplyCode.PendingFurtherInfo, `Restarting at ${parsed.start}. Ending at ${parsed.end}. Send HASH.`);
}

/** OPTS HASH [algorithm] (draft §3.1), called from the OPTS handler in params.ts. */
export function optsHash(ctx: SessionContext, value: string): void {
  if (value === '') {
    ctx.reply(ReplyCode.Ok, ctx.state.hashAlgorithm);
    return;
  }
  const algorithm = parseHashAlgorithm(value);
  if (!algorithm) {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'Unknown algorithm, current selection not changed.');
    return;
  }
  ctx.state.hashAlgorithm = algorithm;
  ctx.reply(ReplyCode.Ok, algorithm);
}

/** The FEAT line, with the session's selection starred. */
export function hashFeatLine(ctx: SessionContext): string {
  return formatHashFeat(ctx.state.hashAlgorithm);
}

/** XCRC/XMD5/XSHA1/XSHA256/XSHA512 "<path>" [start [end]]: 250 <hex> (ProFTPD mod_digest). */
function xhash(verb: string, algorithm: HashAlgorithm) {
  return async (ctx: SessionContext, arg: string): Promise<void> => {
    const parsed = parseXHashArgument(arg);
    if (!parsed) {
      ctx.reply(ReplyCode.ArgumentSyntaxError, `${verb} needs a path.`);
      return;
    }
    let { path: text, start, end } = parsed;
    // Unquoted "name 1" may be a file called "name 1" rather than "name" from byte 1.
    if (!parsed.quoted && start !== undefined) {
      const whole = ctx.resolvePath(arg.trim());
      if (whole !== null && (await ctx.user().storage.stat(whole).then((e) => e.type === 'file', () => false))) {
        text = arg.trim();
        start = undefined;
        end = undefined;
      }
    }
    const path = ctx.resolvePath(text);
    if (path === null) return;
    const result = await hashFile(ctx, { verb, algorithm, path, start: start ?? 0, ...(end !== undefined ? { end } : {}), upperCrc: true });
    if (result) ctx.reply(ReplyCode.FileActionOk, result.hex);
  };
}

function wrapNotFound(handler: (ctx: SessionContext, arg: string) => Promise<void>) {
  return async (ctx: SessionContext, arg: string): Promise<void> => {
    try {
      await handler(ctx, arg);
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NOT_FOUND') {
        ctx.reply(ReplyCode.FileUnavailable, 'No such file.');
        return;
      }
      throw error;
    }
  };
}

export const HASH_COMMANDS: readonly CommandSpec[] = [
  // draft-bryan-ftpext-hash-02 §3.1; RANG applies to HASH only, so no "RANG STREAM".
  { verb: 'HASH', requiresLogin: true, syntax: 'HASH <path>', keepsRange: true, feat: hashFeatLine, handle: wrapNotFound(hash) },
  { verb: 'RANG', requiresLogin: true, syntax: 'RANG <start> <end>', keepsRange: true, handle: rang },
  { verb: 'XCRC', requiresLogin: true, syntax: 'XCRC "<path>" [start [end]]', handle: wrapNotFound(xhash('XCRC', 'CRC32')) },
  { verb: 'XMD5', requiresLogin: true, syntax: 'XMD5 "<path>" [start [end]]', handle: wrapNotFound(xhash('XMD5', 'MD5')) },
  { verb: 'XSHA1', requiresLogin: true, syntax: 'XSHA1 "<path>" [start [end]]', handle: wrapNotFound(xhash('XSHA1', 'SHA-1')) },
  { verb: 'XSHA256', requiresLogin: true, syntax: 'XSHA256 "<path>" [start [end]]', handle: wrapNotFound(xhash('XSHA256', 'SHA-256')) },
  { verb: 'XSHA512', requiresLogin: true, syntax: 'XSHA512 "<path>" [start [end]]', handle: wrapNotFound(xhash('XSHA512', 'SHA-512')) },
];
