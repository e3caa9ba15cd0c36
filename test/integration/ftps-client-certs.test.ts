/**
 * @module test/integration/ftps-client-certs
 * Mutual TLS on the control connection (tls.clientCertificates): with mode "required" a
 * client without a certificate, with an expired one or with one from another CA is refused
 * during the handshake (explicit AUTH TLS and implicit TLS alike) and never gets to log in,
 * while a valid certificate logs in and transfers over PROT P. With usernameFrom
 * "commonName" the login name must equal the certificate CN: alice's certificate logs in as
 * alice but not as bob (530, even with bob's password); with mode "optional" no certificate
 * means no login. Checked with a raw Node client and with curl (--cert/--key).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { TestServer } from '../helpers/server.js';
import { CURL_MISSING, describeRun, makeTempDir, randomBuffer, removeDir, run, sha256, sha256File } from '../helpers/integration.js';
import { ALICE, BOB, FtpsClient, events, implicitPort, startFtpsServer, type ClientTls } from '../helpers/ftps-support.js';
import { seedFile } from '../helpers/storage.js';

describe('FTPS client certificates', () => {
  let dir: string;
  let pki: TestPki;
  let required: TestServer;
  let byName: TestServer;
  let optionalByName: TestServer;
  let payload: Buffer;
  const clients: FtpsClient[] = [];

  before(async () => {
    dir = await makeTempDir('ftps-mtls');
    pki = await createTestPki(path.join(dir, 'pki'));
    const users = [ALICE, BOB];
    required = await startFtpsServer(pki, {
      users,
      config: { tls: { implicit: { enabled: true, port: 0 }, clientCertificates: { mode: 'required', caFile: pki.caFile } } },
    });
    byName = await startFtpsServer(pki, {
      users,
      config: { tls: { clientCertificates: { mode: 'required', caFile: pki.caFile, usernameFrom: 'commonName' } } },
    });
    optionalByName = await startFtpsServer(pki, {
      users,
      config: { tls: { clientCertificates: { mode: 'optional', caFile: pki.caFile, usernameFrom: 'commonName' } } },
    });
    payload = randomBuffer(300_001);
    for (const t of [required, byName, optionalByName]) await seedFile(t.storage, '/payload.bin', payload);
  });

  after(async () => {
    for (const client of clients) client.close();
    for (const t of [required, byName, optionalByName]) await t.close();
    await removeDir(dir);
  });

  async function identity(cert: string, key: string): Promise<ClientTls> {
    return { ca: pki.caPem, cert: await readFile(cert), key: await readFile(key) };
  }

  function alice(): Promise<ClientTls> {
    return identity(pki.clientAliceCert, pki.clientAliceKey);
  }

  async function explicit(t: TestServer, options: ClientTls): Promise<FtpsClient> {
    const client = await FtpsClient.connect(t.port);
    clients.push(client);
    await client.expectNext(220);
    await client.authTls(options);
    return client;
  }

  /**
   * The handshake must fail, or (TLS 1.3, where the client finishes first) the server must
   * close the connection without answering anything.
   */
  async function assertRefused(t: TestServer, options: ClientTls, mode: 'explicit' | 'implicit', label: string): Promise<void> {
    const failures = events(t, 'tls.control-handshake-failed').length + events(t, 'tls.implicit-handshake-failed').length;
    const logins = events(t, 'login').length;
    let client: FtpsClient | null = null;
    let handshakeFailed = false;
    try {
      if (mode === 'implicit') {
        client = await FtpsClient.connectImplicit(implicitPort(t), options);
      } else {
        client = await FtpsClient.connect(t.port);
        await client.expectNext(220);
        await client.expect('AUTH TLS', 234);
        await client.startTls(options);
      }
    } catch {
      // The handshake failed on the client side: refused.
      handshakeFailed = true;
    }
    if (client) {
      clients.push(client);
      if (!handshakeFailed) client.write(`USER ${ALICE.name}\r\n`);
      // Explicit: the 220 was read before AUTH; implicit: even a greeting is too much.
      const outcome = await client.read(4000).then(
        (reply) => `answered: ${reply.text}`,
        (error: Error) => (client?.closed ? 'closed' : error.message),
      );
      assert.equal(outcome, 'closed', `${label}: the server should have closed the connection`);
    }
    const now = events(t, 'tls.control-handshake-failed').length + events(t, 'tls.implicit-handshake-failed').length;
    assert.ok(now > failures, `${label}: no failed handshake was logged`);
    assert.equal(events(t, 'login').length, logins, `${label}: a login was attempted`);
  }

  const REFUSED: readonly { label: string; options: () => Promise<ClientTls> }[] = [
    { label: 'no certificate', options: async () => ({ ca: pki.caPem }) },
    { label: 'an expired certificate', options: () => identity(pki.expiredClientCert, pki.expiredClientKey) },
    { label: 'a certificate from another CA', options: () => identity(pki.rogueClientCert, pki.rogueClientKey) },
  ];
  for (const mode of ['explicit', 'implicit'] as const) {
    for (const { label, options } of REFUSED) {
      it(`mode required (${mode}): ${label} is refused during the handshake`, async () => {
        await assertRefused(required, await options(), mode, label);
      });
    }
  }

  it('mode required: a valid certificate logs in and transfers over PROT P (explicit and implicit)', async () => {
    const client = await explicit(required, await alice());
    await client.login(ALICE.name, ALICE.password);
    await client.expect('PBSZ 0', 200);
    await client.expect('PROT P', 200);
    await client.waitSession();
    const result = await client.transfer('RETR payload.bin');
    assert.equal(result.final?.code, 226, result.final?.text);
    assert.equal(sha256(result.data), sha256(payload));
    await client.quit();

    const implicit = await FtpsClient.connectImplicit(implicitPort(required), await alice());
    clients.push(implicit);
    await implicit.expectNext(220);
    await implicit.login(ALICE.name, ALICE.password);
    await implicit.quit();
  });

  it('usernameFrom commonName: alice\'s certificate logs in as alice, not as bob (530 even with bob\'s password)', async () => {
    const asBob = await explicit(byName, await alice());
    await asBob.expect(`USER ${BOB.name}`, 331);
    await asBob.expect(`PASS ${BOB.password}`, 530);
    await asBob.expect('PWD', 530);
    await asBob.login(ALICE.name, ALICE.password);
    assert.match((await asBob.expect('PWD', 257)).text, /"\/"/);
    await asBob.quit();
    const mismatches = events(byName, 'login').filter((r) => r.result === 'failed' && r.user === BOB.name);
    assert.equal(mismatches.length, 1, JSON.stringify(mismatches));
    assert.equal(mismatches[0]?.reason, 'certificate-mismatch');

    const bob = await explicit(byName, await identity(pki.clientBobCert, pki.clientBobKey));
    await bob.login(BOB.name, BOB.password);
    await bob.quit();
    const wrongPassword = await explicit(byName, await alice());
    await wrongPassword.expect(`USER ${ALICE.name}`, 331);
    await wrongPassword.expect('PASS not-the-password', 530);
    await wrongPassword.quit();
  });

  it('usernameFrom commonName with mode optional: without a certificate nobody logs in', async () => {
    const anonymous = await explicit(optionalByName, { ca: pki.caPem });
    await anonymous.expect(`USER ${ALICE.name}`, 331);
    await anonymous.expect(`PASS ${ALICE.password}`, 530);
    await anonymous.quit();

    const withCert = await explicit(optionalByName, await alice());
    await withCert.login(ALICE.name, ALICE.password);
    await withCert.quit();
  });

  it('usernameFrom commonName without TLS: a clear-text login is refused', async () => {
    const client = await FtpsClient.connect(optionalByName.port);
    clients.push(client);
    await client.expectNext(220);
    await client.expect(`USER ${ALICE.name}`, 331);
    await client.expect(`PASS ${ALICE.password}`, 530);
    await client.quit();
  });

  function curlSkipped(ctx: TestContext): boolean {
    const reason = CURL_MISSING();
    if (reason) ctx.skip(reason);
    return reason !== null;
  }

  function curl(t: TestServer, user: { name: string; password: string }, cert: readonly string[], output: string) {
    return run(
      'curl',
      ['--silent', '--show-error', '--verbose', '--max-time', '10', '--ssl-reqd', '--cacert', pki.caFile, ...cert, '--user', `${user.name}:${user.password}`, '-o', output, `ftp://127.0.0.1:${t.port}/payload.bin`],
      { timeoutMs: 15_000 },
    );
  }

  it('curl: with alice\'s certificate downloads as alice, is refused as bob (530), and fails without a certificate', async (ctx) => {
    if (curlSkipped(ctx)) return;
    const aliceCert = ['--cert', pki.clientAliceCert, '--key', pki.clientAliceKey];
    const target = path.join(dir, 'curl.down');
    const ok = await curl(byName, ALICE, aliceCert, target);
    assert.equal(ok.code, 0, describeRun(ok));
    assert.equal(await sha256File(target), sha256(payload));
    const asBob = await curl(byName, BOB, aliceCert, path.join(dir, 'bob.down'));
    assert.equal(asBob.code, 67, describeRun(asBob));
    assert.match(asBob.stderr, /< 530 /);
    const none = await curl(byName, ALICE, [], path.join(dir, 'none.down'));
    assert.notEqual(none.code, 0, describeRun(none));
    assert.doesNotMatch(none.stderr, /< 230 /);
  });
});
