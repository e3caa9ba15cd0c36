/**
 * @module test/helpers/raw-client
 * A minimal FTP control client over a raw socket, for tests that need exact bytes:
 * split commands, pipelining, Telnet sequences, reply codes during transfers.
 */
import net from 'node:net';
import { ReplyReader, type Reply } from './reply-reader.js';

export type { Reply } from './reply-reader.js';

export class RawClient {
  readonly socket: net.Socket;
  readonly #reader = new ReplyReader();
  #closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => this.#reader.push(data));
    socket.on('close', () => {
      this.#closed = true;
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    const socket = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next reply, waiting up to `timeoutMs`. */
  read(timeoutMs = 5000): Promise<Reply> {
    return this.#reader.read(timeoutMs);
  }

  /** Sends raw bytes (no CRLF added). */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one command line and returns its reply. */
  async send(line: string, timeoutMs?: number): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.read(timeoutMs);
  }

  async login(user: string, password: string): Promise<void> {
    const greeting = await this.read();
    if (greeting.code !== 220) throw new Error(`greeting ${greeting.text}`);
    const u = await this.send(`USER ${user}`);
    if (u.code !== 331) throw new Error(`USER ${u.text}`);
    const p = await this.send(`PASS ${password}`);
    if (p.code !== 230) throw new Error(`PASS ${p.text}`);
  }

  /** EPSV, then connects a data socket to the announced port. */
  async openPassiveData(): Promise<net.Socket> {
    const reply = await this.send('EPSV');
    const match = /\(\|\|\|(\d+)\|\)/.exec(reply.text);
    if (reply.code !== 229 || !match) throw new Error(`EPSV ${reply.text}`);
    const socket = net.connect({ port: Number(match[1]), host: this.socket.remoteAddress ?? '127.0.0.1', localAddress: this.socket.localAddress ?? '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The code of the first reply a connection from `localAddress` gets (220, or 421 when refused). */
export async function greetingCode(port: number, localAddress: string, host = '127.0.0.1'): Promise<number> {
  const client = await RawClient.connect(port, host, localAddress);
  try {
    return (await client.read()).code;
  } finally {
    client.close();
  }
}

/** Reads a socket to its end. */
export function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}
