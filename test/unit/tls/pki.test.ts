/**
 * @module test/unit/tls/pki.test
 * The test PKI helper itself: the chains verify with OpenSSL's CLI, the profiles are the
 * promised ones, and a real Node TLS server with requestCert accepts the valid client
 * certificate and refuses the expired and the rogue-CA ones.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, rm, mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { createTestPki } from '../../helpers/pki.js';
import type { TestPki } from '../../helpers/pki.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

let tmp: string;
let pki: TestPki;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'kftpd-pki-'));
  pki = await createTestPki(tmp);
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function load(file: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(file));
}

interface Outcome {
  /** What the server sent after the handshake ('' when it refused the client). */
  readonly received: string;
  /** Set by a lenient server: why OpenSSL would refuse the client certificate. */
  readonly serverVerdict?: string;
}

/**
 * Connects with a client certificate and returns what the server sent. With TLS 1.3 the
 * client's handshake completes before the server checks its certificate, so refusal shows
 * as a connection closed without data rather than as a client-side handshake error.
 */
async function connectWith(server: tls.Server, certFile: string, keyFile: string): Promise<Outcome> {
  const { port } = server.address() as AddressInfo;
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.caPem, cert, key });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A refused client may see the alert or a reset; both mean "not accepted".
      if (error.code === 'ECONNRESET' || /alert|certificate/i.test(error.message)) return;
      reject(error);
    });
    socket.on('close', () => resolve({ received }));
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
  });
}

async function listen(options: tls.TlsOptions, onSecure: (socket: tls.TLSSocket) => void): Promise<tls.Server> {
  const server = tls.createServer(options, onSecure);
  server.on('tlsClientError', () => {
    // Expected for the refused clients; the client side asserts the outcome.
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function close(server: tls.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('createTestPki', () => {
  it('writes PEM certificates and PKCS#8 keys that belong together', async () => {
    const pairs: [string, string][] = [
      [pki.serverCert, pki.serverKey],
      [pki.serverCert2, pki.serverKey2],
      [pki.clientAliceCert, pki.clientAliceKey],
      [pki.clientBobCert, pki.clientBobKey],
      [pki.expiredClientCert, pki.expiredClientKey],
      [pki.rogueClientCert, pki.rogueClientKey],
    ];
    const serials = new Set<string>();
    for (const [certFile, keyFile] of pairs) {
      const keyPem = await readFile(keyFile, 'utf8');
      assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
      const cert = await load(certFile);
      assert.equal(cert.checkPrivateKey(createPrivateKey(keyPem)), true, certFile);
      assert.equal(cert.ca, false);
      serials.add(cert.serialNumber);
    }
    assert.equal(serials.size, pairs.length);
    assert.equal(await readFile(pki.caFile, 'utf8'), pki.caPem);
  });

  it('uses the promised profiles', async () => {
    const ca = await load(pki.caFile);
    const rogueCa = await load(pki.rogueCaFile);
    assert.equal(ca.ca, true);
    assert.equal(rogueCa.ca, true);
    assert.notEqual(ca.subject, rogueCa.subject);

    for (const file of [pki.serverCert, pki.serverCert2]) {
      const server = await load(file);
      assert.equal(server.checkIssued(ca), true);
      assert.equal(server.verify(ca.publicKey), true);
      assert.deepEqual(server.keyUsage, [SERVER_AUTH]);
      assert.equal(server.checkHost('localhost'), 'localhost');
      assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
      assert.equal(server.checkIP('::1'), '::1');
    }
    assert.notEqual((await load(pki.serverCert)).fingerprint256, (await load(pki.serverCert2)).fingerprint256);
    assert.notEqual(await readFile(pki.serverKey, 'utf8'), await readFile(pki.serverKey2, 'utf8'));

    const names: [string, string, X509Certificate][] = [
      [pki.clientAliceCert, 'CN=alice', ca],
      [pki.clientBobCert, 'CN=bob', ca],
      [pki.expiredClientCert, 'CN=alice', ca],
      [pki.rogueClientCert, 'CN=alice', rogueCa],
    ];
    for (const [file, subject, issuer] of names) {
      const client = await load(file);
      assert.equal(client.subject, subject);
      assert.deepEqual(client.keyUsage, [CLIENT_AUTH]);
      assert.equal(client.verify(issuer.publicKey), true, file);
    }
    assert.equal((await load(pki.rogueClientCert)).verify(ca.publicKey), false);
    assert.ok(Date.parse((await load(pki.expiredClientCert)).validTo) < Date.now());
  });

  it('verifies with `openssl verify`', async (t) => {
    if (spawnSync('openssl', ['version']).status !== 0) {
      t.skip('openssl not installed');
      return;
    }
    const verify = (caFile: string, certFile: string): number | null => spawnSync('openssl', ['verify', '-CAfile', caFile, certFile], { encoding: 'utf8' }).status;
    for (const file of [pki.serverCert, pki.serverCert2, pki.clientAliceCert, pki.clientBobCert]) {
      assert.equal(verify(pki.caFile, file), 0, file);
    }
    assert.notEqual(verify(pki.caFile, pki.expiredClientCert), 0);
    assert.notEqual(verify(pki.caFile, pki.rogueClientCert), 0);
    assert.equal(verify(pki.rogueCaFile, pki.rogueClientCert), 0);
    const purpose = spawnSync('openssl', ['verify', '-CAfile', pki.caFile, '-purpose', 'sslserver', pki.serverCert], { encoding: 'utf8' });
    assert.equal(purpose.status, 0, purpose.stderr);
    const clientPurpose = spawnSync('openssl', ['verify', '-CAfile', pki.caFile, '-purpose', 'sslclient', pki.clientAliceCert], { encoding: 'utf8' });
    assert.equal(clientPurpose.status, 0, clientPurpose.stderr);
  });

  it('works with Node TLS: the valid client is accepted, expired and rogue are refused', async () => {
    const options: tls.TlsOptions = {
      key: await readFile(pki.serverKey),
      cert: await readFile(pki.serverCert),
      ca: pki.caPem,
      requestCert: true,
    };
    const strict = await listen({ ...options, rejectUnauthorized: true }, (socket) => {
      socket.end(`hello ${String(socket.getPeerCertificate().subject?.CN)}`);
    });
    const lenient = await listen({ ...options, rejectUnauthorized: false }, (socket) => {
      socket.end(socket.authorized ? 'authorized' : String(socket.authorizationError));
    });
    try {
      assert.equal((await connectWith(strict, pki.clientAliceCert, pki.clientAliceKey)).received, 'hello alice');
      assert.equal((await connectWith(strict, pki.clientBobCert, pki.clientBobKey)).received, 'hello bob');
      assert.equal((await connectWith(strict, pki.expiredClientCert, pki.expiredClientKey)).received, '');
      assert.equal((await connectWith(strict, pki.rogueClientCert, pki.rogueClientKey)).received, '');

      // The reasons, as a server that inspects instead of refusing sees them.
      assert.equal((await connectWith(lenient, pki.clientAliceCert, pki.clientAliceKey)).received, 'authorized');
      assert.equal((await connectWith(lenient, pki.expiredClientCert, pki.expiredClientKey)).received, 'CERT_HAS_EXPIRED');
      assert.match((await connectWith(lenient, pki.rogueClientCert, pki.rogueClientKey)).received, /^UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)/);
    } finally {
      await Promise.all([close(strict), close(lenient)]);
    }
  });
});
