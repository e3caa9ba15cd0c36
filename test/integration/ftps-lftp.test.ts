/**
 * @module test/integration/ftps-lftp
 * The real server driven by lftp (GnuTLS) over FTPS with certificate verification against
 * the test CA, under the default "enforced" data-channel session reuse: explicit
 * (ftp:ssl-force, ftp:ssl-protect-data) and implicit (ftps:// URL), on TLS 1.3 and TLS 1.2
 * (ssl:priority). put/get with sha256 checks, listings (ls, cls), resume both ways (get -c,
 * put -c), and a refusal when the certificate does not chain to the configured CA.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { TestServer } from '../helpers/server.js';
import { LFTP_MISSING, MiB, describeRun, makeTempDir, removeDir, run, sha256File, writeRandomFile, type RunResult } from '../helpers/integration.js';
import { ALICE, events, implicitPort, metricValue, startFtpsServer } from '../helpers/ftps-support.js';

const VERSIONS = [
  { name: 'TLSv1.3', priority: 'NORMAL:-VERS-ALL:+VERS-TLS1.3' },
  { name: 'TLSv1.2', priority: 'NORMAL:-VERS-ALL:+VERS-TLS1.2' },
] as const;

/** Quotes one argument for lftp's command parser. */
function q(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

describe('lftp over FTPS (sessionReuse enforced)', () => {
  let dir: string;
  let local: string;
  let pki: TestPki;
  let t: TestServer;
  let srcPath: string;
  let srcSha: string;
  let scripts = 0;

  before(async () => {
    dir = await makeTempDir('ftps-lftp');
    local = path.join(dir, 'local');
    await mkdir(local);
    pki = await createTestPki(path.join(dir, 'pki'));
    t = await startFtpsServer(pki, { config: { tls: { implicit: { enabled: true, port: 0 } } } });
    srcPath = path.join(local, 'source.bin');
    srcSha = await writeRandomFile(srcPath, 2 * MiB + 77);
  });

  after(async () => {
    await t.close();
    await removeDir(dir);
  });

  function skipped(ctx: TestContext): boolean {
    const reason = LFTP_MISSING();
    if (reason) ctx.skip(reason);
    return reason !== null;
  }

  /** Runs an lftp script (-d puts the dialogue on stderr); any failing command fails it. */
  async function lftp(open: string, commands: readonly string[], options: { priority?: string; caFile?: string } = {}): Promise<RunResult> {
    const script = path.join(local, `script-${++scripts}.lftp`);
    await writeFile(
      script,
      [
        'set cmd:fail-exit yes',
        'set cmd:interactive no',
        'set net:max-retries 1',
        'set net:timeout 10',
        'set net:reconnect-interval-base 1',
        'set xfer:clobber on',
        'set cache:enable no',
        'set ftp:ssl-force true',
        'set ftp:ssl-protect-data true',
        'set ftp:ssl-protect-list true',
        `set ssl:ca-file ${q(options.caFile ?? pki.caFile)}`,
        'set ssl:verify-certificate true',
        'set ssl:check-hostname true',
        ...(options.priority ? [`set ssl:priority ${q(options.priority)}`] : []),
        open,
        ...commands,
        'bye',
        '',
      ].join('\n'),
    );
    return run('lftp', ['-d', '-f', script], { timeoutMs: 25_000 });
  }

  function explicitOpen(): string {
    return `open -u ${ALICE.name},${ALICE.password} -p ${t.port} 127.0.0.1`;
  }

  function implicitOpen(): string {
    return `open -u ${ALICE.name},${ALICE.password} ftps://127.0.0.1:${implicitPort(t)}`;
  }

  async function ok(result: Promise<RunResult>): Promise<RunResult> {
    const done = await result;
    assert.equal(done.code, 0, describeRun(done));
    assert.doesNotMatch(done.stderr, /<--- 52[12] /, describeRun(done));
    return done;
  }

  /** The protocol of the latest control-connection TLS handshake the server logged. */
  function lastControlProtocol(): unknown {
    return events(t, 'tls.established').at(-1)?.protocol;
  }

  for (const version of VERSIONS) {
    it(`explicit ${version.name}: put, get, ls and cls over PROT P with sha256 intact`, async (ctx) => {
      if (skipped(ctx)) return;
      const before = await metricValue(t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"');
      const name = `explicit-${version.name}.bin`;
      const target = path.join(local, `${name}.down`);
      const result = await ok(lftp(explicitOpen(), [`put ${q(srcPath)} -o ${q(name)}`, `get ${q(name)} -o ${q(target)}`, 'ls', 'cls -1'], { priority: version.priority }));
      assert.match(result.stderr, /---> AUTH TLS\s+<--- 234 /);
      assert.match(result.stderr, /---> PROT P\s+<--- 200 /);
      assert.equal(lastControlProtocol(), version.name);
      assert.equal(await sha256File(path.join(t.root, name)), srcSha);
      assert.equal(await sha256File(target), srcSha);
      assert.match(result.stdout, new RegExp(` ${name.replace(/\./g, '\\.')}\\r?\\n`));
      assert.ok(result.stdout.split(/\r?\n/).includes(name), result.stdout);
      assert.equal(await metricValue(t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"'), before, 'lftp\'s data connections were refused');
    });

    it(`implicit ${version.name} (ftps://): put, get, resume both ways (put -c, get -c) and ls`, async (ctx) => {
      if (skipped(ctx)) return;
      const name = `implicit-${version.name}.bin`;
      const source = await readFile(srcPath);
      await writeFile(path.join(t.root, name), source.subarray(0, MiB));
      const target = path.join(local, `${name}.down`);
      await writeFile(target, source.subarray(0, 500_001));
      const result = await ok(lftp(implicitOpen(), [`put -c ${q(srcPath)} -o ${q(name)}`, `get -c ${q(name)} -o ${q(target)}`, 'ls'], { priority: version.priority }));
      assert.doesNotMatch(result.stderr, /---> AUTH /);
      assert.match(result.stderr, /---> REST 1048576/);
      assert.match(result.stderr, /---> REST 500001/);
      assert.equal(lastControlProtocol(), version.name);
      assert.equal(await sha256File(path.join(t.root, name)), srcSha);
      assert.equal(await sha256File(target), srcSha);
      assert.match(result.stdout, new RegExp(` ${name.replace(/\./g, '\\.')}\\r?\\n`));
    });
  }

  it('EPSV over explicit FTPS (ftp:prefer-epsv)', async (ctx) => {
    if (skipped(ctx)) return;
    const target = path.join(local, 'epsv.down');
    await ok(lftp(explicitOpen(), ['set ftp:prefer-epsv yes', `put ${q(srcPath)} -o epsv.bin`, `get epsv.bin -o ${q(target)}`]));
    assert.equal(await sha256File(target), srcSha);
    assert.deepEqual(events(t, 'tls.data-not-resumed'), []);
  });

  it('refuses a server certificate that does not chain to ssl:ca-file', async (ctx) => {
    if (skipped(ctx)) return;
    const result = await lftp(explicitOpen(), ['ls'], { caFile: pki.rogueCaFile });
    assert.notEqual(result.code, 0, describeRun(result));
    assert.doesNotMatch(result.stderr, /---> PASS /, 'the password was sent to an unverified server');
  });
});
