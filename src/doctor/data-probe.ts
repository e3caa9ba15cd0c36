/**
 * @module doctor/data-probe
 * The data side of one `kftpd doctor` probe: watches an already connected passive data
 * connection (optionally wrapped in TLS, resuming the control connection's session as RFC 4217
 * §10 clients should) until it closes, and records what it saw: whether TLS came up, whether
 * the session was resumed, how many bytes arrived. "Closed before TLS or any byte" is the
 * fingerprint of a connection the balancer accepted but could not hand to the right replica.
 * Every wait is bounded.
 */
import type net from 'node:net';
import tls from 'node:tls';

export interface DataWatch {
  /** TLS handshake completed (PROT P only). */
  readonly secure: boolean;
  /** The TLS session was resumed (client view). */
  readonly resumed: boolean;
  readonly bytes: number;
  /** The socket/TLS error, if any (the close after it is normal). */
  readonly error: string | null;
  /** The watch ended by timeout, not by a close. */
  readonly timedOut: boolean;
  /** ms from the start of the watch to the close. */
  readonly ms: number;
}

export interface WatchOptions {
  /** PROT P: client TLS options, `session` set to the control connection's session. */
  readonly tls?: tls.ConnectionOptions;
  readonly timeoutMs: number;
}

/**
 * Starts watching at once (with TLS, the handshake starts right after the TCP connect, as curl
 * and basic-ftp do). Resolves when the connection closes or at the timeout (then destroys it).
 * Never rejects.
 */
export function watchData(socket: net.Socket, options: WatchOptions): Promise<DataWatch> {
  const start = Date.now();
  const stream: net.Socket = options.tls ? tls.connect({ ...options.tls, socket }) : socket;
  let secure = false;
  let resumed = false;
  let bytes = 0;
  let error: string | null = null;
  return new Promise((resolve) => {
    let done = false;
    const finish = (timedOut: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.destroy();
      socket.destroy();
      resolve({ secure, resumed, bytes, error, timedOut, ms: Date.now() - start });
    };
    const timer = setTimeout(() => finish(true), options.timeoutMs);
    if (stream instanceof tls.TLSSocket) {
      stream.once('secureConnect', () => {
        secure = true;
        resumed = stream.isSessionReused();
      });
    }
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('error', (err: Error) => {
      error ??= err.message;
    });
    stream.once('close', () => finish(false));
    socket.once('close', () => setImmediate(() => finish(false)));
  });
}
