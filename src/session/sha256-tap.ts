/**
 * @module session/sha256-tap
 * SHA-256 of the bytes crossing a data connection, for the audit log (log.auditSha256),
 * without a stage in the pipe: the tap wraps the socket's own `emit('data')` (uploads: the
 * chunks every consumer receives) or `write` (downloads: the chunks handed to the socket).
 * Flow control, backpressure and the transfer code are untouched, so it works with
 * stream.pipeline and session/pump.ts alike. The cost is the hash itself (about 1-2 GB/s per
 * core), which is why the setting is off by default.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Duplex } from 'node:stream';

export interface Sha256Tap {
  /** The hex digest; removes the tap. Call once, after the transfer. */
  finish(): string;
}

function update(hash: Hash, chunk: unknown): void {
  if (typeof chunk === 'string') hash.update(chunk, 'utf8');
  else if (chunk instanceof Uint8Array) hash.update(chunk);
}

/** Hashes what `socket` emits ('read', uploads) or is given ('write', downloads). */
export function tapSha256(socket: Duplex, side: 'read' | 'write'): Sha256Tap {
  const hash = createHash('sha256');
  type Method = (...args: unknown[]) => unknown;
  // Own properties shadowing the prototype's methods; removed again by finish().
  const target = socket as unknown as Record<'emit' | 'write' | 'end', Method>;
  const key = side === 'read' ? 'emit' : 'write';
  const original = target[key];
  const originalEnd = target.end;
  if (side === 'read') {
    target.emit = function (this: unknown, event: unknown, ...args: unknown[]) {
      if (event === 'data') update(hash, args[0]);
      return original.call(this, event, ...args);
    };
  } else {
    target.write = function (this: unknown, chunk: unknown, ...args: unknown[]) {
      update(hash, chunk);
      return original.call(this, chunk, ...args);
    };
    target.end = function (this: unknown, chunk?: unknown, ...args: unknown[]) {
      if (chunk !== undefined && typeof chunk !== 'function') update(hash, chunk);
      return originalEnd.call(this, chunk, ...args);
    };
  }
  let digest: string | null = null;
  return {
    finish() {
      if (digest === null) {
        digest = hash.digest('hex');
        // Back to the prototype's methods (the own properties were ours).
        const own = target as Partial<Record<'emit' | 'write' | 'end', Method>>;
        delete own[key];
        if (side === 'write') delete own.end;
      }
      return digest;
    },
  };
}
