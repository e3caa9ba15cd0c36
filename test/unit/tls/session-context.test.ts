/**
 * @module test/unit/tls/session-context
 * A control connection's TLS context over real loopback TLS: its tickets carry its key name
 * (the registry's lookup key), only a context with the same keys resumes them, and every
 * resumption hands the client a fresh ticket (TLS 1.3 clients use a ticket once: without the
 * renewal, curl's second data connection had nothing to offer), except where the client only
 * writes (an upload), which must not be handed one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { generateSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { createSessionContext, type CertificateMaterial } from '../../../src/tls/session-context.js';

interface Connection {
  readonly reused: boolean;
  readonly protocol: string | null;
  /** Sessions (tickets) the server handed the client on this connection. */
  readonly sessions: Buffer[];
}

describe('TLS session context (per control connection)', () => {
  let material: CertificateMaterial;
  let server: net.Server;
  let port = 0;
  /** The context the next accepted connection is handed (a data connection gets its scope's). */
  let serveWith: tls.SecureContext;

  before(async () => {
    const generated = await generateSelfSignedCertificate({ commonName: 'localhost', altNames: ['127.0.0.1'] });
    material = { key: Buffer.from(generated.keyPem), cert: Buffer.from(generated.certPem) };
    server = net.createServer((raw) => {
      const secured = new tls.TLSSocket(raw, { isServer: true, secureContext: serveWith });
      secured.on('error', () => secured.destroy());
      secured.on('secure', () => secured.end('x'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function connect(version: tls.SecureVersion, session?: Buffer): Promise<Connection> {
    const sessions: Buffer[] = [];
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: version, maxVersion: version, ...(session ? { session } : {}) });
    socket.on('session', (s: Buffer) => sessions.push(s));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.on('data', () => undefined);
      // Tickets arrive before the server's data and close_notify: all are in by 'end'.
      socket.once('end', () => resolve());
    });
    const result = { reused: socket.isSessionReused(), protocol: socket.getProtocol(), sessions };
    socket.destroy();
    return result;
  }

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version}: resumed again and again${version === 'TLSv1.3' ? ', a fresh ticket each time' : ''}; tickets start with the key name`, async () => {
      const keys = randomBytes(48);
      serveWith = createSessionContext(material, { minVersion: 'TLSv1.2', ciphers: '' }, keys, true);
      const first = await connect(version);
      assert.equal(first.reused, false);
      assert.equal(first.protocol, version);
      let session = first.sessions.at(-1);
      assert.ok(session, 'a ticket after the full handshake');
      for (let i = 0; i < 3; i++) {
        const next = await connect(version, session);
        assert.equal(next.reused, true, `resumption ${i + 1}`);
        // TLS 1.2 sessions may be resumed again (OpenSSL's client reports no renewed ticket on
        // an abbreviated handshake); a TLS 1.3 client must be handed a new one each time.
        if (version === 'TLSv1.2') continue;
        const fresh = next.sessions.at(-1);
        assert.ok(fresh, `resumption ${i + 1} handed out a new ticket`);
        assert.notDeepEqual(fresh, session);
        session = fresh;
      }
      // The serialised session holds the ticket, which starts with this context's key name.
      assert.ok(session.includes(keys.subarray(0, 16)), 'the ticket carries the key name');
    });

    it(`${version}: a context for uploads (no renewal) resumes the same tickets and hands out none`, async () => {
      const keys = randomBytes(48);
      serveWith = createSessionContext(material, { minVersion: 'TLSv1.2', ciphers: '' }, keys);
      const session = (await connect(version)).sessions.at(-1);
      assert.ok(session);
      serveWith = createSessionContext(material, { minVersion: 'TLSv1.2', ciphers: '' }, keys, true);
      const renewing = await connect(version, session);
      assert.equal(renewing.reused, true, 'a renewing context opens the same keys\' tickets');
      serveWith = createSessionContext(material, { minVersion: 'TLSv1.2', ciphers: '' }, keys);
      const plain = await connect(version, version === 'TLSv1.3' ? renewing.sessions.at(-1) : session);
      assert.equal(plain.reused, true);
      assert.equal(plain.sessions.length, 0, 'no ticket on a resumed upload connection');
    });

    it(`${version}: a context with other keys does not resume the ticket (a full handshake)`, async () => {
      serveWith = createSessionContext(material, { minVersion: 'TLSv1.2', ciphers: '' }, randomBytes(48));
      const session = (await connect(version)).sessions.at(-1);
      assert.ok(session);
      serveWith = createSessionContext(material, { minVersion: 'TLSv1.2', ciphers: '' }, randomBytes(48));
      const other = await connect(version, session);
      assert.equal(other.reused, false);
    });
  }
});
