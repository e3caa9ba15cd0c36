/**
 * @module test/unit/protocol/tls-client-hello
 * The ClientHello reader against real ClientHellos written by Node's TLS client (OpenSSL):
 * fresh and resuming, TLS 1.2 (session_ticket extension) and TLS 1.3 (pre_shared_key), whole,
 * split at every byte and re-fragmented into several records; plus hostile input.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_CLIENT_HELLO_BYTES, offeredTicketKeyNames, parseClientHello } from '../../../src/protocol/tls-client-hello.js';
import { generateSelfSignedCertificate } from '../../../src/tls/self-signed.js';

/** A TLS server whose ticket keys we know, and the first bytes of each connection it gets. */
interface Recorder {
  readonly port: number;
  readonly ticketKeys: Buffer;
  readonly hellos: Buffer[];
  close(): Promise<void>;
}

async function startRecorder(): Promise<Recorder> {
  const { keyPem: key, certPem: cert } = await generateSelfSignedCertificate({ commonName: 'localhost', altNames: ['127.0.0.1'] });
  const ticketKeys = randomBytes(48);
  const hellos: Buffer[] = [];
  const tlsServer = tls.createServer({ key, cert, ticketKeys });
  const server = net.createServer((socket) => {
    socket.once('data', (first) => {
      hellos.push(first);
      socket.pause();
      socket.unshift(first);
      // Paused with the bytes back in its buffer: the TLS socket reads them first.
      tlsServer.emit('connection', socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    ticketKeys,
    hellos,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Connects and closes: a fresh connection once it has a session (ticket), a resuming one once connected. */
function handshake(port: number, version: tls.SecureVersion, session?: Buffer): Promise<{ session: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: version, maxVersion: version, ...(session ? { session } : {}) });
    let got: Buffer | undefined = session;
    let reused = false;
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      if (session) socket.end();
    });
    socket.on('session', (value: Buffer) => {
      if (got) return;
      got = value;
      socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => (got ? resolve({ session: got, reused }) : reject(new Error('no session'))));
  });
}

/** The same handshake bytes, re-cut into records of at most `size` bytes. */
function refragment(hello: Buffer, size: number): Buffer {
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const records: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += size) {
    const part = body.subarray(offset, offset + size);
    const header = Buffer.from([22, 3, 1, 0, 0]);
    header.writeUInt16BE(part.length, 3);
    records.push(header, part);
  }
  return Buffer.concat(records);
}

describe('TLS ClientHello reader', () => {
  let recorder: Recorder;
  const captured = new Map<string, Buffer>();

  before(async () => {
    recorder = await startRecorder();
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const first = await handshake(recorder.port, version);
      captured.set(`${version} fresh`, recorder.hellos.at(-1) as Buffer);
      const second = await handshake(recorder.port, version, first.session);
      assert.equal(second.reused, true, `${version}: the recorder did not resume`);
      captured.set(`${version} resuming`, recorder.hellos.at(-1) as Buffer);
    }
  });

  after(() => recorder.close());

  it('finds no ticket in a fresh ClientHello, TLS 1.2 and 1.3', () => {
    for (const version of ['TLSv1.2', 'TLSv1.3']) {
      const parsed = parseClientHello(captured.get(`${version} fresh`) as Buffer);
      assert.equal(parsed.status, 'ok');
      if (parsed.status !== 'ok') return;
      assert.deepEqual(offeredTicketKeyNames(parsed.hello), [], version);
    }
  });

  it('reads the key name of the ticket keys that sealed the offered ticket (TLS 1.2 session_ticket, TLS 1.3 pre_shared_key)', () => {
    const keyName = recorder.ticketKeys.subarray(0, 16);
    for (const version of ['TLSv1.2', 'TLSv1.3']) {
      const parsed = parseClientHello(captured.get(`${version} resuming`) as Buffer);
      assert.equal(parsed.status, 'ok', version);
      if (parsed.status !== 'ok') return;
      const names = offeredTicketKeyNames(parsed.hello);
      assert.equal(names.length, 1, version);
      assert.deepEqual(names[0], keyName, version);
      if (version === 'TLSv1.3') assert.equal(parsed.hello.pskIdentities.length, 1);
      else assert.ok(parsed.hello.ticket);
    }
  });

  it('says incomplete for every proper prefix, split at every byte', () => {
    for (const [name, hello] of captured) {
      for (let cut = 0; cut < hello.length; cut++) {
        assert.equal(parseClientHello(hello.subarray(0, cut)).status, 'incomplete', `${name} cut at ${cut}`);
      }
    }
  });

  it('reads a ClientHello fragmented over several records', () => {
    const hello = captured.get('TLSv1.3 resuming') as Buffer;
    for (const size of [1, 7, 100]) {
      const parsed = parseClientHello(refragment(hello, size));
      assert.equal(parsed.status, 'ok', `records of ${size} bytes`);
      if (parsed.status === 'ok') assert.deepEqual(offeredTicketKeyNames(parsed.hello)[0], recorder.ticketKeys.subarray(0, 16));
    }
  });

  it('refuses what is not a ClientHello', () => {
    assert.equal(parseClientHello(Buffer.from('USER alice\r\n')).status, 'invalid');
    assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 0])).status, 'invalid');
    // A handshake record holding a ServerHello (type 2).
    assert.equal(parseClientHello(Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0])).status, 'invalid');
    // A declared length beyond the cap.
    assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff])).status, 'invalid');
    assert.equal(parseClientHello(Buffer.concat([Buffer.from([22, 3, 1, 0xff, 0xff]), Buffer.alloc(MAX_CLIENT_HELLO_BYTES)])).status, 'invalid');
  });

  it('never throws on arbitrary bytes, nor on a real ClientHello with corrupted bytes', () => {
    const hello = captured.get('TLSv1.3 resuming') as Buffer;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const status = parseClientHello(Buffer.from(bytes)).status;
        assert.ok(['ok', 'incomplete', 'invalid'].includes(status));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat(hello.length - 1), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const copy = Buffer.from(hello);
        copy[at] = value;
        const parsed = parseClientHello(copy);
        if (parsed.status === 'ok') for (const name of offeredTicketKeyNames(parsed.hello)) assert.equal(name.length, 16);
      }),
      { numRuns: 2000 },
    );
  });
});
