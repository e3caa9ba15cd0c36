/**
 * @module test/integration/ftps-protocol
 * FTPS at the byte level with a raw Node client (RFC 4217): AUTH/PBSZ/PROT sequencing and
 * reply codes, PROT P transfers whose data-channel TLS session is resumed from the control
 * connection (TLS 1.2 and 1.3, handshake at connect or after 150, EPSV and PASV), and the
 * default "enforced" session-reuse policy: a data connection may resume its own control
 * connection's TLS session or a sibling's (same user, same client address: clients with one
 * session cache per process); a fresh session, or one issued to another user, to another
 * address, to a connection that never logged in, or by another replica gets 522 and is counted in
 * kftpd_tls_data_refused_total. Also AUTH TLS-P, the STARTTLS command-injection
 * case (commands pipelined with AUTH TLS are discarded) and implicit TLS.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { TestServer } from '../helpers/server.js';
import { MiB, makeTempDir, randomBuffer, removeDir, sha256 } from '../helpers/integration.js';
import { ALICE, BOB, FtpsClient, events, implicitPort, metricValue, startFtpsServer, type ClientTls } from '../helpers/ftps-support.js';
import { readAll, seedFile } from '../helpers/storage.js';

const VERSIONS: readonly tls.SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];
const REFUSED = 'kftpd_tls_data_refused_total';

describe('FTPS protocol with a raw client (sessionReuse enforced)', () => {
  let dir: string;
  let pki: TestPki;
  let t: TestServer;
  let payload: Buffer;
  const clients: FtpsClient[] = [];

  before(async () => {
    dir = await makeTempDir('ftps-protocol');
    pki = await createTestPki(path.join(dir, 'pki'));
    t = await startFtpsServer(pki, { users: [ALICE, BOB], config: { tls: { implicit: { enabled: true, port: 0 } } } });
    payload = randomBuffer(MiB + 123);
    await seedFile(t.storage, '/payload.bin', payload);
  });

  after(async () => {
    for (const client of clients) client.close();
    await t.close();
    await removeDir(dir);
  });

  function trust(version?: tls.SecureVersion): ClientTls {
    return { ca: pki.caPem, ...(version ? { minVersion: version, maxVersion: version } : {}) };
  }

  async function connect(localAddress?: string): Promise<FtpsClient> {
    const client = await FtpsClient.connect(t.port, '127.0.0.1', localAddress);
    clients.push(client);
    return client;
  }

  /** A logged-in alice (or `user`) with PROT P, on the given TLS version. */
  async function secureSession(version?: tls.SecureVersion, user = ALICE, localAddress?: string): Promise<FtpsClient> {
    const client = await connect(localAddress);
    await client.secureLogin(user.name, user.password, trust(version));
    return client;
  }

  it('advertises AUTH TLS, PBSZ and PROT in FEAT and sequences AUTH/PBSZ/PROT (503, 504, 536)', async () => {
    const client = await connect();
    await client.expectNext(220);
    const feat = await client.expect('FEAT', 211);
    for (const feature of ['AUTH TLS', 'PBSZ', 'PROT']) {
      assert.ok(feat.lines.includes(` ${feature}`), `FEAT lacks ${feature}: ${feat.text}`);
    }
    await client.expect('PBSZ 0', 503);
    await client.expect('PROT P', 503);
    await client.expect('AUTH KERBEROS_V4', 504);
    await client.authTls(trust());
    await client.expect('AUTH TLS', 503);
    await client.expect('PROT P', 503);
    const pbsz = await client.expect('PBSZ 0', 200);
    assert.match(pbsz.text, /PBSZ=0/);
    await client.expect('PROT S', 536);
    await client.expect('PROT E', 536);
    await client.expect('PROT P', 200);
    await client.login(ALICE.name, ALICE.password);
    await client.quit();
  });

  it('refuses AUTH after USER with 503 and keeps the session in clear text', async () => {
    const client = await connect();
    await client.expectNext(220);
    await client.expect(`USER ${ALICE.name}`, 331);
    await client.expect('AUTH TLS', 503);
    await client.expect(`PASS ${ALICE.password}`, 230);
    await client.quit();
  });

  for (const version of VERSIONS) {
    it(`${version}: PROT P transfers resume the control session (download, upload, LIST; EPSV and PASV; handshake at connect or after 150)`, async () => {
      const client = await secureSession(version);
      assert.equal(client.tlsSocket.getProtocol(), version);
      const before = await metricValue(t, REFUSED, 'reason="not-resumed"');

      const early = await client.transfer('RETR payload.bin', { handshake: 'connect' });
      assert.equal(early.first.code, 150, early.first.text);
      assert.equal(early.final?.code, 226, early.final?.text);
      assert.equal(early.resumed, true, 'the data connection did not resume the control session');
      assert.equal(early.protocol, version);
      assert.equal(sha256(early.data), sha256(payload));

      const late = await client.transfer('RETR payload.bin', { handshake: 'after-150', passive: 'PASV' });
      assert.equal(late.final?.code, 226, late.final?.text);
      assert.equal(late.resumed, true);
      assert.equal(sha256(late.data), sha256(payload));

      const upload = randomBuffer(256 * 1024 + 7);
      const name = `up-${version}.bin`;
      const stor = await client.transfer(`STOR ${name}`, { upload, handshake: version === 'TLSv1.2' ? 'connect' : 'after-150' });
      assert.equal(stor.first.code, 150, stor.first.text);
      assert.equal(stor.final?.code, 226, stor.final?.text);
      assert.equal(stor.resumed, true);
      assert.equal(sha256(await readAll(t.storage, `/${name}`)), sha256(upload));

      const list = await client.transfer('LIST');
      assert.equal(list.final?.code, 226, list.final?.text);
      assert.match(list.data.toString('utf8'), /payload\.bin/);
      assert.match(list.data.toString('utf8'), new RegExp(name.replace('.', '\\.')));

      assert.equal(await metricValue(t, REFUSED, 'reason="not-resumed"'), before, 'a resumed data connection was counted as refused');
      await client.quit();
    });

    it(`${version}: a data connection with a fresh TLS session is refused with 522 after 150, and the session goes on`, async () => {
      const client = await secureSession(version);
      const before = await metricValue(t, REFUSED, 'reason="not-resumed"');
      const logged = events(t, 'tls.data-not-resumed').length;

      const stolen = await client.transfer('RETR payload.bin', { session: null });
      assert.equal(stolen.first.code, 150, stolen.first.text);
      assert.equal(stolen.final?.code, 522, stolen.final?.text);
      assert.equal(stolen.data.length, 0, 'file bytes crossed a refused data connection');
      assert.equal(await metricValue(t, REFUSED, 'reason="not-resumed"'), before + 1);
      assert.equal(events(t, 'tls.data-not-resumed').length, logged + 1);

      const upload = await client.transfer('STOR refused.bin', { session: null, upload: randomBuffer(4096), handshake: 'after-150' });
      assert.equal(upload.final?.code, 522, upload.final?.text);
      assert.equal(await metricValue(t, REFUSED, 'reason="not-resumed"'), before + 2);

      const ok = await client.transfer('RETR payload.bin');
      assert.equal(ok.final?.code, 226, ok.final?.text);
      assert.equal(sha256(ok.data), sha256(payload));
      await client.quit();
    });

    it(`${version}: a data connection may resume a sibling's session (same user, same address), never another user's, address's or an anonymous connection's (522)`, async () => {
      const alice = await secureSession(version);
      const bob = await secureSession(version, BOB);
      const otherAlice = await secureSession(version);
      // The same user from another client address (127.0.0.2 is loopback too on Linux).
      const farAlice = await secureSession(version, ALICE, '127.0.0.2');
      // A connection that negotiated TLS but never logged in (a thief's own session).
      const anonymous = await connect();
      await anonymous.expectNext(220);
      await anonymous.authTls(trust(version));
      const bobSession = await bob.waitSession();
      const otherSession = await otherAlice.waitSession();
      const farSession = await farAlice.waitSession();
      const anonymousSession = await anonymous.waitSession();

      const before = await metricValue(t, REFUSED, 'reason="not-resumed"');
      const withBob = await alice.transfer('RETR payload.bin', { session: bobSession });
      assert.equal(withBob.first.code, 150, withBob.first.text);
      assert.equal(withBob.final?.code, 522, withBob.final?.text);
      assert.match(withBob.final?.text ?? '', /tls\.sessionReuse/);
      assert.equal(withBob.data.length, 0);
      assert.notEqual(withBob.resumed, true, 'bob\'s TLS session was resumed on alice\'s data connection');

      const withFar = await alice.transfer('RETR payload.bin', { session: farSession, handshake: 'after-150' });
      assert.equal(withFar.final?.code, 522, withFar.final?.text);
      assert.equal(withFar.data.length, 0);

      // The unlogged connection's ticket: the data connection waits for that login, which
      // never comes; the connection closes, and the data connection is refused.
      setTimeout(() => anonymous.close(), 300);
      const withAnonymous = await alice.transfer('RETR payload.bin', { session: anonymousSession });
      assert.equal(withAnonymous.final?.code, 522, withAnonymous.final?.text);
      assert.equal(withAnonymous.data.length, 0);
      assert.equal(await metricValue(t, REFUSED, 'reason="not-resumed"'), before + 3);
      const reasons = events(t, 'tls.data-not-resumed').map((event) => event['reason']);
      for (const reason of ['other-user', 'other-address', 'not-logged-in']) assert.ok(reasons.includes(reason), `no refusal logged with reason ${reason}: ${reasons.join(', ')}`);

      // A sibling's session (alice's other control connection from the same address) resumes.
      const withSibling = await alice.transfer('RETR payload.bin', { session: otherSession, handshake: 'after-150' });
      assert.equal(withSibling.final?.code, 226, withSibling.final?.text);
      assert.equal(withSibling.resumed, true);
      assert.equal(sha256(withSibling.data), sha256(payload));

      // Each session's own ticket still works on its own data connections.
      const own = await bob.transfer('RETR payload.bin');
      assert.equal(own.final?.code, 226, own.final?.text);
      assert.equal(sha256(own.data), sha256(payload));
      for (const client of [alice, bob, otherAlice, farAlice]) await client.quit();
    });

    it(`${version}: a sibling's session still resumes after that control connection has closed`, async () => {
      const alice = await secureSession(version);
      const sibling = await secureSession(version);
      const siblingSession = await sibling.waitSession();
      await sibling.quit();
      const result = await alice.transfer('RETR payload.bin', { session: siblingSession });
      assert.equal(result.final?.code, 226, result.final?.text);
      assert.equal(sha256(result.data), sha256(payload));
      await alice.quit();
    });
  }

  it('a data connection resuming a TLS session issued by another replica (same user, same address) is refused (522)', async () => {
    // Another replica: its own ticket keys, so the key name of its tickets is unknown here.
    const replica = await startFtpsServer(pki, { users: [ALICE] });
    try {
      for (const version of VERSIONS) {
        const foreign = await FtpsClient.connect(replica.port);
        clients.push(foreign);
        await foreign.secureLogin(ALICE.name, ALICE.password, trust(version));
        const foreignSession = await foreign.waitSession();
        const alice = await secureSession(version);
        const before = await metricValue(t, REFUSED, 'reason="not-resumed"');
        const logged = events(t, 'tls.data-not-resumed').length;
        const result = await alice.transfer('RETR payload.bin', { session: foreignSession });
        assert.equal(result.final?.code, 522, `${version}: ${result.final?.text}`);
        assert.match(result.final?.text ?? '', /tls\.sessionReuse: enforced/);
        assert.equal(result.data.length, 0, 'file bytes crossed a refused data connection');
        assert.notEqual(result.resumed, true);
        assert.equal(await metricValue(t, REFUSED, 'reason="not-resumed"'), before + 1);
        assert.deepEqual(events(t, 'tls.data-not-resumed').slice(logged).map((record) => record['reason']), ['unknown-session'], version);
        // The session is not harmed: its own session still resumes.
        const own = await alice.transfer('RETR payload.bin');
        assert.equal(own.final?.code, 226, own.final?.text);
        assert.equal(sha256(own.data), sha256(payload));
        await alice.quit();
        await foreign.quit();
      }
    } finally {
      await replica.close();
    }
  });

  for (const version of VERSIONS) {
    it(`${version}: an upload whose TCP connection is reset while its bytes still arrive gets 426, not 226 (the reset reaches Node as an end of stream)`, async () => {
      const client = await secureSession(version);
      const big = randomBuffer(16 * MiB);
      for (let round = 0; round < 3; round++) {
        const result = await client.transfer(`STOR reset-${version}-${round}.bin`, { upload: big, resetAfterMs: 5 });
        assert.equal(result.first.code, 150, result.first.text);
        assert.equal(result.final?.code, 426, `round ${round}: a reset upload must not be reported complete: ${result.final?.text}`);
      }
      // A clean end on the same session still stores the whole file.
      const whole = await client.transfer(`STOR whole-${version}.bin`, { upload: big });
      assert.equal(whole.final?.code, 226, whole.final?.text);
      assert.equal(sha256(await readAll(t.storage, `/whole-${version}.bin`)), sha256(big));
    });
  }

  it('AUTH TLS-P protects data connections without PBSZ/PROT', async () => {
    const client = await connect();
    await client.expectNext(220);
    await client.authTls(trust(), 'TLS-P');
    await client.login(ALICE.name, ALICE.password);
    await client.waitSession();
    const result = await client.transfer('RETR payload.bin');
    assert.equal(result.final?.code, 226, result.final?.text);
    assert.equal(result.resumed, true);
    assert.equal(sha256(result.data), sha256(payload));
    await client.quit();
  });

  it('PROT C after PROT P returns to clear-text data connections (tls.data optional)', async () => {
    const client = await secureSession();
    await client.expect('PROT C', 200);
    const result = await client.transfer('RETR payload.bin', { secure: false });
    assert.equal(result.final?.code, 226, result.final?.text);
    assert.equal(sha256(result.data), sha256(payload));
    await client.quit();
  });

  it('discards commands pipelined in clear text with AUTH TLS (no STARTTLS command injection)', async () => {
    const client = await connect();
    await client.expectNext(220);
    client.write(`AUTH TLS\r\nUSER ${ALICE.name}\r\n`);
    await client.expectNext(234);
    await client.startTls(trust());
    assert.deepEqual(client.pendingReplies, [], 'a reply arrived for the injected USER');
    // USER was never executed: PASS alone is out of sequence.
    await client.expect(`PASS ${ALICE.password}`, 503);
    await client.login(ALICE.name, ALICE.password);
    await client.quit();
  });

  it('discards a clear-text PASS pipelined behind AUTH TLS and USER, and never logs the password', async () => {
    const client = await connect();
    await client.expectNext(220);
    client.write(`AUTH TLS\r\nUSER ${ALICE.name}\r\nPASS ${ALICE.password}\r\n`);
    await client.expectNext(234);
    await client.startTls(trust());
    await client.expect('PWD', 530);
    assert.ok(!JSON.stringify(t.logs).includes(ALICE.password), 'the password appears in the logs');
    await client.quit();
  });

  it('implicit TLS: TLS from the first byte, then 220; PROT P transfers resume; AUTH TLS there is 503', async () => {
    const client = await FtpsClient.connectImplicit(implicitPort(t), trust());
    clients.push(client);
    await client.expectNext(220);
    await client.expect('AUTH TLS', 503);
    await client.login(ALICE.name, ALICE.password);
    await client.expect('PBSZ 0', 200);
    await client.expect('PROT P', 200);
    await client.waitSession();
    const result = await client.transfer('RETR payload.bin');
    assert.equal(result.final?.code, 226, result.final?.text);
    assert.equal(result.resumed, true);
    assert.equal(sha256(result.data), sha256(payload));
    const fresh = await client.transfer('RETR payload.bin', { session: null });
    assert.equal(fresh.final?.code, 522, fresh.final?.text);
    await client.quit();
  });

  it('implicit TLS: a clear-text client gets no greeting and is disconnected', async () => {
    const client = await FtpsClient.connect(implicitPort(t));
    clients.push(client);
    client.write('USER alice\r\n');
    await client.waitClosed(15_000);
    assert.deepEqual(client.pendingReplies, []);
  });
});
