/**
 * @module session/ascii
 * TYPE A conversion (RFC 959 §3.1.1.1): the network form ends lines with CRLF, the stored
 * form (POSIX) with LF. Streaming transforms, correct when a CR/LF pair is split between chunks.
 */
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;

/** Stored -> network: a bare LF becomes CRLF; an existing CRLF is left alone. */
export function createToNetworkAscii(): Transform {
  let previous = -1;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      let extra = 0;
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] === LF && (i > 0 ? chunk[i - 1] : previous) !== CR) extra++;
      }
      if (extra === 0) {
        previous = chunk.length > 0 ? (chunk[chunk.length - 1] ?? -1) : previous;
        callback(null, chunk);
        return;
      }
      const out = Buffer.allocUnsafe(chunk.length + extra);
      let j = 0;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i] as number;
        if (byte === LF && (i > 0 ? chunk[i - 1] : previous) !== CR) out[j++] = CR;
        out[j++] = byte;
      }
      previous = chunk[chunk.length - 1] ?? previous;
      callback(null, out);
    },
  });
}

/** Network -> stored: CRLF becomes LF; a lone CR is kept. */
export function createFromNetworkAscii(): Transform {
  let pendingCr = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const out = Buffer.allocUnsafe(chunk.length + 1);
      let j = 0;
      let i = 0;
      if (pendingCr) {
        pendingCr = false;
        if (chunk[0] !== LF) out[j++] = CR;
      }
      for (; i < chunk.length; i++) {
        const byte = chunk[i] as number;
        if (byte === CR) {
          if (i === chunk.length - 1) {
            pendingCr = true; // decide when the next chunk arrives
            continue;
          }
          if (chunk[i + 1] === LF) continue;
        }
        out[j++] = byte;
      }
      callback(null, out.subarray(0, j));
    },
    flush(callback: TransformCallback) {
      callback(null, pendingCr ? Buffer.from([CR]) : undefined);
    },
  });
}
