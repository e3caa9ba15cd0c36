/**
 * @module test/integration/ftps-ccc
 * CCC (RFC 4217 §6) with a real client: curl logs in over TLS, clears the control connection
 * (`--ftp-ssl-ccc --ftp-ssl-ccc-mode active`: both sides exchange close_notify) and transfers
 * over PROT P data connections that still resume the control connection's TLS session.
 * Also: CCC is refused when not enabled, not advertised then, and PROT cannot change after it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { TestServer } from '../helpers/server.js';
import { CURL_MISSING, MiB, describeRun, makeTempDir, removeDir, run, sha256, writeRandomFile, type RunResult } from '../helpers/integration.js';
import { ALICE, FtpsClient, events, startFtpsServer } from '../helpers/ftps-support.js';
import { readAll } from '../helpers/storage.js';

describe('CCC: clearing the control connection after login', () => {
  let dir: string;
  let pki: TestPki;
  let t: TestServer;
  let source: string;
  let sourceSha: string;

  before(async () => {
    dir = await makeTempDir('ftps-ccc');
    pki = await createTestPki(path.join(dir, 'pki'));
    t = await startFtpsServer(pki, { config: { tls: { ccc: true } } });
    source = path.join(dir, 'source.bin');
    sourceSha = await writeRandomFile(source, MiB + 17);
  });

  after(async () => {
    await t.close();
    await removeDir(dir);
  });

  function skipped(ctx: TestContext): boolean {
    const reason = CURL_MISSING();
    if (reason) ctx.skip(reason);
    return reason !== null;
  }

  function curl(args: readonly string[]): Promise<RunResult> {
    return run(
      'curl',
      ['--silent', '--show-error', '--verbose', '--max-time', '20', '--cacert', pki.caFile, '--user', `${ALICE.name}:${ALICE.password}`, '--ssl-reqd', '--ftp-ssl-ccc', '--ftp-ssl-ccc-mode', 'active', ...args],
      { timeoutMs: 25_000 },
    );
  }

  for (const version of [
    { name: 'TLSv1.2', args: ['--tlsv1.2', '--tls-max', '1.2'] },
    { name: 'TLSv1.3', args: ['--tlsv1.3'] },
  ]) {
    it(`${version.name}: uploads and downloads after CCC, data still protected and resumed`, async (ctx) => {
      if (skipped(ctx)) return;
      const cleared = events(t, 'tls.control-cleared').length;
      const name = `ccc-${version.name}.bin`;
      const up = await curl([...version.args, '-T', source, `ftp://127.0.0.1:${t.port}/${name}`]);
      assert.equal(up.code, 0, describeRun(up));
      assert.match(up.stderr, /> CCC/, describeRun(up));
      assert.match(up.stderr, /< 200 CCC/, describeRun(up));
      assert.equal(sha256(await readAll(t.storage, `/${name}`)), sourceSha);
      const down = await curl([...version.args, `ftp://127.0.0.1:${t.port}/${name}`, '-o', path.join(dir, `back-${name}`)]);
      assert.equal(down.code, 0, describeRun(down));
      assert.equal(sha256(await readFile(path.join(dir, `back-${name}`))), sourceSha);
      // Commands after CCC went in clear text and were still understood.
      assert.match(down.stderr, /< 226 /, describeRun(down));
      assert.equal(events(t, 'tls.control-cleared').length, cleared + 2);
      assert.equal(events(t, 'tls.data-not-resumed').length, 0);
    });
  }

  it('refuses PROT once the control connection is clear (503)', async (ctx) => {
    if (skipped(ctx)) return;
    const result = await curl(['-Q', 'PROT C', `ftp://127.0.0.1:${t.port}/`]);
    assert.notEqual(result.code, 0, describeRun(result));
    assert.match(result.stderr, /< 503 PROT is not allowed after CCC/, describeRun(result));
  });

  it('advertises CCC in FEAT and refuses it before login (530)', async () => {
    const client = await FtpsClient.connect(t.port);
    try {
      await client.expectNext(220);
      await client.authTls({ ca: pki.caPem });
      const feat = await client.expect('FEAT', 211);
      assert.ok(feat.lines.includes(' CCC'), feat.text);
      await client.expect('CCC', 530);
    } finally {
      client.close();
    }
  });

  it('answers 502 and does not advertise CCC when it is not enabled', async () => {
    const plain = await startFtpsServer(pki);
    const client = await FtpsClient.connect(plain.port);
    try {
      await client.expectNext(220);
      await client.authTls({ ca: pki.caPem });
      const feat = await client.expect('FEAT', 211);
      assert.ok(!feat.lines.includes(' CCC'), feat.text);
      await client.login(ALICE.name, ALICE.password);
      await client.expect('CCC', 502);
    } finally {
      client.close();
      await plain.close();
    }
  });
});
