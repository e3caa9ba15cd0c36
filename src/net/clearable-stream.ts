/**
 * @module net/clearable-stream
 * A Duplex view of a TCP socket that a TLS socket can be layered on and later peeled off
 * again: CCC (RFC 4217 §6) ends TLS with close_notify in both directions but keeps the TCP
 * connection. Node's TLS socket, when it ends, also ends the stream below it; while
 * detaching, this view swallows that end instead of passing it to the TCP socket.
 */
import type net from 'node:net';
import { Duplex } from 'node:stream';

export class ClearableStream extends Duplex {
  readonly #raw: net.Socket;
  #detaching = false;
  readonly #onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.#raw.pause();
  };
  readonly #onEnd = () => this.push(null);

  constructor(raw: net.Socket) {
    super({ allowHalfOpen: true });
    this.#raw = raw;
    raw.on('data', this.#onData);
    raw.on('end', this.#onEnd);
  }

  override _read(): void {
    this.#raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#raw.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#detaching) this.#raw.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#detaching) this.#raw.destroy(error ?? undefined);
    callback(error);
  }

  /** From now on, ending or destroying this view leaves the TCP socket alone. */
  startDetaching(): void {
    this.#detaching = true;
  }

  /** Stops feeding the view; the TCP socket's bytes are the caller's again. */
  detach(): void {
    this.#detaching = true;
    this.#raw.off('data', this.#onData);
    this.#raw.off('end', this.#onEnd);
  }
}
