/**
 * @module session/data-transfer
 * The one path every data-channel command takes (RETR, STOR, STOU, APPE, LIST, NLST, MLSD):
 * 150 first (RFC 959 §5.4; clients that connect late must work), then the data connection,
 * then streaming with backpressure, then 226 only once the transfer is complete on both
 * sides, or 425/426/451/452/552 otherwise. Exactly one final reply per command.
 */
import type { Duplex } from 'node:stream';
import { ReplyCode } from '../protocol/reply.js';
import { isStorageError, StorageError } from '../storage/errors.js';
import type { DataEndpoint, SessionContext } from './context.js';
import type { TransferDirection, TransferResult } from './ports.js';
import { errorCode, mapErrorToReply } from './reply-map.js';
import { audit } from './audit.js';
import { accountTransfer } from '../files/transfer-accounting.js';
import { tapSha256, type Sha256Tap } from './sha256-tap.js';

export interface DataTransferSpec {
  readonly command: string;
  readonly direction: TransferDirection;
  readonly path: string;
  readonly offset: number;
  /** Text of the 150 reply. */
  readonly openingText: string;
  /** Text of the 226 reply. */
  readonly successText: string;
  /** Moves the bytes; resolves when the data is complete on both ends. */
  pump(socket: Duplex, signal: AbortSignal): Promise<void>;
  /**
   * Opens the storage side once the data connection is ready (uploads: a refused data
   * connection must not truncate the file). A failure answers with the mapped storage reply.
   */
  open?(): Promise<void>;
  /** Bytes moved so far (storage side). */
  bytes(): number;
  /** Called after a successful pump: commit an upload. Errors here answer 451/452/552. */
  finish?(): Promise<void>;
  /** Called on any failure: close the read stream or abort the write handle. */
  cleanup(reason: Error): Promise<void>;
}

/** Errnos that mean the storage side failed even when they surface through a stream. */
const STORAGE_ERRNOS: Readonly<Record<string, StorageError['code']>> = {
  ENOSPC: 'NO_SPACE',
  EDQUOT: 'QUOTA_EXCEEDED',
  EIO: 'UNAVAILABLE',
  EFBIG: 'QUOTA_EXCEEDED',
};

function asStorageFailure(error: unknown): StorageError {
  if (isStorageError(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const mapped = typeof code === 'string' ? STORAGE_ERRNOS[code] : undefined;
  return new StorageError(mapped ?? 'UNAVAILABLE', 'storage failure during transfer', { cause: error });
}

async function connectData(ctx: SessionContext, endpoint: DataEndpoint, signal: AbortSignal): Promise<Duplex> {
  switch (endpoint.kind) {
    case 'passive':
      try {
        return await endpoint.lease.accept(signal);
      } finally {
        // One connection per PASV/EPSV (RFC 959 §3.2): the port goes back to the pool.
        endpoint.lease.close();
      }
    case 'active':
      return ctx.deps.data.connectActive(
        { host: endpoint.host, port: endpoint.port, controlLocalAddress: ctx.deps.control.localAddress },
        signal,
      );
    case 'none':
      throw new Error('no data endpoint');
  }
}

/**
 * Runs a data transfer. The caller has already validated the request and opened the storage
 * side, so "file not found" and friends are answered before 150.
 */
export async function runDataTransfer(ctx: SessionContext, spec: DataTransferSpec): Promise<void> {
  const endpoint = ctx.takeDataEndpoint();
  const startedAt = ctx.deps.clock.now();
  const progress = { command: spec.command, path: spec.path, startedAt, bytes: () => spec.bytes() };
  await ctx.runTransfer(progress, async (signal) => {
    let result: TransferResult = 'failed';
    let socket: Duplex | null = null;
    // What the data socket reported ('error' events carry an Error), or the client's early
    // close. A field, not a variable: the listeners set it, which narrowing cannot see.
    const dataSide: { error: Error | null } = { error: null };
    let failureCode: string | undefined;
    let sha: Sha256Tap | null = null;
    try {
      if (endpoint.kind === 'none') {
        await spec.cleanup(new Error('no data endpoint'));
        ctx.reply(ReplyCode.CantOpenData, 'Use PASV or EPSV first.');
        return;
      }
      if (ctx.deps.settings.tlsData === 'required' && ctx.state.prot !== 'P') {
        if (endpoint.kind === 'passive') endpoint.lease.close();
        await spec.cleanup(new Error('PROT P required'));
        ctx.log.warn({ event: 'tls.data-clear-refused' }, 'clear-text data connection refused by policy');
        ctx.reply(ReplyCode.DataProtectionRequired, 'Data connections must be protected: send PBSZ 0 and PROT P.');
        return;
      }
      ctx.reply(ReplyCode.FileStatusOk, spec.openingText);
      try {
        socket = await connectData(ctx, endpoint, signal);
      } catch (error) {
        ctx.log.warn({ event: 'data.connect-failed', code: errorCode(error), err: error }, 'data connection failed');
        failureCode = errorCode(error);
        await spec.cleanup(error instanceof Error ? error : new Error(String(error)));
        if (signal.aborted) {
          result = 'aborted';
          ctx.reply(ReplyCode.TransferAborted, 'Transfer aborted.');
        } else {
          ctx.reply(ReplyCode.CantOpenData, 'Failed to establish data connection.');
        }
        return;
      }
      // The TCP connection itself, under TLS too: where an upload's end is told from a reset.
      const tcp = socket;
      if (ctx.state.prot === 'P') {
        const secured = await protect(ctx, socket, signal, spec.direction);
        if (!secured) {
          socket.destroy();
          await spec.cleanup(new Error('data connection TLS refused'));
          result = signal.aborted ? 'aborted' : 'failed';
          return;
        }
        // Errors of the TCP connection under the TLS socket (the reset probe's EPIPE among
        // them) are the data side's, not unhandled ones.
        tcp.on('error', (error) => {
          dataSide.error ??= error;
        });
        socket = secured;
      }
      const dataSocket = socket;
      // log.auditSha256: the whole file's digest for the audit log, from the bytes on the
      // data connection (binary type, no REST offset: otherwise it would not be the file's).
      if (ctx.deps.audit?.sha256 && spec.direction !== 'list' && spec.offset === 0 && ctx.state.type === 'I') {
        sha = tapSha256(dataSocket, spec.direction === 'upload' ? 'read' : 'write');
      }
      dataSocket.on('error', (error) => {
        dataSide.error ??= error;
      });
      if (spec.direction !== 'upload') {
        // Nothing is expected from the client on a download, but reading is how a close
        // (FIN or reset) is noticed: then the transfer fails with 426 instead of hanging.
        const onClientEnd = () => {
          // Once our side has ended (all data written, FIN queued) the client's close is the
          // normal end of a download, however the two crossed on the wire.
          if (dataSocket.writableEnded) return;
          dataSide.error ??= Object.assign(new Error('data connection closed by the client'), { code: 'ECONNRESET' });
          dataSocket.destroy(dataSide.error);
        };
        // A client that closed before the command came: its end was read already (the socket
        // is half-open, so nothing ended our side for us).
        if (dataSocket.readableEnded) onClientEnd();
        else dataSocket.on('end', onClientEnd);
        dataSocket.resume();
      }
      if (spec.open) {
        try {
          await spec.open();
        } catch (error) {
          ctx.replyError(error, spec.command);
          return;
        }
      }
      try {
        // Destroyed after a clean end is a short upload that already arrived; anything else is a loss.
        if (dataSocket.destroyed && (!dataSocket.readableEnded || dataSocket.errored)) throw Object.assign(new Error('data connection closed by the client'), { code: 'ECONNRESET' });
        await spec.pump(dataSocket, signal);
        // A download is complete once the pump finished; a close seen after that is normal.
        if (dataSide.error && spec.direction === 'upload') throw dataSide.error;
        if (spec.direction === 'upload') await confirmNotReset(tcp);
        if (spec.finish) await spec.finish();
        result = 'ok';
        ctx.reply(ReplyCode.ClosingDataSuccess, spec.successText);
      } catch (error) {
        const reason = error instanceof Error ? error : new Error(String(error));
        await spec.cleanup(reason).catch(() => undefined);
        failureCode = signal.aborted ? 'ABORTED' : errorCode(error);
        if (signal.aborted) {
          result = 'aborted';
          // RFC 959 §4.1.3 ABOR: 426 for the aborted command, then 226 for ABOR itself.
          ctx.reply(ReplyCode.TransferAborted, 'Transfer aborted.');
        } else if ((dataSide.error !== null && !isStorageError(error) && !isStorageErrno(error)) || isDataSideError(error, dataSocket)) {
          ctx.log.warn({ event: 'data.failed', code: errorCode(error), err: error }, 'data connection failed');
          ctx.reply(ReplyCode.TransferAborted, 'Connection closed; transfer aborted.');
        } else {
          const failure = asStorageFailure(error);
          ctx.log.error({ event: 'storage.failed', code: errorCode(failure), err: error }, 'storage failed during transfer');
          const mapped = mapErrorToReply(failure);
          ctx.reply(mapped.code, mapped.text);
        }
      }
    } finally {
      if (socket) closeDataSocket(socket, result === 'ok');
      const durationMs = ctx.deps.clock.now().getTime() - startedAt.getTime();
      const record = {
        protocol: 'ftp' as const,
        direction: spec.direction,
        command: spec.command,
        path: spec.path,
        bytes: spec.bytes(),
        durationMs,
        result,
        offset: spec.offset,
      };
      const login = ctx.state.login;
      accountTransfer(
        {
          metrics: ctx.deps.metrics,
          log: ctx.log,
          ...(ctx.deps.transferLog ? { transferLog: ctx.deps.transferLog } : {}),
          audit: (event, auditResult, detail) => audit(ctx, event, auditResult, detail),
        },
        record,
        login.phase === 'logged-in'
          ? { user: login.principal.name, anonymous: login.principal.anonymous, remoteAddress: ctx.deps.control.remoteAddress, ascii: ctx.state.type === 'A' }
          : null,
        { endedAt: ctx.deps.clock.now(), ...(failureCode ? { code: failureCode } : {}), ...(spec.direction !== 'list' ? digestOf(sha) : {}) },
      );
    }
  });
}

const NOTHING = Buffer.alloc(0);

/**
 * An upload's end of stream, checked on the TCP connection (half-open: data-connector), under
 * TLS too: a zero-length write tells the client's close (FIN: the write succeeds) from a reset
 * (RST: EPIPE or ECONNRESET), which libuv reports as the same end of stream after a partial
 * read. A reset is a broken upload: 426, never 226 for the bytes that happened to arrive.
 * Skipped when the connection is already gone (an empty TLS upload closed in the handshake).
 */
function confirmNotReset(socket: Duplex): Promise<void> {
  if (socket.destroyed || socket.writableEnded) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.write(NOTHING, (error) => {
      if (error) reject(Object.assign(new Error('data connection reset by the client', { cause: error }), { code: 'ECONNRESET' }));
      else resolve();
    });
  });
}

/** The audit log's sha256 of the whole file, when one was computed. */
function digestOf(sha: Sha256Tap | null): { sha256?: string } {
  const digest = sha?.finish();
  return digest ? { sha256: digest } : {};
}

/**
 * PROT P: the TLS handshake on the data connection and the session-reuse policy. Answers the
 * command itself (522, or 426 on ABOR) and returns null when the connection is refused.
 */
async function protect(ctx: SessionContext, raw: Duplex, signal: AbortSignal, direction: DataTransferSpec['direction']): Promise<Duplex | null> {
  let secured;
  try {
    secured = await ctx.deps.tls.secureData(raw, signal, direction !== 'upload');
    // An empty upload from a client that ends the stream as soon as it believes the
    // handshake done (basic-ftp with a resumed session): nothing was sent, nothing is lost.
    if (secured.endedBeforeHandshake && direction !== 'upload') throw new Error('client closed the data connection during the TLS handshake');
  } catch (error) {
    if (signal.aborted) {
      ctx.reply(ReplyCode.TransferAborted, 'Transfer aborted.');
      return null;
    }
    ctx.deps.metrics.tlsHandshake('data', false);
    ctx.deps.metrics.tlsDataRefused('handshake-failed');
    ctx.log.warn({ event: 'tls.data-handshake-failed', err: error }, 'data connection TLS handshake failed');
    ctx.reply(ReplyCode.TlsNegotiationFailed, 'TLS negotiation on the data connection failed.');
    return null;
  }
  if (secured.endedBeforeHandshake) {
    ctx.log.info({ event: 'tls.data-ended-before-handshake' }, 'empty upload: the client closed the data connection before the TLS handshake ended');
    raw.destroy();
    return secured.socket;
  }
  ctx.deps.metrics.tlsHandshake('data', true);
  const policy = ctx.deps.settings.tlsSessionReuse;
  if (secured.sibling) ctx.log.debug({ event: 'tls.data-resumed-sibling', protocol: secured.protocol }, 'data connection resumed a sibling control connection\'s TLS session');
  if (!secured.resumed && policy !== 'disabled') {
    // Without this check anyone who reaches the passive port first can take the file
    // (vsftpd's require_ssl_reuse, ProFTPD's default). Allowed: the session's own TLS
    // session, or one of the same user's from the same address (tls/resumption-registry).
    const detail = { event: 'tls.data-not-resumed', protocol: secured.protocol, reason: secured.refusal ?? 'fresh-handshake' };
    if (policy === 'enforced') {
      ctx.deps.metrics.tlsDataRefused('not-resumed');
      ctx.deps.guard?.report('data-refused');
      ctx.log.warn(detail, 'data connection refused: TLS session not resumed');
      secured.socket.destroy();
      // The setting is named so a client's operator knows what to ask for (a client that
      // cannot resume TLS sessions, such as Python's stock ftplib, needs tls.sessionReuse: enabled).
      ctx.reply(ReplyCode.TlsNegotiationFailed, 'Data connection must resume the TLS session of the control connection (tls.sessionReuse: enforced).');
      return null;
    }
    ctx.log.warn({ ...detail, enforced: false }, 'data connection TLS session not resumed');
  }
  return secured.socket;
}

/**
 * A native storage errno (ENOSPC...) from an adapter stream: stream.pipeline also destroys the
 * socket with it, so the socket's error must not make it look like a lost connection (426).
 */
function isStorageErrno(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in STORAGE_ERRNOS;
}

/** Errors raised by the data socket itself (reset, closed early) rather than by storage. */
function isDataSideError(error: unknown, socket: Duplex): boolean {
  if (isStorageError(error)) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE') return true;
  return socket.destroyed && !(typeof code === 'string' && code in STORAGE_ERRNOS);
}

function closeDataSocket(socket: Duplex, graceful: boolean): void {
  if (graceful && !socket.destroyed) {
    // Downloads have ended the writer side already (end() again would build an
    // ERR_STREAM_ALREADY_FINISHED error for nothing); uploads send their FIN here. Then make
    // sure the socket is released promptly.
    if (!socket.writableEnded) socket.end();
    setImmediate(() => socket.destroy());
  } else {
    socket.destroy();
  }
}
