/**
 * @module session/pump
 * Moves the bytes of a binary transfer from a Readable to a Writable with backpressure, and
 * settles once the destination has finished (every byte handed to the kernel or the file).
 * It does what stream.pipeline does for two streams, without pipeline's per-call cost: an
 * AbortController that pipeline always aborts on completion (building a DOMException), the
 * end-of-stream bookkeeping on every stream and the extra ticks; for a 4 KiB file that was
 * about a tenth of the server's CPU per transfer.
 */
import type { Readable, Writable } from 'node:stream';

/** Bytes moved so far by a transfer: counted from the chunks themselves, whatever the streams are. */
export interface MovedBytes {
  bytes: number;
}

/**
 * Counts the chunks `stream` emits into `moved`, for the conversions that go through
 * stream.pipeline (TYPE A) rather than pump. A 'data' listener beside pipeline's own sees the
 * same chunks; attach it in the same tick as the pipeline so none is missed.
 */
export function countChunks(stream: NodeJS.ReadableStream, moved: MovedBytes): void {
  stream.on('data', (chunk: Buffer | string) => {
    moved.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
  });
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/** The error a transfer aborted through its signal (ABOR, session end) rejects with. */
export function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}

/**
 * Offers the rest of the source to another mover once `after` bytes went through the pump
 * (an upload past its first MiB, to the native receiver): `take` runs once, synchronously,
 * with the pump's own listeners off; true means it took the source, and the pump then
 * resolves 'handed-off' without ending the destination (what was written stays written).
 */
export interface Handoff {
  readonly after: number;
  take(): boolean;
}

/** How a pump ended: the source's end reached the destination, or the rest was handed off. */
export type PumpOutcome = 'ended' | 'handed-off';

/** Nothing may turn a late error of a settled transfer into an uncaught exception. */
function ignore(): void {}

/**
 * Pipes `source` into `dest`. A source with a release() method (local files) gets every chunk
 * back once `dest` has written it, to read into the same memory again. On failure (either stream errors or closes early, or `signal`
 * aborts) both streams are destroyed and the promise rejects with the first error. `moved`
 * counts every byte handed to `dest` (the transfer's byte count for logs, metrics and STAT:
 * it does not depend on the storage adapter's stream type).
 */
export function pump(source: Readable & { release?(chunk: Buffer): void }, dest: Writable, signal: AbortSignal, moved?: MovedBytes, handoff?: Handoff): Promise<PumpOutcome> {
  return new Promise<PumpOutcome>((resolve, reject) => {
    let settled = false;
    let passed = 0;
    let offer = handoff;
    const cleanup = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('close', onSourceClose);
      dest.off('drain', onDrain);
      dest.off('finish', onFinish);
      dest.off('close', onDestClose);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      // Without an error argument: the streams' own error listeners already saw the cause.
      source.destroy();
      dest.destroy();
      reject(error);
    };
    // A source with reusable buffers gets each chunk back once the destination has let go of it.
    const release = source.release?.bind(source);
    const onData = (chunk: Buffer) => {
      if (moved) moved.bytes += chunk.length;
      passed += chunk.length;
      const more = release ? dest.write(chunk, () => release(chunk)) : dest.write(chunk);
      if (offer && passed >= offer.after && handOff(offer)) return;
      if (!more) {
        source.pause();
        dest.once('drain', onDrain);
      }
    };
    const handOff = (taker: Handoff): boolean => {
      offer = undefined;
      source.off('data', onData);
      if (!taker.take()) {
        source.on('data', onData);
        return false;
      }
      settled = true;
      cleanup();
      resolve('handed-off');
      return true;
    };
    const onDrain = () => source.resume();
    const onEnd = () => {
      dest.end();
    };
    const onFinish = () => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve('ended');
    };
    const onSourceClose = () => {
      if (!source.readableEnded) fail((source.errored) ?? prematureClose());
    };
    const onDestClose = () => fail((dest.errored) ?? prematureClose());
    const onAbort = () => fail(abortError(signal));

    if (signal.aborted) {
      onAbort();
      return;
    }
    if (dest.destroyed || dest.writableEnded) {
      fail((dest.errored) ?? prematureClose());
      return;
    }
    if (source.destroyed && !source.readableEnded) {
      fail((source.errored) ?? prematureClose());
      return;
    }
    source.on('error', fail);
    source.on('error', ignore);
    dest.on('error', fail);
    dest.on('error', ignore);
    source.on('end', onEnd);
    source.on('close', onSourceClose);
    dest.on('finish', onFinish);
    dest.on('close', onDestClose);
    signal.addEventListener('abort', onAbort, { once: true });
    if (source.readableEnded) {
      dest.end();
      return;
    }
    source.on('data', onData);
    // A source paused by its producer (a data socket held until the transfer command) flows now.
    source.resume();
  });
}
