/**
 * @module test/integration/ftps-policy
 * FTPS policies with a raw Node client: tls.sessionReuse "enabled" (a fresh data session is
 * accepted and logged) and "disabled" (accepted silently); tls.control "required" (USER
 * before AUTH gets 530 and the password is never logged) with tls.data "required" (PROT C
 * gets 534, RETR/STOR/LIST without PROT P get 521 and no 150); tls.control "off" (AUTH gets
 * 502 and FEAT does not offer TLS).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { TestServer } from '../helpers/server.js';
import { MiB, makeTempDir, randomBuffer, removeDir, sha256 } from '../helpers/integration.js';
import { ALICE, FtpsClient, events, metricValue, startFtpsServer } from '../helpers/ftps-support.js';
import { readAll, seedFile } from '../helpers/storage.js';

const REFUSED = 'kftpd_tls_data_refused_total';

describe('FTPS policies (raw client)', () => {
  let dir: string;
  let pki: TestPki;
  let payload: Buffer;
  const servers: TestServer[] = [];
  const clients: FtpsClient[] = [];

  before(async () => {
    dir = await makeTempDir('ftps-policy');
    pki = await createTestPki(path.join(dir, 'pki'));
    payload = randomBuffer(MiB / 2 + 11);
  });

  after(async () => {
    for (const client of clients) client.close();
    for (const server of servers) await server.close();
    await removeDir(dir);
  });

  async function server(tlsConfig: Record<string, unknown>): Promise<TestServer> {
    const t = await startFtpsServer(pki, { config: { tls: tlsConfig } });
    servers.push(t);
    await seedFile(t.storage, '/payload.bin', payload);
    return t;
  }

  async function connect(t: TestServer): Promise<FtpsClient> {
    const client = await FtpsClient.connect(t.port);
    clients.push(client);
    await client.expectNext(220);
    return client;
  }

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`sessionReuse enabled (${version}): a fresh data session is accepted and logged, not refused`, async () => {
      const t = await server({ sessionReuse: 'enabled' });
      const client = await connect(t);
      await client.authTls({ ca: pki.caPem, maxVersion: version, minVersion: version });
      await client.login(ALICE.name, ALICE.password);
      await client.expect('PBSZ 0', 200);
      await client.expect('PROT P', 200);
      const fresh = await client.transfer('RETR payload.bin', { session: null });
      assert.equal(fresh.final?.code, 226, fresh.final?.text);
      assert.equal(fresh.resumed, false);
      assert.equal(sha256(fresh.data), sha256(payload));
      const logged = events(t, 'tls.data-not-resumed');
      assert.equal(logged.length, 1, JSON.stringify(logged));
      assert.equal(await metricValue(t, REFUSED, 'reason="not-resumed"'), 0);

      await client.waitSession();
      const resumed = await client.transfer('RETR payload.bin');
      assert.equal(resumed.final?.code, 226, resumed.final?.text);
      assert.equal(resumed.resumed, true);
      assert.equal(events(t, 'tls.data-not-resumed').length, 1, 'a resumed data connection was logged as not resumed');
      await client.quit();
    });
  }

  it('sessionReuse disabled: a fresh data session is accepted silently (download and upload)', async () => {
    const t = await server({ sessionReuse: 'disabled' });
    const client = await connect(t);
    await client.authTls({ ca: pki.caPem });
    await client.login(ALICE.name, ALICE.password);
    await client.expect('PBSZ 0', 200);
    await client.expect('PROT P', 200);
    const fresh = await client.transfer('RETR payload.bin', { session: null, handshake: 'after-150' });
    assert.equal(fresh.final?.code, 226, fresh.final?.text);
    assert.equal(sha256(fresh.data), sha256(payload));
    const upload = randomBuffer(100_000);
    const stor = await client.transfer('STOR fresh.bin', { session: null, upload });
    assert.equal(stor.final?.code, 226, stor.final?.text);
    assert.equal(sha256(await readAll(t.storage, '/fresh.bin')), sha256(upload));
    assert.deepEqual(events(t, 'tls.data-not-resumed'), []);
    assert.equal(await metricValue(t, REFUSED, 'reason="not-resumed"'), 0);
    await client.quit();
  });

  it('tls.control required: USER before AUTH gets 530, no password is accepted or logged in clear text', async () => {
    const t = await server({ control: 'required', data: 'required' });
    const client = await connect(t);
    const feat = await client.expect('FEAT', 211);
    assert.ok(feat.lines.includes(' AUTH TLS'), feat.text);
    await client.expect(`USER ${ALICE.name}`, 530);
    const pass = await client.send(`PASS ${ALICE.password}`);
    assert.notEqual(pass.code, 230, `a clear-text login succeeded: ${pass.text}`);
    assert.ok(pass.code >= 500, pass.text);
    await client.expect('PWD', 530);
    await client.quit();

    const secure = await connect(t);
    await secure.authTls({ ca: pki.caPem });
    await secure.login(ALICE.name, ALICE.password);
    await secure.quit();
    assert.equal(events(t, 'login.tls-required').length, 1);
    const logText = JSON.stringify(t.logs);
    assert.ok(!logText.includes(ALICE.password), 'the password appears in the logs');
  });

  it('tls.data required: PROT C gets 534; RETR, STOR and LIST without PROT P get 521 and no 150', async () => {
    const t = await server({ control: 'required', data: 'required' });
    const client = await connect(t);
    await client.authTls({ ca: pki.caPem });
    await client.login(ALICE.name, ALICE.password);
    await client.expect('PBSZ 0', 200);
    await client.expect('PROT C', 534);
    // PBSZ done, PROT still C (the default): every transfer is refused before opening data.
    for (const line of ['RETR payload.bin', 'LIST', 'NLST', 'STOR clear.bin']) {
      const result = await client.transfer(line, { secure: false, ...(line.startsWith('STOR') ? { upload: Buffer.from('clear text') } : {}) });
      assert.equal(result.first.code, 521, `${line}: ${result.first.text}`);
      assert.equal(result.final, undefined);
    }
    await client.expect('PROT P', 200);
    await client.waitSession();
    const ok = await client.transfer('RETR payload.bin');
    assert.equal(ok.final?.code, 226, ok.final?.text);
    assert.equal(sha256(ok.data), sha256(payload));
    await client.quit();
  });

  it('a STOR refused by policy (521 before 150, 522 after it) leaves the existing file untouched', async () => {
    const t = await server({ control: 'required', data: 'required' });
    const client = await connect(t);
    await client.authTls({ ca: pki.caPem });
    await client.login(ALICE.name, ALICE.password);
    await client.expect('PBSZ 0', 200);

    const clear = await client.transfer('STOR payload.bin', { secure: false, upload: Buffer.from('clear text') });
    assert.equal(clear.first.code, 521, clear.first.text);
    assert.equal(sha256(await readAll(t.storage, '/payload.bin')), sha256(payload), 'STOR refused with 521 changed the existing file');

    await client.expect('PROT P', 200);
    const fresh = await client.transfer('STOR payload.bin', { session: null, upload: Buffer.from('stolen') });
    assert.equal(fresh.final?.code, 522, fresh.final?.text);
    assert.equal(sha256(await readAll(t.storage, '/payload.bin')), sha256(payload), 'STOR refused with 522 changed the existing file');
    await client.quit();
  });

  it('tls.data required with tls.control optional: clear-text login works, transfers need PROT P (521)', async () => {
    const t = await server({ data: 'required' });
    const client = await connect(t);
    await client.login(ALICE.name, ALICE.password);
    const result = await client.transfer('RETR payload.bin', { secure: false });
    assert.equal(result.first.code, 521, result.first.text);
    await client.expect('PWD', 257);
    await client.quit();
  });

  it('tls.control off: AUTH TLS gets 502 and FEAT offers no TLS', async () => {
    const t = await server({ control: 'off' });
    const client = await connect(t);
    const feat = await client.expect('FEAT', 211);
    assert.ok(!feat.lines.some((line) => /AUTH|PBSZ|PROT/.test(line)), feat.text);
    await client.expect('AUTH TLS', 502);
    const pbsz = await client.send('PBSZ 0');
    assert.ok(pbsz.code === 502 || pbsz.code === 503, pbsz.text);
    await client.login(ALICE.name, ALICE.password);
    await client.quit();
  });
});
