/**
 * @module test/integration/ftps-curl
 * The real server driven by curl over FTPS, with the server certificate verified against the
 * test CA: explicit (`--ssl-reqd ftp://`, AUTH TLS + PBSZ 0 + PROT P) and implicit
 * (`ftps://`) on TLS 1.2 and TLS 1.3, under the default "enforced" data-channel session
 * reuse (curl resumes the control session on data connections). Uploads, downloads and
 * resumes (-C -) both ways with sha256 checks, LIST/NLST, EPSV and PASV (--disable-epsv).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { TestServer } from '../helpers/server.js';
import { CURL_MISSING, MiB, describeRun, makeTempDir, removeDir, run, sha256File, writeRandomFile, type RunResult } from '../helpers/integration.js';
import { ALICE, events, implicitPort, metricValue, startFtpsServer } from '../helpers/ftps-support.js';

const VERSIONS = [
  { name: 'TLSv1.2', args: ['--tlsv1.2', '--tls-max', '1.2'], banner: /SSL connection using TLSv1\.2/ },
  { name: 'TLSv1.3', args: ['--tlsv1.3'], banner: /SSL connection using TLSv1\.3/ },
] as const;

describe('curl over FTPS (sessionReuse enforced)', () => {
  let dir: string;
  let local: string;
  let pki: TestPki;
  let t: TestServer;
  let srcPath: string;
  let srcSha: string;

  before(async () => {
    dir = await makeTempDir('ftps-curl');
    local = path.join(dir, 'local');
    pki = await createTestPki(path.join(dir, 'pki'));
    t = await startFtpsServer(pki, { config: { tls: { implicit: { enabled: true, port: 0 } } } });
    await mkdir(local);
    srcPath = path.join(local, 'source.bin');
    srcSha = await writeRandomFile(srcPath, 2 * MiB + 333);
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

  function explicitUrl(p: string): string {
    return `ftp://127.0.0.1:${t.port}/${p}`;
  }

  function implicitUrl(p: string): string {
    return `ftps://127.0.0.1:${implicitPort(t)}/${p}`;
  }

  async function curl(args: readonly string[]): Promise<RunResult> {
    const result = await run(
      'curl',
      ['--silent', '--show-error', '--verbose', '--max-time', '20', '--connect-timeout', '5', '--cacert', pki.caFile, '--user', `${ALICE.name}:${ALICE.password}`, ...args],
      { timeoutMs: 25_000 },
    );
    assert.equal(result.code, 0, describeRun(result));
    // Nothing may have gone over a clear-text or refused data connection.
    assert.doesNotMatch(result.stderr, /< 52[12] /, describeRun(result));
    return result;
  }

  async function refusals(): Promise<number> {
    return metricValue(t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"');
  }

  for (const version of VERSIONS) {
    it(`explicit ${version.name}: uploads, downloads and lists over PROT P (EPSV), sha256 intact`, async (ctx) => {
      if (skipped(ctx)) return;
      const before = await refusals();
      const handshakes = async (channel: string) => metricValue(t, 'kftpd_tls_handshakes_total', `channel="${channel}",result="ok"`);
      const [controlBefore, dataBefore] = [await handshakes('control'), await handshakes('data')];
      const name = `explicit-${version.name}.bin`;
      const up = await curl(['--ssl-reqd', ...version.args, '-T', srcPath, explicitUrl(name)]);
      assert.match(up.stderr, version.banner);
      assert.match(up.stderr, /> AUTH (SSL|TLS)\r?\n< 234 /);
      assert.match(up.stderr, /> PROT P/);
      assert.match(up.stderr, /> EPSV/);
      assert.match(up.stderr, /< 226 /);
      assert.equal(await sha256File(path.join(t.root, name)), srcSha);

      const target = path.join(local, `${name}.down`);
      await curl(['--ssl-reqd', ...version.args, '-o', target, explicitUrl(name)]);
      assert.equal(await sha256File(target), srcSha);

      const list = await curl(['--ssl-reqd', ...version.args, explicitUrl('')]);
      assert.match(list.stdout, new RegExp(` ${name.replace(/\./g, '\\.')}\\r?\\n`));
      const nlst = await curl(['--ssl-reqd', ...version.args, '--list-only', explicitUrl('')]);
      assert.ok(nlst.stdout.split(/\r?\n/).includes(name), nlst.stdout);

      assert.equal(await refusals(), before, 'curl\'s data connections were refused as not resumed');
      assert.ok((await handshakes('control')) > controlBefore, 'control handshakes are counted');
      assert.ok((await handshakes('data')) > dataBefore, 'data handshakes are counted');
    });

    it(`explicit ${version.name}: PASV (--disable-epsv) and resume both ways (-C -)`, async (ctx) => {
      if (skipped(ctx)) return;
      const name = `resume-${version.name}.bin`;
      const remote = path.join(t.root, name);
      const source = await readFile(srcPath);
      // Upload resume: half the file is already on the server; curl sends SIZE then APPE.
      await writeFile(remote, source.subarray(0, MiB));
      const up = await curl(['--ssl-reqd', ...version.args, '--disable-epsv', '-C', '-', '-T', srcPath, explicitUrl(name)]);
      assert.match(up.stderr, /> PASV/);
      assert.match(up.stderr, /> APPE /);
      assert.equal(await sha256File(remote), srcSha);

      // Download resume: a partial local copy; curl sends REST then RETR.
      const target = path.join(local, `${name}.down`);
      await writeFile(target, source.subarray(0, 777_777));
      const down = await curl(['--ssl-reqd', ...version.args, '--disable-epsv', '-C', '-', '-o', target, explicitUrl(name)]);
      assert.match(down.stderr, /> REST 777777/);
      assert.equal(await sha256File(target), srcSha);
      assert.deepEqual(events(t, 'tls.data-not-resumed'), []);
    });

    it(`implicit ${version.name} (ftps://): upload, download, resume and list`, async (ctx) => {
      if (skipped(ctx)) return;
      const before = await refusals();
      const name = `implicit-${version.name}.bin`;
      const up = await curl([...version.args, '-T', srcPath, implicitUrl(name)]);
      assert.match(up.stderr, version.banner);
      assert.doesNotMatch(up.stderr, /> AUTH /);
      assert.match(up.stderr, /> PROT P/);
      assert.equal(await sha256File(path.join(t.root, name)), srcSha);

      const target = path.join(local, `${name}.down`);
      await curl([...version.args, '-o', target, implicitUrl(name)]);
      assert.equal(await sha256File(target), srcSha);
      await truncate(target, 12345);
      await curl([...version.args, '--disable-epsv', '-C', '-', '-o', target, implicitUrl(name)]);
      assert.equal(await sha256File(target), srcSha);

      const list = await curl([...version.args, implicitUrl('')]);
      assert.match(list.stdout, new RegExp(` ${name.replace(/\./g, '\\.')}\\r?\\n`));
      assert.equal(await refusals(), before);
    });
  }

  it('refuses to talk to a server whose certificate does not chain to the given CA', async (ctx) => {
    if (skipped(ctx)) return;
    const result = await run(
      'curl',
      ['--silent', '--show-error', '--max-time', '10', '--ssl-reqd', '--cacert', pki.rogueCaFile, '--user', `${ALICE.name}:${ALICE.password}`, explicitUrl('')],
      { timeoutMs: 15_000 },
    );
    // 60: peer certificate cannot be authenticated with the given CA certificates.
    assert.equal(result.code, 60, describeRun(result));
  });
});
