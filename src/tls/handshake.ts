/**
 * @module tls/handshake
 * Waiting for the server side of a TLS handshake, bounded by a timeout and an abort signal.
 */
import type tls from 'node:tls';

/** Resolves once `executor` resolves; rejects on timeout or abort. Cleans up in every case. */
export function settleWithin<T>(
  executor: (resolve: (value: T) => void, reject: (error: Error) => void) => () => void,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup = () => {};
    const finish = (action: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      cleanup();
      action();
    };
    const onAbort = () => finish(() => reject(new Error('aborted')));
    const timer = setTimeout(() => finish(() => reject(new Error('TLS handshake timed out'))), timeoutMs);
    if (signal?.aborted) {
      finish(() => reject(new Error('aborted')));
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    cleanup = executor(
      (value) => finish(() => resolve(value)),
      (error) => finish(() => reject(error)),
    );
  });
}

/**
 * The client closed its side (a clean FIN, no reset) before the handshake completed. A client
 * that has nothing to upload may do exactly that: some (basic-ftp with a resumed session) take
 * the cached session's cipher as "connected" and end the stream before the server's flight.
 */
export class HandshakeEndedError extends Error {
  readonly code = 'TLS_HANDSHAKE_EOF';
  constructor() {
    super('client closed the connection during the TLS handshake');
  }
}

/** Waits for the server side of a TLS handshake on `socket`. */
export function serverHandshake(socket: tls.TLSSocket, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return settleWithin<void>(
    (resolve, reject) => {
      const onSecure = () => resolve();
      const onError = (error: Error) => reject(error);
      const onEnd = () => reject(new HandshakeEndedError());
      const onClose = () => reject(new Error('connection closed during the TLS handshake'));
      socket.once('secure', onSecure);
      socket.once('error', onError);
      socket.once('end', onEnd);
      socket.once('close', onClose);
      return () => {
        socket.off('secure', onSecure);
        socket.off('error', onError);
        socket.off('end', onEnd);
        socket.off('close', onClose);
      };
    },
    timeoutMs,
    signal,
  );
}
