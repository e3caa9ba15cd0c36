/**
 * @module protocol/tls-client-hello
 * Reads what a TLS ClientHello says about resumption, from the raw bytes a client sends first:
 * its legacy session ID (TLS 1.2 session-ID resumption), its `session_ticket` extension
 * (RFC 5077 §3.2, TLS 1.2 tickets) and the identities of its `pre_shared_key` extension
 * (RFC 8446 §4.2.11, TLS 1.3 tickets). Pure: bytes in, values out; no I/O, no crypto.
 *
 * Why: an FTPS server has to know, before it builds the TLS socket for a data connection,
 * which of its TLS contexts issued the session the client wants to resume (an OpenSSL ticket
 * starts with the 16-byte name of the ticket keys that sealed it), so it can hand the socket
 * that context or decide the data connection belongs to nobody it knows.
 */

/** TLS record and handshake constants (RFC 8446 §5.1, §4). */
const RECORD_HEADER_BYTES = 5;
const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const HANDSHAKE_HEADER_BYTES = 4;
const EXTENSION_SESSION_TICKET = 35;
const EXTENSION_PRE_SHARED_KEY = 41;
/** OpenSSL's ticket key name: the first 16 bytes of every ticket it issues. */
export const TICKET_KEY_NAME_BYTES = 16;

/**
 * A ClientHello is small (a few hundred bytes; post-quantum key shares bring it past 1 KiB).
 * Anything that has not completed one within this many bytes is not a client we serve.
 */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

export interface ClientHelloResumption {
  /** legacy_session_id (TLS 1.3 clients send a random one for middlebox compatibility). */
  readonly sessionId: Buffer;
  /** The `session_ticket` extension's ticket, when non-empty. */
  readonly ticket: Buffer | null;
  /** The `pre_shared_key` identities (TLS 1.3 tickets), in the client's order. */
  readonly pskIdentities: readonly Buffer[];
}

export type ClientHelloParse =
  | { readonly status: 'incomplete' }
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'ok'; readonly hello: ClientHelloResumption };

const incomplete = { status: 'incomplete' } as const;
const invalid = (reason: string) => ({ status: 'invalid', reason }) as const;

/**
 * Parses the first handshake message from the bytes received so far. The message may span
 * several records (RFC 8446 §5.1 allows fragmenting handshake messages).
 */
export function parseClientHello(bytes: Buffer): ClientHelloParse {
  const message = handshakeMessage(bytes);
  if (message.status !== 'ok') return message;
  return parseBody(message.body);
}

/** The key names (first 16 bytes) of every ticket the client offers, TLS 1.3 identities first. */
export function offeredTicketKeyNames(hello: ClientHelloResumption): Buffer[] {
  const tickets = [...hello.pskIdentities, ...(hello.ticket ? [hello.ticket] : [])];
  return tickets.filter((ticket) => ticket.length > TICKET_KEY_NAME_BYTES).map((ticket) => ticket.subarray(0, TICKET_KEY_NAME_BYTES));
}

type MessageParse = { readonly status: 'incomplete' } | { readonly status: 'invalid'; readonly reason: string } | { readonly status: 'ok'; readonly body: Buffer };

function handshakeMessage(bytes: Buffer): MessageParse {
  const fragments: Buffer[] = [];
  let collected = 0;
  let offset = 0;
  let expected = -1;
  while (offset + RECORD_HEADER_BYTES <= bytes.length) {
    if (bytes[offset] !== CONTENT_TYPE_HANDSHAKE) return invalid('not a TLS handshake record');
    if (bytes[offset + 1] !== 3) return invalid('not a TLS record version');
    const length = bytes.readUInt16BE(offset + 3);
    if (length === 0) return invalid('empty handshake record');
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > bytes.length) break;
    fragments.push(bytes.subarray(offset + RECORD_HEADER_BYTES, end));
    collected += length;
    offset = end;
    if (expected < 0 && collected >= HANDSHAKE_HEADER_BYTES) {
      const head = Buffer.concat(fragments);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
      expected = HANDSHAKE_HEADER_BYTES + head.readUIntBE(1, 3);
      if (expected > MAX_CLIENT_HELLO_BYTES) return invalid('ClientHello too large');
    }
    if (expected >= 0 && collected >= expected) return { status: 'ok', body: Buffer.concat(fragments).subarray(HANDSHAKE_HEADER_BYTES, expected) };
  }
  if (bytes.length >= MAX_CLIENT_HELLO_BYTES) return invalid('no ClientHello within the size limit');
  if (bytes.length > 0 && bytes[0] !== CONTENT_TYPE_HANDSHAKE) return invalid('not a TLS handshake record');
  return incomplete;
}

/** A bounds-checked reader: every read past the end marks the parse invalid. */
class Cursor {
  readonly #buffer: Buffer;
  #offset = 0;
  ok = true;

  constructor(buffer: Buffer) {
    this.#buffer = buffer;
  }

  get remaining(): number {
    return this.#buffer.length - this.#offset;
  }

  skip(n: number): void {
    if (n > this.remaining) this.ok = false;
    this.#offset = Math.min(this.#buffer.length, this.#offset + n);
  }

  uint(bytes: 1 | 2): number {
    if (bytes > this.remaining) {
      this.ok = false;
      this.#offset = this.#buffer.length;
      return 0;
    }
    const value = this.#buffer.readUIntBE(this.#offset, bytes);
    this.#offset += bytes;
    return value;
  }

  take(n: number): Buffer {
    if (n > this.remaining) {
      this.ok = false;
      this.#offset = this.#buffer.length;
      return Buffer.alloc(0);
    }
    const slice = this.#buffer.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return slice;
  }

  /** A vector with a 1- or 2-byte length prefix. */
  vector(prefix: 1 | 2): Buffer {
    return this.take(this.uint(prefix));
  }
}

function parseBody(body: Buffer): ClientHelloParse {
  const cursor = new Cursor(body);
  cursor.skip(2 + 32); // legacy_version, random
  const sessionId = Buffer.from(cursor.vector(1));
  if (sessionId.length > 32) return invalid('session ID longer than 32 bytes');
  cursor.vector(2); // cipher_suites
  cursor.vector(1); // legacy_compression_methods
  if (!cursor.ok) return invalid('truncated ClientHello');
  let ticket: Buffer | null = null;
  let pskIdentities: Buffer[] = [];
  // A ClientHello without extensions (SSL 3.0 style) offers no ticket.
  if (cursor.remaining > 0) {
    const extensions = new Cursor(cursor.vector(2));
    if (!cursor.ok) return invalid('truncated extensions');
    while (extensions.remaining > 0) {
      const type = extensions.uint(2);
      const data = extensions.vector(2);
      if (!extensions.ok) return invalid('truncated extension');
      if (type === EXTENSION_SESSION_TICKET && data.length > 0) ticket = Buffer.from(data);
      if (type === EXTENSION_PRE_SHARED_KEY) {
        const identities = parsePskIdentities(data);
        if (!identities) return invalid('malformed pre_shared_key extension');
        pskIdentities = identities;
      }
    }
  }
  return { status: 'ok', hello: { sessionId, ticket, pskIdentities } };
}

/** OfferedPsks.identities: PskIdentity { opaque identity<1..2^16-1>; uint32 age; } (RFC 8446 §4.2.11). */
function parsePskIdentities(data: Buffer): Buffer[] | null {
  const outer = new Cursor(data);
  const list = new Cursor(outer.vector(2));
  const identities: Buffer[] = [];
  while (list.ok && list.remaining > 0) {
    const identity = list.vector(2);
    list.skip(4);
    if (identity.length === 0) return null;
    identities.push(Buffer.from(identity));
  }
  return outer.ok && list.ok ? identities : null;
}
