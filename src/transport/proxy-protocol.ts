/**
 * @module transport/proxy-protocol
 * Reads the PROXY protocol header (haproxy's doc/proxy-protocol.txt, sections 2.1 and 2.2) off a
 * freshly accepted socket, before the FTP or TLS layer sees a byte, and works out the effective
 * client and server addresses. Protocol-neutral: the control listeners, the passive data
 * listeners (and any later frontend's listener) all read it here.
 * Owns: the trust decision (only peers in `trusted` may speak PROXY; the peer is checked before
 * anything is read, so a header from elsewhere is never believed), the read window (timeout,
 * byte cap), and handing every byte after the header back to the socket with unshift().
 * Must not: destroy the socket, log, or write anything (the caller decides, with the reason), emit
 * 'data' to anyone else, or leave the socket flowing: on return it is paused, and the caller
 * attaches its own reader and calls resume() (or wraps it in a TLSSocket, which reads on its own).
 *
 * Modes:
 * - 'off': no header expected; nothing is read.
 * - 'required': every connection must come from a trusted peer and start with a header (a LOCAL
 *   header counts: balancer health checks). Recommended behind a balancer.
 * - 'optional': a trusted peer may send a header. FTP servers speak first, so a direct client
 *   sends nothing until it sees the greeting, while a balancer sends its header at once: with no
 *   byte yet we can only wait. 'optional' therefore delays the greeting of a direct client from a
 *   trusted address by at most `timeoutMs` (an implicit-TLS ClientHello, or any byte that cannot
 *   start a header, ends the wait at once). Peers outside `trusted` are not waited for at all.
 */
import type net from 'node:net';
import type { CidrList } from '../core/cidr.js';
import { parseProxyHeader, PROXY_V2_MAX_LENGTH, type ProxyHeader } from '../protocol/proxy-header.js';

export type ProxyMode = 'off' | 'optional' | 'required';

export interface ProxyOptions {
  readonly mode: ProxyMode;
  /** Peers allowed to send a header (the balancers' addresses). */
  readonly trusted: CidrList;
  /** How long to wait for a complete header. */
  readonly timeoutMs: number;
  /** Most bytes buffered while looking for the header (default: the v2 maximum, 4112). */
  readonly maxBytes?: number;
}

export type ProxyOutcome =
  | {
      readonly ok: true;
      /** null: no header (optional mode), mode off, or an untrusted peer in optional mode. */
      readonly header: ProxyHeader | null;
      /**
       * The effective endpoints: the header's source/destination for a PROXY header with TCP
       * addresses from a trusted peer; the socket's own for everything else (LOCAL, UNKNOWN).
       */
      readonly remoteAddress: string;
      readonly remotePort: number;
      readonly localAddress: string;
      readonly localPort: number;
    }
  | { readonly ok: false; readonly reason: 'timeout' | 'invalid' | 'missing' | 'untrusted' | 'closed'; readonly detail: string };

type Failure = Extract<ProxyOutcome, { ok: false }>;

function fail(reason: Failure['reason'], detail: string): Failure {
  return { ok: false, reason, detail };
}

/**
 * Resolves once the header question is settled. Never rejects. On return nothing has been
 * consumed beyond the header itself: every other byte read is back in the socket's buffer.
 */
export async function acceptProxyHeader(socket: net.Socket, options: ProxyOptions): Promise<ProxyOutcome> {
  const peer = socket.remoteAddress;
  if (peer === undefined || socket.destroyed) return fail('closed', 'socket closed before the PROXY header');
  const own = (header: ProxyHeader | null): ProxyOutcome => ({
    ok: true,
    header,
    remoteAddress: peer,
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
  });

  if (options.mode === 'off') return own(null);
  if (!options.trusted.has(peer)) {
    // A header from outside the balancers must never be believed, so there is nothing to wait for.
    if (options.mode === 'optional') return own(null);
    return fail('untrusted', `PROXY header required but ${peer} is not a trusted proxy`);
  }

  const maxBytes = options.maxBytes ?? PROXY_V2_MAX_LENGTH;
  return new Promise<ProxyOutcome>((resolve) => {
    let received: Buffer = Buffer.alloc(0);
    let settled = false;

    const settle = (outcome: ProxyOutcome, giveBack?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onGone);
      socket.removeListener('close', onGone);
      socket.removeListener('error', onError);
      // Pause first: unshifted bytes then wait in the buffer for the caller's reader.
      socket.pause();
      if (giveBack && giveBack.length > 0 && !socket.destroyed) socket.unshift(giveBack);
      resolve(outcome);
    };

    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const result = parseProxyHeader(received);
      switch (result.status) {
        case 'incomplete':
          if (received.length >= maxBytes) settle(fail('invalid', `no complete PROXY header within ${maxBytes} bytes`));
          return;
        case 'none':
          if (options.mode === 'optional') settle(own(null), received);
          else settle(fail('missing', 'connection did not start with a PROXY header'));
          return;
        case 'invalid':
          settle(fail('invalid', result.reason));
          return;
        case 'ok': {
          if (result.length > maxBytes) {
            settle(fail('invalid', `PROXY header of ${result.length} bytes exceeds ${maxBytes}`));
            return;
          }
          const rest = received.subarray(result.length);
          const { header } = result;
          // Section 2.1 (UNKNOWN) and 2.2 (LOCAL, UNSPEC, other families): use the real endpoints.
          if (header.command === 'LOCAL' || !header.source || !header.destination) {
            settle(own(header), rest);
            return;
          }
          settle(
            {
              ok: true,
              header,
              remoteAddress: header.source.address,
              remotePort: header.source.port,
              localAddress: header.destination.address,
              localPort: header.destination.port,
            },
            rest,
          );
          return;
        }
      }
    };
    const onGone = (): void => settle(fail('closed', `peer closed after ${received.length} bytes, before a PROXY header`));
    const onError = (error: Error): void => settle(fail('closed', `socket error before a PROXY header: ${error.message}`));

    const timer = setTimeout(() => {
      if (received.length > 0) settle(fail('timeout', `incomplete PROXY header after ${options.timeoutMs} ms (${received.length} bytes)`));
      else if (options.mode === 'optional') settle(own(null));
      else settle(fail('missing', `no PROXY header within ${options.timeoutMs} ms`));
    }, options.timeoutMs);

    socket.on('data', onData);
    socket.once('end', onGone);
    socket.once('close', onGone);
    socket.once('error', onError);
    // A server created with pauseOnConnect (or a socket paused earlier) does not start flowing
    // just because a 'data' listener appears.
    socket.resume();
  });
}
