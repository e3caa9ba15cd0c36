/**
 * @module sftp/sftp-channel
 * SFTP spoken on the raw "sftp" subsystem channel: packets framed with a size cap, answered
 * one at a time in arrival order (draft-02 §6.1 lets a server reorder; keeping order makes
 * sequential reads and writes on a handle trivially correct), with back-pressure both ways:
 * reading from the channel pauses while requests queue up (so the SSH window stays shut and
 * memory is bounded), and a reply that does not fit waits for 'drain'. Ending the channel
 * sends exit-status 0 and EOF before the close: OpenSSH's scp exits 1 without them.
 */
import type { Duplex } from 'node:stream';
import { SftpFramer, type SftpPacket } from '../protocol/sftp-framer.js';
import { parseRequest } from '../protocol/sftp-packet.js';
import type { SftpSession } from './sftp-session.js';
import { firstOf } from './sftp-handles.js';

/** Queued requests at which reading pauses (OpenSSH's client keeps up to 64 in flight). */
const QUEUE_HIGH = 128;
const QUEUE_LOW = 32;
/**
 * Short replies (a WRITE's status, a CLOSE's) are gathered and sent as one channel write, so
 * the 64 statuses of an upload's 64 WRITEs in flight become a few SSH packets instead of 64,
 * each encrypted, sent and decrypted by the client on its own (OpenSSH's sftp-server gathers
 * its replies the same way). Held only while requests are queued, and at most
 * SHORT_REPLIES_HELD of them, so the client's next requests keep coming.
 */
const SHORT_REPLY_BYTES = 1024;
const SHORT_REPLIES_HELD = 16;
/** How often a session whose replies wait for the client's window looks again before its idle time starts. */
const OUTPUT_POLL_MS = 200;

export interface SubsystemChannel extends Duplex {
  exit(status: number): void;
  close?(): void;
}

export interface SftpChannelOptions {
  readonly maxPacketBytes: number;
  readonly idleTimeoutMs: number;
  readonly onProtocolError: (reason: string) => void;
  readonly onClosed: () => void;
  /** The idle timer ran out (no request for idleTimeoutMs, or the drain's idle time): instead of close(). */
  readonly onIdle?: () => void;
  /**
   * The TCP socket under the SSH connection: corked while a reply is written, so the SSH
   * packets one reply becomes (eight of 32 KiB for a 255 KiB DATA) leave in one writev
   * instead of one system call each.
   */
  readonly socket?: { cork(): void; uncork(): void };
}

export class SftpChannel {
  readonly #channel: SubsystemChannel;
  readonly #session: SftpSession;
  readonly #options: SftpChannelOptions;
  readonly #framer: SftpFramer;
  readonly #queue: SftpPacket[] = [];
  #running = false;
  #closed = false;
  #idleMs: number;
  #idleTimer: NodeJS.Timeout | null = null;
  #closeWhenIdle = false;
  #draining = false;

  constructor(channel: SubsystemChannel, session: SftpSession, options: SftpChannelOptions) {
    this.#channel = channel;
    this.#session = session;
    this.#options = options;
    this.#framer = new SftpFramer(options.maxPacketBytes);
    this.#idleMs = options.idleTimeoutMs;
    channel.on('data', (chunk: Buffer) => this.#onData(chunk));
    channel.on('end', () => this.close());
    channel.on('close', () => this.#finish());
    channel.on('error', () => this.#finish());
    this.#armIdle();
  }

  /**
   * A request is being answered or waits in the queue, or replies are still on their way: a
   * slow reader's DATA waits in the channel for its SSH window long after the last request was
   * answered (a 2 MiB download at 512 KiB/s: 4 s), and closing then cut the transfer.
   */
  get busy(): boolean {
    return this.#running || this.#queue.length > 0 || this.#channel.writableLength > 0;
  }

  /** Closes the session once it has been idle for `idleMs` (0: as soon as the running request is answered), and no file is open. */
  drain(idleMs: number): void {
    this.#draining = true;
    if (idleMs === 0) this.#closeWhenIdle = true;
    else this.#idleMs = this.#idleMs > 0 ? Math.min(this.#idleMs, idleMs) : idleMs;
    this.#armIdle();
  }

  #armIdle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    if (this.#closed || this.#running || this.#queue.length > 0) return;
    if (this.#channel.writableLength > 0) {
      // The channel emits 'drain' only after a write said "wait": poll until the replies are out.
      this.#idleTimer = setTimeout(() => this.#armIdle(), OUTPUT_POLL_MS);
      this.#idleTimer.unref();
      return;
    }
    // Draining: a file still open is a transfer under way (a slow reader's last window of data
    // can take longer than drainIdleMs to reach it, and the get fails if the session closes
    // before its CLOSE): as FTP's drain never cuts a running transfer, the session is closed
    // after its files (its next request re-arms this), or at the drain deadline.
    if (this.#draining && this.#session.openFiles > 0) return;
    if (this.#closeWhenIdle) {
      this.close();
      return;
    }
    if (this.#idleMs > 0) {
      this.#idleTimer = setTimeout(() => (this.#options.onIdle ? this.#options.onIdle() : this.close()), this.#idleMs);
      this.#idleTimer.unref();
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    let packets: SftpPacket[];
    try {
      packets = this.#framer.push(chunk);
    } catch (error) {
      this.#options.onProtocolError((error as Error).message);
      this.close();
      return;
    }
    if (packets.length === 0) return;
    this.#queue.push(...packets);
    if (this.#queue.length >= QUEUE_HIGH) this.#channel.pause();
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (!this.#running) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#running = true;
    let held: Buffer[] = [];
    let heldBytes = 0;
    try {
      for (let packet = this.#queue.shift(); packet && !this.#closed; packet = this.#queue.shift()) {
        if (this.#queue.length <= QUEUE_LOW && this.#channel.isPaused()) this.#channel.resume();
        const reply = await this.#session.handle(parseRequest(packet));
        if (this.#closed) break;
        const short = reply.length < SHORT_REPLY_BYTES;
        if (short) {
          held.push(reply);
          heldBytes += reply.length;
          if (this.#queue.length > 0 && held.length < SHORT_REPLIES_HELD) continue;
        }
        const gathered = held.length === 0 ? null : held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held, heldBytes);
        held = [];
        heldBytes = 0;
        if (!this.#send(gathered, short ? null : reply)) await firstOf(this.#channel, ['drain', 'close']);
      }
      if (!this.#closed && held.length > 0) this.#send(Buffer.concat(held, heldBytes), null);
    } finally {
      this.#running = false;
      if (this.#channel.isPaused() && !this.#closed) this.#channel.resume();
      this.#armIdle();
    }
  }

  /** Writes the gathered short replies, then a long one, in one writev of the corked socket. */
  #send(gathered: Buffer | null, long: Buffer | null): boolean {
    const socket = this.#options.socket;
    socket?.cork();
    let flowing = true;
    if (gathered) flowing = this.#channel.write(gathered);
    if (long) flowing = this.#channel.write(long) && flowing;
    socket?.uncork();
    return flowing;
  }

  /** exit-status 0, EOF, close; then the session's open handles are released. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    try {
      this.#channel.exit(0);
      this.#channel.end();
    } catch {
      this.#channel.destroy();
    }
    this.#finish();
  }

  #finished = false;
  #finish(): void {
    this.#closed = true;
    if (this.#finished) return;
    this.#finished = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    void this.#session.closeAll().finally(() => this.#options.onClosed());
  }
}
