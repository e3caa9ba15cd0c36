/**
 * @module test/integration/ftps-certificates
 * Server certificates over real connections: hot reload (the configured cert/key files are
 * overwritten with a second certificate; new explicit and implicit connections see it within
 * a few reload intervals while an established session keeps listing and transferring; a
 * broken file is ignored and logged), and the quick-start default (no tls.certFile: a
 * self-signed certificate is created in <stateDir>/tls, reused on restart, and curl
 * --ssl-reqd --cacert <that file> works against it).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CURL_MISSING, MiB, describeRun, makeTempDir, randomBuffer, removeDir, run, sha256, sha256File, waitFor, writeRandomFile } from '../helpers/integration.js';
import { ALICE, FtpsClient, events, fingerprintOf, implicitPort, startFtpsServer, type ClientTls } from '../helpers/ftps-support.js';
import { readAll, seedFile } from '../helpers/storage.js';

/** Replaces `target` atomically with a copy of `source` (write beside, then rename). */
async function replaceFile(source: string, target: string): Promise<void> {
  const temp = `${target}.tmp`;
  await copyFile(source, temp);
  await rename(temp, target);
}

describe('FTPS certificate hot reload', () => {
  let dir: string;
  let pki: TestPki;
  let t: TestServer;
  let certFile: string;
  let keyFile: string;
  let payload: Buffer;
  const clients: FtpsClient[] = [];

  before(async () => {
    dir = await makeTempDir('ftps-reload');
    pki = await createTestPki(path.join(dir, 'pki'));
    const live = path.join(dir, 'live');
    await mkdir(live);
    certFile = path.join(live, 'tls.crt');
    keyFile = path.join(live, 'tls.key');
    await copyFile(pki.serverCert, certFile);
    await copyFile(pki.serverKey, keyFile);
    t = await startFtpsServer(pki, { config: { tls: { certFile, keyFile, reloadIntervalMs: 100, implicit: { enabled: true, port: 0 } } } });
    payload = randomBuffer(MiB + 5);
    await seedFile(t.storage, '/payload.bin', payload);
  });

  after(async () => {
    for (const client of clients) client.close();
    await t.close();
    await removeDir(dir);
  });

  function trust(): ClientTls {
    return { ca: pki.caPem };
  }

  /** Polls a little slower than waitFor's default, to keep probe connections few. */
  async function settled(expected: string): Promise<boolean> {
    await delay(50);
    return (await explicitFingerprint()) === expected;
  }

  /** The certificate a brand-new explicit (AUTH TLS) connection is offered. */
  async function explicitFingerprint(): Promise<string> {
    const client = await FtpsClient.connect(t.port);
    clients.push(client);
    await client.expectNext(220);
    const socket = await client.authTls(trust());
    const fingerprint = socket.getPeerCertificate().fingerprint256;
    client.close();
    return fingerprint;
  }

  async function implicitFingerprint(): Promise<string> {
    const client = await FtpsClient.connectImplicit(implicitPort(t), trust());
    clients.push(client);
    await client.expectNext(220);
    const fingerprint = client.tlsSocket.getPeerCertificate().fingerprint256;
    client.close();
    return fingerprint;
  }

  it('new connections get the replaced certificate while an established session keeps working', async () => {
    const first = await fingerprintOf(pki.serverCert);
    const second = await fingerprintOf(pki.serverCert2);
    assert.notEqual(first, second);

    const old = await FtpsClient.connect(t.port);
    clients.push(old);
    await old.secureLogin(ALICE.name, ALICE.password, trust());
    assert.equal(old.tlsSocket.getPeerCertificate().fingerprint256, first);
    assert.equal(await implicitFingerprint(), first);

    const swappedAt = Date.now();
    await replaceFile(pki.serverKey2, keyFile);
    await replaceFile(pki.serverCert2, certFile);
    await waitFor(() => settled(second), 3000, 'new certificate on new explicit connections');
    const elapsed = Date.now() - swappedAt;
    assert.equal(await implicitFingerprint(), second, 'the implicit listener still offers the old certificate');
    assert.ok(events(t, 'tls.reloaded').length >= 1, 'no tls.reloaded event');

    // The established session: control commands, listings and transfers both ways.
    await old.expect('NOOP', 200);
    const list = await old.transfer('LIST');
    assert.equal(list.final?.code, 226, list.final?.text);
    assert.match(list.data.toString('utf8'), /payload\.bin/);
    const down = await old.transfer('RETR payload.bin', { handshake: 'after-150' });
    assert.equal(down.final?.code, 226, down.final?.text);
    assert.equal(down.resumed, true);
    assert.equal(sha256(down.data), sha256(payload));
    const upload = randomBuffer(123_456);
    const up = await old.transfer('STOR after-reload.bin', { upload });
    assert.equal(up.final?.code, 226, up.final?.text);
    assert.equal(sha256(await readAll(t.storage, '/after-reload.bin')), sha256(upload));

    // And a new session works end to end with the new certificate.
    const fresh = await FtpsClient.connect(t.port);
    clients.push(fresh);
    await fresh.secureLogin(ALICE.name, ALICE.password, trust());
    assert.equal(fresh.tlsSocket.getPeerCertificate().fingerprint256, second);
    const again = await fresh.transfer('RETR payload.bin');
    assert.equal(again.final?.code, 226, again.final?.text);
    assert.equal(sha256(again.data), sha256(payload));
    await old.quit();
    await fresh.quit();
    assert.ok(elapsed < 3000, `reload took ${elapsed} ms`);
  });

  it('a broken certificate file is logged and ignored: new connections keep the last good certificate', async () => {
    const current = await explicitFingerprint();
    const failures = events(t, 'tls.reload-failed').length;
    await writeFile(`${certFile}.tmp`, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    await rename(`${certFile}.tmp`, certFile);
    await waitFor(() => events(t, 'tls.reload-failed').length > failures, 3000, 'tls.reload-failed logged');
    assert.equal(await explicitFingerprint(), current);
    const client = await FtpsClient.connect(t.port);
    clients.push(client);
    await client.secureLogin(ALICE.name, ALICE.password, trust());
    const result = await client.transfer('RETR payload.bin');
    assert.equal(result.final?.code, 226, result.final?.text);
    await client.quit();
    // Restoring a valid pair is picked up again.
    await replaceFile(pki.serverCert, certFile);
    await replaceFile(pki.serverKey, keyFile);
    const first = await fingerprintOf(pki.serverCert);
    await waitFor(() => settled(first), 3000, 'restored certificate');
  });
});

describe('FTPS quick-start default: self-signed certificate in <stateDir>/tls', () => {
  let dir: string;
  let stateDir: string;
  const servers: TestServer[] = [];

  before(async () => {
    dir = await makeTempDir('ftps-self-signed');
    stateDir = path.join(dir, 'state');
  });

  after(async () => {
    for (const server of servers) await server.close();
    await removeDir(dir);
  });

  async function start(): Promise<TestServer> {
    // No tls section at all: the defaults (control optional, no certFile).
    const t = await startTestServer({ config: { stateDir } });
    servers.push(t);
    return t;
  }

  function skipped(ctx: TestContext): boolean {
    const reason = CURL_MISSING();
    if (reason) ctx.skip(reason);
    return reason !== null;
  }

  it('creates cert.pem in <stateDir>/tls, covering 127.0.0.1, and presents it on AUTH TLS', async () => {
    const t = await start();
    const certFile = path.join(stateDir, 'tls', 'cert.pem');
    assert.equal(t.server.selfSigned?.certFile, certFile);
    assert.ok((await stat(certFile)).isFile());
    const cert = new X509Certificate(await readFile(certFile));
    assert.equal(t.server.selfSigned?.fingerprint.replace(/:/g, '').toLowerCase(), cert.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.ok(cert.checkIP('127.0.0.1'), 'the self-signed certificate does not cover 127.0.0.1');
    const created = events(t, 'tls.self-signed');
    assert.equal(created.length, 1);
    assert.equal(created[0]?.created, true);

    // Over TLS the certificate the server presents is that file.
    const client = await FtpsClient.connect(t.port);
    await client.expectNext(220);
    const socket = await client.authTls({ ca: await readFile(certFile) });
    assert.equal(socket.getPeerCertificate().fingerprint256, cert.fingerprint256);
    client.close();
  });

  it('curl --ssl-reqd --cacert <stateDir>/tls/cert.pem uploads, lists and downloads', async (ctx) => {
    if (skipped(ctx)) return;
    const t = servers[0];
    assert.ok(t, 'the server of the previous test is not running');
    const certFile = path.join(stateDir, 'tls', 'cert.pem');
    const local = path.join(dir, 'source.bin');
    const sha = await writeRandomFile(local, MiB + 17);
    const base = ['--silent', '--show-error', '--verbose', '--max-time', '15', '--ssl-reqd', '--cacert', certFile, '--user', `${t.user}:${t.password}`];
    const up = await run('curl', [...base, '-T', local, `ftp://127.0.0.1:${t.port}/self-signed.bin`], { timeoutMs: 20_000 });
    assert.equal(up.code, 0, describeRun(up));
    assert.match(up.stderr, /> PROT P/);
    assert.equal(sha256(await readAll(t.storage, '/self-signed.bin')), sha);
    const list = await run('curl', [...base, '--list-only', `ftp://127.0.0.1:${t.port}/`], { timeoutMs: 20_000 });
    assert.equal(list.code, 0, describeRun(list));
    assert.ok(list.stdout.split(/\r?\n/).includes('self-signed.bin'), list.stdout);
    const target = path.join(dir, 'self-signed.down');
    const down = await run('curl', [...base, '-o', target, `ftp://127.0.0.1:${t.port}/self-signed.bin`], { timeoutMs: 20_000 });
    assert.equal(down.code, 0, describeRun(down));
    assert.equal(await sha256File(target), sha);
    // Without --cacert (the system CA store only) the self-signed certificate is not trusted.
    const untrusted = await run('curl', ['--silent', '--max-time', '10', '--ssl-reqd', '--user', `${t.user}:${t.password}`, `ftp://127.0.0.1:${t.port}/`], { timeoutMs: 15_000 });
    assert.equal(untrusted.code, 60, describeRun(untrusted));
  });

  it('reuses the same self-signed certificate after a restart', async () => {
    const certFile = path.join(stateDir, 'tls', 'cert.pem');
    const before = await readFile(certFile);
    const previous = servers.pop();
    await previous?.close();
    const t = await start();
    assert.deepEqual(await readFile(certFile), before);
    assert.equal(events(t, 'tls.self-signed')[0]?.created, false);
  });
});
