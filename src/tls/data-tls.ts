/**
 * @module tls/data-tls
 * The TLS handshake on an FTPS data connection (RFC 4217 §7, PROT P). Before the TLS socket is
 * built, the ClientHello is read from the raw socket (and given back to it), so the context
 * that can open the offered ticket is known: the session's own, a sibling's (same user, same
 * client address, this replica), or none, in which case the handshake is a full one and the
 * session-reuse policy decides (see tls/resumption-registry).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import tls from 'node:tls';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello, type ClientHelloResumption } from '../protocol/tls-client-hello.js';
import { HandshakeEndedError, serverHandshake, settleWithin } from './handshake.js';
import type { ReuseRefusal, TlsResumptionRegistry, TlsScope } from './resumption-registry.js';

export interface SecuredDataSocket {
  readonly socket: Duplex;
  /** The TLS session was resumed (from the session's own control connection or a sibling's). */
  readonly resumed: boolean;
  /** Resumed from a sibling control connection (same user and address). */
  readonly sibling: boolean;
  /** Why the offered session could not be resumed, when it was not. */
  readonly refusal?: ReuseRefusal;
  readonly protocol: string;
  /**
   * The client offered a session it may resume, then closed its side before the handshake
   * completed, having sent nothing: `socket` is an empty, ended stream (an empty upload).
   */
  readonly endedBeforeHandshake?: boolean;
}

/**
 * Node's server-side session-ID callbacks for a socket of `scope`. Node reads only `emit()`
 * and `listenerCount()` of the `server` option, so an EventEmitter stands in for a tls.Server.
 * `resume` false: the socket never resumes (control connections always handshake in full, so
 * a client certificate is always verified).
 */
export function sessionIdCallbacks(registry: TlsResumptionRegistry, scope: TlsScope, resume: boolean): net.Server {
  const callbacks = new EventEmitter();
  callbacks.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    registry.rememberSessionId(scope, id, data);
    done();
  });
  callbacks.on('resumeSession', (id: Buffer, done: (error: Error | null, data: Buffer | null) => void) => {
    done(null, resume ? registry.resumeSessionId(scope, id) : null);
  });
  return callbacks as unknown as net.Server;
}

/**
 * Reads the ClientHello from `socket` and puts every byte back. Resolves null when the bytes
 * are not a ClientHello we can read (the TLS handshake then fails on its own); rejects when
 * the connection closes, times out or the transfer is aborted first.
 */
export function peekClientHello(socket: net.Socket, timeoutMs: number, signal?: AbortSignal): Promise<ClientHelloResumption | null> {
  let received: Buffer = Buffer.alloc(0);
  return settleWithin<ClientHelloResumption | null>(
    (resolve, reject) => {
      const onData = (chunk: Buffer) => {
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
        const parsed = parseClientHello(received);
        if (parsed.status === 'ok') resolve(parsed.hello);
        else if (parsed.status === 'invalid' || received.length >= MAX_CLIENT_HELLO_BYTES) resolve(null);
      };
      const onEnd = () => reject(new Error('connection closed before the TLS handshake'));
      const onError = (error: Error) => reject(error);
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.once('error', onError);
      socket.resume();
      return () => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        socket.off('error', onError);
        // Paused with the bytes back in its buffer: the TLS socket built next reads them first.
        socket.pause();
        if (received.length > 0 && !socket.destroyed) socket.unshift(received);
      };
    },
    timeoutMs,
    signal,
  );
}

export interface SecureDataOptions {
  readonly registry: TlsResumptionRegistry;
  readonly scope: TlsScope;
  readonly handshakeTimeoutMs: number;
  /** A resumed session hands the client a new ticket (only where the client reads: see tls/session-context). */
  readonly renewTicket: boolean;
}

/** Runs the server handshake on a data connection of `scope`. */
export async function secureDataSocket(raw: Duplex, options: SecureDataOptions, signal: AbortSignal): Promise<SecuredDataSocket> {
  const { registry, scope } = options;
  const started = Date.now();
  // One handshake budget for the whole set-up: the ClientHello, a sibling's login, the handshake.
  const remainingMs = () => Math.max(1, options.handshakeTimeoutMs - (Date.now() - started));
  const hello = raw instanceof net.Socket ? await peekClientHello(raw, options.handshakeTimeoutMs, signal) : null;
  let choice = registry.chooseForData(scope, hello, options.renewTicket);
  if (choice.pendingIssuer) {
    await choice.pendingIssuer.loginSettled(remainingMs());
    if (signal.aborted) throw new Error('aborted');
    choice = registry.chooseForData(scope, hello, options.renewTicket);
  }
  const secured = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: choice.context,
    server: sessionIdCallbacks(registry, scope, true),
  });
  try {
    await serverHandshake(secured, remainingMs(), signal);
  } catch (error) {
    secured.destroy();
    if (error instanceof HandshakeEndedError && hello && !choice.refusal) return endedEarly(choice.sibling);
    throw error;
  }
  const resumed = secured.isSessionReused();
  return {
    socket: secured,
    resumed,
    sibling: resumed && choice.sibling,
    ...(!resumed ? { refusal: choice.refusal ?? 'fresh-handshake' } : {}),
    protocol: secured.getProtocol() ?? 'unknown',
  };
}

/** An empty upload: the stream a client that closed before the handshake's end would have sent. */
function endedEarly(sibling: boolean): SecuredDataSocket {
  const empty = new PassThrough();
  empty.end();
  return { socket: empty, resumed: true, sibling, protocol: 'none', endedBeforeHandshake: true };
}
