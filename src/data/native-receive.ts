/**
 * @module data/native-receive
 * Plain binary uploads to a local file received by the native module (native/receive-file.c):
 * past its first MiB (session/handlers/transfer: a small file costs no thread), a thread per
 * upload moves the rest of the bytes from the data connection's socket to the file with
 * read(2)/write(2), and the event loop only hears of the end. Used only when nothing else
 * needs to see the bytes: no TLS (the bytes are decrypted in Node), no TYPE A conversion, no
 * audit digest tap (any 'data' listener), and a socket whose libuv reading can be stopped
 * with nothing buffered. Anything else stays on the JavaScript path (session/pump), and so
 * does every upload when the module was not built (no C compiler at install).
 *
 * The native side duplicates both fds, so neither the socket nor the file can be closed
 * under its thread; the promise settles only once the thread has written everything it read
 * and stopped, so the caller's commit (fsync, rename, 226) or abort comes strictly after.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import { abortError } from '../session/pump.js';

/** The native module's functions (native/receive-file.c documents the contract). */
export interface NativeReceiveBinding {
  start(socketFd: number, fileFd: number, position: number, done: (errno: number, bytes: number, cancelled: boolean, connection: boolean) => void): unknown;
  cancel(job: unknown): void;
  bytes(job: unknown): number;
}

/** The upload's file: storage's DirectTarget (WriteHandle.direct), seen from here. */
export interface ReceiveTarget {
  readonly fd: number;
  /** Offset of the first byte; null: the fd appends (O_APPEND). */
  readonly position: number | null;
}

/** Bytes moved so far, read by STAT, logs and metrics while the transfer runs. */
export interface ReceivedBytes {
  bytes: number;
}

/** libuv's stream handle as net.Socket keeps it (Node internals, present from Node 12 to 24). */
interface StreamHandle {
  readonly fd?: number;
  reading?: boolean;
  readStop?(): number;
  readStart?(): number;
}

const MODULE_PATH = '../../../build/kftpd-native.node';

/** Loads the module built at install (scripts/build-native.mjs); null when it is not there. */
export function loadNativeReceive(): NativeReceiveBinding | null {
  try {
    const binding = createRequire(import.meta.url)(MODULE_PATH) as Partial<NativeReceiveBinding>;
    if (typeof binding.start !== 'function' || typeof binding.cancel !== 'function' || typeof binding.bytes !== 'function') return null;
    return binding as NativeReceiveBinding;
  } catch {
    return null;
  }
}

/** The errno of the failing call as Node reports its own (code ECONNRESET, ENOSPC...). */
function systemError(errno: number, syscall: 'read' | 'write'): Error {
  let code = 'EIO';
  try {
    code = getSystemErrorName(-errno);
  } catch {
    // an errno Node does not name: reported as an I/O error
  }
  return Object.assign(new Error(`native upload receiver: ${syscall} ${code}`), { code, errno: -errno, syscall });
}

/**
 * A data connection whose reading is stopped, held for the native receiver (taken in the
 * stream's 'data' handler, so nothing more is read while the file catches up with what the
 * stream wrote): receive() hands it to a native thread, release() gives it back to the
 * stream path. Exactly one of the two takes effect; later calls do nothing.
 */
export interface HeldUpload {
  /**
   * Receives everything the client sends into `target`: resolves at the client's end of
   * stream once every byte is in the file; rejects with the errno's code (ECONNRESET: the
   * data connection's; ENOSPC, EIO...: the storage's) or an AbortError. Null (the socket
   * released to the stream path) when no thread could be started.
   */
  receive(target: ReceiveTarget, signal: AbortSignal, moved: ReceivedBytes): Promise<void> | null;
  /** libuv reads the socket again, for the stream path. */
  release(): void;
}

export class NativeReceiver {
  readonly #binding: NativeReceiveBinding;
  readonly #maxThreads: number;
  /** Held or running: a slot is taken by hold() and given back by release() or the end. */
  #taken = 0;

  /** `maxThreads`: uploads received natively at once; the ones beyond take the JavaScript path. */
  constructor(binding: NativeReceiveBinding, maxThreads: number) {
    this.#binding = binding;
    this.#maxThreads = maxThreads;
  }

  /** Uploads held or being received now. */
  get running(): number {
    return this.#taken;
  }

  /**
   * Stops libuv reading `socket` and holds it for receive(), or returns null (nothing
   * touched) when its upload cannot be received natively: not a plain TCP socket of its
   * own (TLS, a 'data' listener such as the audit digest), bytes already read into the
   * stream (a client that sent before the command: they must go first, through the
   * stream), or every slot taken.
   */
  hold(socket: Duplex): HeldUpload | null {
    if (this.#taken >= this.#maxThreads) return null;
    const handle = plainSocketHandle(socket);
    if (!handle || socket.readableLength > 0) return null;
    // Nothing can be read in between the check above and this: it is one synchronous run of
    // the event loop. The handle stays marked as reading, so that net.Socket's _read (the
    // stream asks for more on the next tick after a chunk it just delivered) does not start
    // libuv again under the native thread.
    handle.readStop?.();
    handle.reading = true;
    this.#taken++;
    let state: 'held' | 'receiving' | 'released' = 'held';
    const release = () => {
      if (state !== 'held') return;
      state = 'released';
      this.#taken--;
      // The stream may be waiting for a read it asked for before the stop (and the handle is
      // marked as reading), so reading restarts here rather than on its next demand.
      if (socket.destroyed) return;
      handle.readStart?.();
      handle.reading = true;
    };
    const receive = (target: ReceiveTarget, signal: AbortSignal, moved: ReceivedBytes): Promise<void> | null => {
      if (state !== 'held') return null;
      if (signal.aborted) {
        release();
        return null;
      }
      const started = this.#start(socket, handle, target, signal, moved);
      if (!started) {
        release();
        return null;
      }
      state = 'receiving';
      return started;
    };
    return { receive, release };
  }

  #start(socket: Duplex, handle: StreamHandle, target: ReceiveTarget, signal: AbortSignal, moved: ReceivedBytes): Promise<void> | null {
    // done() comes through the threadsafe function, never during start(): the promise's
    // resolvers are there before it can run.
    let settle!: { resolve: () => void; reject: (error: Error) => void };
    const received = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    let job: unknown;
    const onAbort = () => this.#binding.cancel(job);
    // Bytes the stream path moved before the hand-off: the count goes on from there.
    const before = moved.bytes;
    const done = (errno: number, bytes: number, cancelled: boolean, connection: boolean) => {
      this.#taken--;
      signal.removeEventListener('abort', onAbort);
      Object.defineProperty(moved, 'bytes', { value: before + bytes, writable: true, configurable: true, enumerable: true });
      const error = errno !== 0 ? systemError(errno, connection ? 'read' : 'write') : cancelled ? abortError(signal) : null;
      // The data connection failed (reset, keepalive timeout, unreachable): the socket errors
      // as it would have on the stream path, so the transfer answers 426 whatever the errno.
      if (error && connection) socket.destroy(error);
      if (error) settle.reject(error);
      else settle.resolve();
    };
    try {
      job = this.#binding.start(handle.fd ?? -1, target.fd, target.position ?? -1, done);
    } catch {
      // No thread (out of threads or fds).
      return null;
    }
    // STAT and the transfer log read the count while the thread runs.
    Object.defineProperty(moved, 'bytes', { get: () => before + this.#binding.bytes(job), set: () => undefined, configurable: true, enumerable: true });
    signal.addEventListener('abort', onAbort, { once: true });
    return received;
  }
}

/**
 * The libuv handle of a plain TCP socket that nobody else reads: not TLS, not ended or
 * destroyed, no 'data' listener (the audit digest tap), the handle's fd and readStop there.
 */
function plainSocketHandle(socket: Duplex): StreamHandle | null {
  const candidate = socket as Partial<Socket> & { _handle?: StreamHandle | null; encrypted?: boolean };
  if (candidate.encrypted === true || socket.destroyed || socket.readableEnded || socket.listenerCount('data') > 0) return null;
  const handle = candidate._handle;
  if (!handle || typeof handle.fd !== 'number' || handle.fd < 0 || typeof handle.readStop !== 'function' || typeof handle.readStart !== 'function') return null;
  return handle;
}
