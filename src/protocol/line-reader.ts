/**
 * @module protocol/line-reader
 * Incremental framing of the FTP control connection: turns raw socket bytes into command lines.
 * Owns Telnet stripping (RFC 959 §4.1.3 says the control connection follows the Telnet protocol,
 * RFC 854), CRLF / bare-LF line splitting, UTF-8 decoding (RFC 2640 §2.2) and the per-line memory
 * bound. Pure: no sockets, no timers; the session feeds it chunks and acts on the events.
 */

export type LineEvent = { readonly type: 'line'; readonly line: string } | { readonly type: 'too-long' };

/** Telnet "Interpret As Command" (RFC 854). */
const IAC = 0xff;
/** RFC 854 option negotiation commands; each is followed by exactly one option byte. */
const WILL = 0xfb;
const WONT = 0xfc;
const DO = 0xfd;
const DONT = 0xfe;

const CR = 0x0d;
const LF = 0x0a;

/** Where we are inside a Telnet command sequence; survives chunk boundaries. */
const TelnetState = {
  Data: 0,
  /** Just saw IAC; the next byte says what kind of command this is. */
  Command: 1,
  /** Saw IAC WILL/WONT/DO/DONT; the next byte is the option code, which we drop. */
  Option: 2,
} as const;
type TelnetState = (typeof TelnetState)[keyof typeof TelnetState];

/** First allocation for the pending line; most FTP commands are far shorter than this. */
const INITIAL_CAPACITY = 256;

export class LineReader {
  readonly #maxLineBytes: number;
  #telnet: TelnetState = TelnetState.Data;
  /**
   * Data bytes of the line being assembled (Telnet already removed). Null while no line is
   * pending: an idle connection holds no buffer (issue 14: a slice of the pool and its view
   * per idle session), and one from Buffer's pool costs next to nothing per command.
   */
  #buffer: Buffer | null = null;
  #length = 0;
  /** True after a too-long event, until the LF that ends the oversized line. */
  #discarding = false;

  constructor(options: { maxLineBytes: number }) {
    const max = options.maxLineBytes;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${String(max)}`);
    }
    this.#maxLineBytes = max;
  }

  /** Feed raw bytes from the control socket; returns the complete events they finish, in order. */
  push(chunk: Buffer): LineEvent[] {
    const events: LineEvent[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      switch (this.#telnet) {
        case TelnetState.Data:
          if (byte === IAC) this.#telnet = TelnetState.Command;
          else this.#data(byte, events);
          break;
        case TelnetState.Command:
          if (byte === IAC) {
            // RFC 854: IAC IAC is how a literal 0xFF data byte is sent.
            this.#telnet = TelnetState.Data;
            this.#data(IAC, events);
          } else if (byte === WILL || byte === WONT || byte === DO || byte === DONT) {
            this.#telnet = TelnetState.Option;
          } else {
            // IP, DM, AO, AYT, NOP, ...: two-byte commands. Clients send IAC IP IAC DM before
            // ABOR (RFC 959 §4.1.3); the command itself follows as ordinary data, so just drop.
            this.#telnet = TelnetState.Data;
          }
          break;
        case TelnetState.Option:
          // We never negotiate options (RFC 959 servers need none), so the request is ignored.
          this.#telnet = TelnetState.Data;
          break;
      }
    }
    if (this.#length === 0) this.#buffer = null;
    return events;
  }

  /** Handles one data byte (after Telnet decoding). */
  #data(byte: number, events: LineEvent[]): void {
    if (this.#discarding) {
      if (byte === LF) this.#discarding = false;
      return;
    }
    if (byte === LF) {
      // RFC 959 mandates CRLF, but bare LF is accepted because many clients/tools send it.
      const buffer = this.#buffer;
      let end = this.#length;
      if (end > 0 && buffer?.[end - 1] === CR) end--;
      events.push({ type: 'line', line: buffer && end > 0 ? buffer.toString('utf8', 0, end) : '' });
      this.#length = 0;
      return;
    }
    // The limit counts line content only, so one extra slot may hold a CR awaiting its LF.
    const max = this.#maxLineBytes;
    if (this.#length === max + 1 || (this.#length === max && byte !== CR)) {
      events.push({ type: 'too-long' });
      this.#length = 0;
      this.#discarding = true;
      return;
    }
    const buffer = this.#buffer === null || this.#length === this.#buffer.length ? this.#grow() : this.#buffer;
    buffer[this.#length++] = byte;
  }

  /** A first buffer (grown on demand, so a generous limit is not pinned per connection), or one twice as big. */
  #grow(): Buffer {
    const old = this.#buffer;
    const next = Buffer.allocUnsafe(Math.min(old ? old.length * 2 : INITIAL_CAPACITY, this.#maxLineBytes + 1));
    old?.copy(next, 0, 0, this.#length);
    this.#buffer = next;
    return next;
  }
}
