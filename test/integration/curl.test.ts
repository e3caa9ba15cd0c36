/**
 * @module test/integration/curl
 * The real server driven by the curl command-line client, looped over {plain, explicit TLS,
 * implicit TLS} on one server (test/helpers/client-suite).
 * Plain: login, LIST/NLST/MLSD/MLST, uploads and downloads with sha256 checks (64 MiB,
 * 0 bytes, awkward names), resume both ways (-C -: REST+RETR and APPE), quote commands
 * (RNFR/RNTO, DELE, MKD, RMD), EPSV, PASV (--disable-epsv), EPRT and PORT (-P, --disable-eprt)
 * and TYPE A (-B, --crlf).
 * TLS, the server certificate verified against the test CA: explicit (`--ssl-reqd ftp://`,
 * AUTH TLS + PBSZ 0 + PROT P) and implicit (`ftps://`) on TLS 1.2 and TLS 1.3, under the
 * default "enforced" data-channel session reuse (curl resumes the control session on data
 * connections). Uploads, downloads and resumes (-C -) both ways with sha256 checks, LIST/NLST,
 * EPSV and PASV (--disable-epsv); a certificate from another CA is refused.
 */
import assert from 'node:assert/strict';
import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  AWKWARD_NAMES,
  CURL_MISSING,
  MiB,
  describeRun,
  ftpUrl,
  randomBuffer,
  run,
  sha256,
  sha256File,
  type RunResult,
} from '../helpers/integration.js';
import { events, implicitPort, metricValue } from '../helpers/ftps-support.js';
import { TRANSPORTS, TRANSPORT_TITLES, assertClientLogs, listNames, commandsSeen, useClientFixture, type Transport } from '../helpers/client-suite.js';
import { exists, readAll, readText, seedFile } from '../helpers/storage.js';

const VERSIONS = [
  { name: 'TLSv1.2', args: ['--tlsv1.2', '--tls-max', '1.2'], banner: /SSL connection using TLSv1\.2/ },
  { name: 'TLSv1.3', args: ['--tlsv1.3'], banner: /SSL connection using TLSv1\.3/ },
] as const;

/** Entry names from MLSD output, without the cdir/pdir entries. */
function mlsdNames(text: string): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line !== '' && !/type=[cp]dir;/i.test(line))
    .map((line) => line.slice(line.indexOf(' ') + 1));
}

describe('curl client', () => {
  const f = useClientFixture({
    name: 'curl',
    missing: CURL_MISSING,
    config: { active: { enabled: true } },
    bigFile: true,
    manyFiles: true,
    payloadBytes: 2 * MiB + 333,
  });

  function url(p: string): string {
    return ftpUrl(f.t.host, f.t.port, p);
  }

  function curl(args: readonly string[], options: { password?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    return run(
      'curl',
      [
        '--silent',
        '--show-error',
        '--verbose',
        '--max-time',
        String(Math.ceil(timeoutMs / 1000) - 1),
        '--connect-timeout',
        '5',
        '--user',
        `${f.t.user}:${options.password ?? f.t.password}`,
        ...args,
      ],
      { timeoutMs },
    );
  }

  async function curlOk(args: readonly string[], timeoutMs?: number): Promise<RunResult> {
    const result = await curl(args, timeoutMs === undefined ? {} : { timeoutMs });
    assert.equal(result.code, 0, describeRun(result));
    return result;
  }

  for (const transport of TRANSPORTS) {
    describe(TRANSPORT_TITLES[transport], () => {
      if (transport === 'plain') plainCases();
      else tlsCases(transport);
    });
  }

  /** Plain FTP only: the full feature round (the TLS rounds below repeat the transfer core). */
  function plainCases(): void {
    it('logs in with the right password; a wrong one fails with 530 (exit 67)', async (ctx) => {
      if (f.skipped(ctx)) return;
      const ok = await curlOk(['--list-only', url('/')]);
      assert.match(ok.stderr, /< 230 /);
      const bad = await curl(['--list-only', url('/')], { password: 'wrong-password' });
      assert.equal(bad.code, 67, describeRun(bad));
      assert.match(bad.stderr, /< 530 /);
    });

    it('uploads 64 MiB over EPSV and downloads it over PASV with identical sha256', async (ctx) => {
      if (f.skipped(ctx)) return;
      const epsv = commandsSeen(f.t, 'EPSV');
      await curlOk(['--upload-file', f.bigPath, url('big.bin')], 60_000);
      assert.equal(sha256(await readAll(f.t.storage, '/big.bin')), f.bigSha);
      assert.ok(commandsSeen(f.t, 'EPSV') > epsv, 'EPSV used for the upload');

      const pasv = commandsSeen(f.t, 'PASV');
      const target = path.join(f.local, 'big.down');
      await curlOk(['--disable-epsv', '--output', target, url('big.bin')], 60_000);
      assert.equal(await sha256File(target), f.bigSha);
      assert.ok(commandsSeen(f.t, 'PASV') > pasv, 'PASV used for the download');
    });

    it('uses EPRT and PORT in active mode (-P), both directions', async (ctx) => {
      if (f.skipped(ctx)) return;
      const data = randomBuffer(5 * MiB + 7);
      const src = path.join(f.local, 'active.bin');
      await writeFile(src, data);
      for (const [verb, extra] of [
        ['EPRT', []],
        ['PORT', ['--disable-eprt']],
      ] as const) {
        const before = commandsSeen(f.t, verb);
        const up = await curlOk(['--ftp-port', '127.0.0.1', ...extra, '--upload-file', src, url(`active-${verb}.bin`)]);
        assert.match(up.stderr, new RegExp(`> ${verb} `));
        assert.equal(sha256(await readAll(f.t.storage, `/active-${verb}.bin`)), sha256(data), verb);
        const out = path.join(f.local, `active-${verb}.down`);
        await curlOk(['--ftp-port', '127.0.0.1', ...extra, '--output', out, url(`active-${verb}.bin`)]);
        assert.equal(sha256(await readFile(out)), sha256(data), verb);
        assert.ok(commandsSeen(f.t, verb) >= before + 2, `${verb} was used`);
      }
    });

    it('resumes a download (-C -: REST+RETR) and an upload (-C -: APPE)', async (ctx) => {
      if (f.skipped(ctx)) return;
      const data = randomBuffer(4 * MiB + 99);
      await seedFile(f.t.storage, '/resume.bin', data);
      const partial = path.join(f.local, 'resume.part');
      await writeFile(partial, data.subarray(0, 1_500_000));
      const down = await curlOk(['--continue-at', '-', '--output', partial, url('resume.bin')]);
      assert.match(down.stderr, /> REST 1500000/);
      assert.equal(sha256(await readFile(partial)), sha256(data));

      const full = path.join(f.local, 'resume-up.bin');
      await writeFile(full, data);
      await seedFile(f.t.storage, '/resume-up.bin', data.subarray(0, 3_000_000));
      const up = await curlOk(['--continue-at', '-', '--upload-file', full, url('resume-up.bin')]);
      assert.match(up.stderr, /> APPE /);
      assert.equal(sha256(await readAll(f.t.storage, '/resume-up.bin')), sha256(data));
    });

    it('lists 1,000 entries completely with LIST, NLST and MLSD, and reads MLST', async (ctx) => {
      if (f.skipped(ctx)) return;
      const list = await curlOk([url('many/')]);
      assert.deepEqual(listNames(list.stdout).sort(), f.manyNames);
      const nlst = await curlOk(['--list-only', url('many/')]);
      assert.deepEqual(nlst.stdout.split(/\r?\n/).filter(Boolean).sort(), f.manyNames);
      const mlsd = await curlOk(['--request', 'MLSD', url('many/')]);
      assert.deepEqual(mlsdNames(mlsd.stdout).sort(), f.manyNames);
      const mlst = await curlOk(['--quote', 'MLST many/f0007.txt', '--list-only', url('/')]);
      assert.match(mlst.stderr, /< 250-/);
      assert.match(mlst.stderr, /< +type=file;size=10;.* \/many\/f0007\.txt/);
    });

    it('renames, deletes, makes and removes directories via quote commands', async (ctx) => {
      if (f.skipped(ctx)) return;
      await seedFile(f.t.storage, '/before.txt', 'rename me');
      await curlOk(['--quote', 'RNFR before.txt', '--quote', 'RNTO after.txt', '--list-only', url('/')]);
      assert.equal(await readText(f.t.storage, '/after.txt'), 'rename me');
      assert.equal(await exists(f.t.storage, '/before.txt'), false);
      await curlOk(['--quote', 'DELE after.txt', '--quote', 'MKD made dir', '--list-only', url('/')]);
      assert.equal(await exists(f.t.storage, '/after.txt'), false);
      assert.equal((await f.t.storage.stat('/made dir')).type, 'directory');
      await curlOk(['--ftp-create-dirs', '--upload-file', path.join(f.local, 'active.bin'), url('made dir/new/deep.bin')]);
      assert.equal((await f.t.storage.stat('/made dir/new/deep.bin')).type, 'file');
      const refused = await curl(['--quote', 'RMD made dir', '--list-only', url('/')]);
      assert.notEqual(refused.code, 0, 'RMD of a non-empty directory must fail');
      assert.match(refused.stderr, /< 550 /);
      await curlOk([
        '--quote',
        'DELE made dir/new/deep.bin',
        '--quote',
        'RMD made dir/new',
        '--quote',
        'RMD made dir',
        '--list-only',
        url('/'),
      ]);
      assert.equal(await exists(f.t.storage, '/made dir'), false);
      const missing = await curl(['--quote', 'DELE does-not-exist', '--list-only', url('/')]);
      assert.notEqual(missing.code, 0);
    });

    it('handles names with spaces, quotes, UTF-8 and a leading dash', async (ctx) => {
      if (f.skipped(ctx)) return;
      for (const [i, name] of AWKWARD_NAMES.entries()) {
        const content = Buffer.from(`curl ${i} ${name}`, 'utf8');
        const src = path.join(f.local, `awk-${i}`);
        await writeFile(src, content);
        await curlOk(['--upload-file', src, url(`awk/${name}`), '--ftp-create-dirs']);
        assert.equal(sha256(await readAll(f.t.storage, `/awk/${name}`)), sha256(content), name);
        const out = path.join(f.local, `awk-${i}.down`);
        await curlOk(['--output', out, url(`awk/${name}`)]);
        assert.equal(sha256(await readFile(out)), sha256(content), name);
      }
      const nlst = await curlOk(['--list-only', url('awk/')]);
      assert.deepEqual(nlst.stdout.split(/\r?\n/).filter(Boolean).sort(), [...AWKWARD_NAMES].sort());
      const list = await curlOk([url('awk/')]);
      assert.deepEqual(listNames(list.stdout).sort(), [...AWKWARD_NAMES].sort());
    });

    it('transfers a 0-byte file both ways', async (ctx) => {
      if (f.skipped(ctx)) return;
      const empty = path.join(f.local, 'empty.bin');
      await writeFile(empty, '');
      await curlOk(['--upload-file', empty, url('zero.bin')]);
      assert.equal((await f.t.storage.stat('/zero.bin')).size, 0);
      const out = path.join(f.local, 'zero.down');
      await writeFile(out, 'stale content');
      await curlOk(['--output', out, url('zero.bin')]);
      assert.equal((await stat(out)).size, 0);
    });

    it('TYPE A (-B): the server sends CRLF on the wire and stores LF for uploads', async (ctx) => {
      if (f.skipped(ctx)) return;
      await seedFile(f.t.storage, '/lf.txt', 'alpha\nbeta\ngamma\n');
      // curl converts CRLF back to LF for its output, so inspect the raw bytes in the trace.
      const traceFile = path.join(f.local, 'trace.txt');
      const out = path.join(f.local, 'lf.down');
      await curlOk(['--use-ascii', '--trace', traceFile, '--output', out, url('lf.txt')]);
      const trace = await readFile(traceFile, 'utf8');
      assert.match(trace, /0000: 54 59 50 45 20 41 0d 0a +TYPE A/, 'TYPE A was sent');
      const received = [...trace.matchAll(/<= Recv data, (\d+) bytes/g)].reduce((n, m) => n + Number(m[1]), 0);
      assert.equal(received, 'alpha\r\nbeta\r\ngamma\r\n'.length, 'bytes on the wire in TYPE A');
      assert.match(trace, /0000: 61 6c 70 68 61 0d 0a 62 65 74 61 0d 0a/);
      assert.equal(await readFile(out, 'utf8'), 'alpha\nbeta\ngamma\n');

      // In ASCII mode curl itself turns every LF into CRLF on the wire, so an LF file arrives as
      // CRLF and must be stored with LF again.
      const lf = path.join(f.local, 'lf-up.txt');
      await writeFile(lf, 'three\nfour\n');
      const upTrace = path.join(f.local, 'trace-up.txt');
      await curlOk(['--use-ascii', '--trace', upTrace, '--upload-file', lf, url('from-lf.txt')]);
      assert.match(await readFile(upTrace, 'utf8'), /=> Send data, 13 bytes[^\n]*\n0000: 74 68 72 65 65 0d 0a 66 6f 75 72 0d 0a/);
      assert.equal(await readText(f.t.storage, '/from-lf.txt'), 'three\nfour\n');
      // A CRLF file goes out as CR CR LF: the CRLF pair becomes LF, the extra CR is data.
      const crlf = path.join(f.local, 'crlf.txt');
      await writeFile(crlf, 'one\r\ntwo\r\n');
      await curlOk(['--use-ascii', '--upload-file', crlf, url('from-crlf.txt')]);
      assert.equal(await readText(f.t.storage, '/from-crlf.txt'), 'one\r\ntwo\r\n');
      // The same upload in binary mode keeps the CRs.
      await curlOk(['--upload-file', crlf, url('binary-crlf.txt')]);
      assert.equal(await readText(f.t.storage, '/binary-crlf.txt'), 'one\r\ntwo\r\n');
    });

    it('gets 550 for a missing file (exit 78)', async (ctx) => {
      if (f.skipped(ctx)) return;
      const result = await curl(['--output', path.join(f.local, 'nothing'), url('no/such/file.bin')]);
      assert.notEqual(result.code, 0, describeRun(result));
      const plain = await curl(['--output', path.join(f.local, 'nothing'), url('no-such-file.bin')]);
      assert.equal(plain.code, 78, describeRun(plain));
      assert.match(plain.stderr, /< 550 /);
    });

    it('logged transfer records for this client and never the password', async (ctx) => {
      if (f.skipped(ctx)) return;
      assertClientLogs(f.t);
    });
  }

  /** curl over TLS with the test CA; fails on a non-zero exit or a 521/522 data-connection refusal. */
  async function tlsCurl(args: readonly string[]): Promise<RunResult> {
    const result = await run(
      'curl',
      ['--silent', '--show-error', '--verbose', '--max-time', '20', '--connect-timeout', '5', '--cacert', f.pki.caFile, '--user', `${f.t.user}:${f.t.password}`, ...args],
      { timeoutMs: 25_000 },
    );
    assert.equal(result.code, 0, describeRun(result));
    // Nothing may have gone over a clear-text or refused data connection.
    assert.doesNotMatch(result.stderr, /< 52[12] /, describeRun(result));
    return result;
  }

  function explicitUrl(p: string): string {
    return `ftp://127.0.0.1:${f.t.port}/${p}`;
  }

  function implicitUrl(p: string): string {
    return `ftps://127.0.0.1:${implicitPort(f.t)}/${p}`;
  }

  async function refusals(): Promise<number> {
    return metricValue(f.t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"');
  }

  function tlsCases(transport: Exclude<Transport, 'plain'>): void {
    if (transport === 'implicit') {
      for (const version of VERSIONS) {
        it(`implicit ${version.name} (ftps://): upload, download, resume and list`, async (ctx) => {
          if (f.skipped(ctx)) return;
          const before = await refusals();
          const name = `implicit-${version.name}.bin`;
          const up = await tlsCurl([...version.args, '-T', f.payloadPath, implicitUrl(name)]);
          assert.match(up.stderr, version.banner);
          assert.doesNotMatch(up.stderr, /> AUTH /);
          assert.match(up.stderr, /> PROT P/);
          assert.equal(sha256(await readAll(f.t.storage, `/${name}`)), f.payloadSha);

          const target = path.join(f.local, `${name}.down`);
          await tlsCurl([...version.args, '-o', target, implicitUrl(name)]);
          assert.equal(await sha256File(target), f.payloadSha);
          await truncate(target, 12345);
          await tlsCurl([...version.args, '--disable-epsv', '-C', '-', '-o', target, implicitUrl(name)]);
          assert.equal(await sha256File(target), f.payloadSha);

          const list = await tlsCurl([...version.args, implicitUrl('')]);
          assert.match(list.stdout, new RegExp(` ${name.replace(/\./g, '\\.')}\\r?\\n`));
          assert.equal(await refusals(), before);
        });
      }
      return;
    }
    // Mode guard: the remaining cases (AUTH TLS on the main port) are explicit-only.
    for (const version of VERSIONS) {
      it(`explicit ${version.name}: uploads, downloads and lists over PROT P (EPSV), sha256 intact`, async (ctx) => {
        if (f.skipped(ctx)) return;
        const before = await refusals();
        const handshakes = async (channel: string) => metricValue(f.t, 'kftpd_tls_handshakes_total', `channel="${channel}",result="ok"`);
        const [controlBefore, dataBefore] = [await handshakes('control'), await handshakes('data')];
        const name = `explicit-${version.name}.bin`;
        const up = await tlsCurl(['--ssl-reqd', ...version.args, '-T', f.payloadPath, explicitUrl(name)]);
        assert.match(up.stderr, version.banner);
        assert.match(up.stderr, /> AUTH (SSL|TLS)\r?\n< 234 /);
        assert.match(up.stderr, /> PROT P/);
        assert.match(up.stderr, /> EPSV/);
        assert.match(up.stderr, /< 226 /);
        assert.equal(sha256(await readAll(f.t.storage, `/${name}`)), f.payloadSha);

        const target = path.join(f.local, `${name}.down`);
        await tlsCurl(['--ssl-reqd', ...version.args, '-o', target, explicitUrl(name)]);
        assert.equal(await sha256File(target), f.payloadSha);

        const list = await tlsCurl(['--ssl-reqd', ...version.args, explicitUrl('')]);
        assert.match(list.stdout, new RegExp(` ${name.replace(/\./g, '\\.')}\\r?\\n`));
        const nlst = await tlsCurl(['--ssl-reqd', ...version.args, '--list-only', explicitUrl('')]);
        assert.ok(nlst.stdout.split(/\r?\n/).includes(name), nlst.stdout);

        assert.equal(await refusals(), before, 'curl\'s data connections were refused as not resumed');
        assert.ok((await handshakes('control')) > controlBefore, 'control handshakes are counted');
        assert.ok((await handshakes('data')) > dataBefore, 'data handshakes are counted');
      });

      it(`explicit ${version.name}: PASV (--disable-epsv) and resume both ways (-C -)`, async (ctx) => {
        if (f.skipped(ctx)) return;
        const name = `resume-${version.name}.bin`;
        const source = await readFile(f.payloadPath);
        // Upload resume: half the file is already on the server; curl sends SIZE then APPE.
        await seedFile(f.t.storage, `/${name}`, source.subarray(0, MiB));
        const up = await tlsCurl(['--ssl-reqd', ...version.args, '--disable-epsv', '-C', '-', '-T', f.payloadPath, explicitUrl(name)]);
        assert.match(up.stderr, /> PASV/);
        assert.match(up.stderr, /> APPE /);
        assert.equal(sha256(await readAll(f.t.storage, `/${name}`)), f.payloadSha);

        // Download resume: a partial local copy; curl sends REST then RETR.
        const target = path.join(f.local, `${name}.down`);
        await writeFile(target, source.subarray(0, 777_777));
        const down = await tlsCurl(['--ssl-reqd', ...version.args, '--disable-epsv', '-C', '-', '-o', target, explicitUrl(name)]);
        assert.match(down.stderr, /> REST 777777/);
        assert.equal(await sha256File(target), f.payloadSha);
        assert.deepEqual(events(f.t, 'tls.data-not-resumed'), []);
      });
    }

    it('refuses to talk to a server whose certificate does not chain to the given CA', async (ctx) => {
      if (f.skipped(ctx)) return;
      const result = await run(
        'curl',
        ['--silent', '--show-error', '--max-time', '10', '--ssl-reqd', '--cacert', f.pki.rogueCaFile, '--user', `${f.t.user}:${f.t.password}`, explicitUrl('')],
        { timeoutMs: 15_000 },
      );
      // 60: peer certificate cannot be authenticated with the given CA certificates.
      assert.equal(result.code, 60, describeRun(result));
    });
  }
});
