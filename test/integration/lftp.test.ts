/**
 * @module test/integration/lftp
 * The real server driven by lftp, looped over {plain, explicit TLS, implicit TLS} on one
 * server (test/helpers/client-suite).
 * Plain: login, ls (LIST), nlist (NLST), cls (MLSD), quote MLST, get/put with sha256 checks
 * (64 MiB, 0 bytes, awkward names), resume both ways (get -c: REST+RETR, put -c: REST+STOR),
 * mv/rm/mkdir/rmdir, PASV (lftp's default), EPSV (ftp:prefer-epsv), PORT (ftp:passive-mode
 * off) and ASCII transfers (get -a, put -a).
 * TLS (lftp with GnuTLS, certificate verified against the test CA, default "enforced"
 * data-channel session reuse): explicit (ftp:ssl-force, ftp:ssl-protect-data) and implicit
 * (ftps:// URL), on TLS 1.3 and TLS 1.2 (ssl:priority). put/get with sha256 checks, listings
 * (ls, cls), resume both ways (get -c, put -c), EPSV, and a refusal when the certificate does
 * not chain to the configured CA.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AWKWARD_NAMES, LFTP_MISSING, LFTP_SCRIPT_SETTINGS, lftpQuote as q, lftpTlsSettings, MiB, describeRun, randomBuffer, run, sha256, sha256File, type RunResult } from '../helpers/integration.js';
import { events, implicitPort, metricValue } from '../helpers/ftps-support.js';
import { TRANSPORTS, TRANSPORT_TITLES, assertClientLogs, listNames, useClientFixture, type Transport } from '../helpers/client-suite.js';
import { exists, readAll, readText, seedFile } from '../helpers/storage.js';

const VERSIONS = [
  { name: 'TLSv1.3', priority: 'NORMAL:-VERS-ALL:+VERS-TLS1.3' },
  { name: 'TLSv1.2', priority: 'NORMAL:-VERS-ALL:+VERS-TLS1.2' },
] as const;

function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line !== '');
}

describe('lftp client', () => {
  const f = useClientFixture({
    name: 'lftp',
    missing: LFTP_MISSING,
    config: { active: { enabled: true } },
    bigFile: true,
    manyFiles: true,
    payloadBytes: 2 * MiB + 77,
  });
  let scripts = 0;

  for (const transport of TRANSPORTS) {
    describe(TRANSPORT_TITLES[transport], () => {
      if (transport === 'plain') plainCases();
      else tlsCases(transport);
    });
  }

  /**
   * Runs lftp on a script (one command per line) after connecting; -d puts the protocol
   * dialogue on stderr. Any failing command makes lftp exit non-zero (cmd:fail-exit).
   */
  async function lftp(commands: readonly string[], options: { password?: string; timeoutMs?: number; settings?: readonly string[] } = {}): Promise<RunResult> {
    const script = path.join(f.local, `script-${++scripts}.lftp`);
    await writeFile(
      script,
      [
        ...LFTP_SCRIPT_SETTINGS,
        'set net:reconnect-interval-base 1',
        'set ftp:ssl-allow no',
        ...(options.settings ?? []),
        `open -u ${f.t.user},${options.password ?? f.t.password} -p ${f.t.port} ${f.t.host}`,
        ...commands,
        'bye',
        '',
      ].join('\n'),
    );
    return run('lftp', ['-d', '-f', script], { timeoutMs: options.timeoutMs ?? 30_000 });
  }

  async function lftpOk(commands: readonly string[], options: { timeoutMs?: number; settings?: readonly string[] } = {}): Promise<RunResult> {
    const result = await lftp(commands, options);
    assert.equal(result.code, 0, describeRun(result));
    return result;
  }

  /** Plain FTP only: the full feature round (the TLS rounds below repeat the transfer core). */
  function plainCases(): void {
    it('logs in with the right password; a wrong one fails with 530', async (ctx) => {
      if (f.skipped(ctx)) return;
      const ok = await lftpOk(['nlist']);
      assert.match(ok.stderr, /<--- 230 /);
      const bad = await lftp(['ls'], { password: 'wrong-password' });
      assert.notEqual(bad.code, 0, describeRun(bad));
      assert.match(bad.stderr, /530/);
    });

    it('puts 64 MiB over PASV and gets it over EPSV with identical sha256', async (ctx) => {
      if (f.skipped(ctx)) return;
      const up = await lftpOk([`put ${q(f.bigPath)} -o big.bin`], { timeoutMs: 60_000 });
      assert.match(up.stderr, /---> PASV/);
      assert.equal(sha256(await readAll(f.t.storage, '/big.bin')), f.bigSha);
      const target = path.join(f.local, 'big.down');
      const down = await lftpOk([`get big.bin -o ${q(target)}`], { timeoutMs: 60_000, settings: ['set ftp:prefer-epsv yes'] });
      assert.match(down.stderr, /---> EPSV/);
      assert.equal(await sha256File(target), f.bigSha);
    });

    it('uses PORT in active mode (ftp:passive-mode off), both directions', async (ctx) => {
      if (f.skipped(ctx)) return;
      const data = randomBuffer(6 * MiB + 1);
      const src = path.join(f.local, 'active.bin');
      await writeFile(src, data);
      const out = path.join(f.local, 'active.down');
      const result = await lftpOk([`put ${q(src)} -o active.bin`, `get active.bin -o ${q(out)}`], {
        settings: ['set ftp:passive-mode off'],
      });
      assert.match(result.stderr, /---> (PORT|EPRT) /);
      assert.doesNotMatch(result.stderr, /---> (PASV|EPSV)/);
      assert.equal(sha256(await readAll(f.t.storage, '/active.bin')), sha256(data));
      assert.equal(sha256(await readFile(out)), sha256(data));
    });

    it('resumes a download (get -c: REST+RETR) and an upload (put -c: REST+STOR)', async (ctx) => {
      if (f.skipped(ctx)) return;
      const data = randomBuffer(5 * MiB + 5);
      await seedFile(f.t.storage, '/resume.bin', data);
      const partial = path.join(f.local, 'resume.part');
      await writeFile(partial, data.subarray(0, 2_000_000));
      const down = await lftpOk([`get -c resume.bin -o ${q(partial)}`]);
      assert.match(down.stderr, /---> REST 2000000/);
      assert.equal(sha256(await readFile(partial)), sha256(data));

      const full = path.join(f.local, 'resume-full.bin');
      await writeFile(full, data);
      await seedFile(f.t.storage, '/resume-up.bin', data.subarray(0, 3_333_333));
      const up = await lftpOk([`put -c ${q(full)} -o resume-up.bin`]);
      assert.match(up.stderr, /---> REST 3333333\r?\n<--- 350[^\n]*\n---> STOR resume-up\.bin/);
      assert.equal(sha256(await readAll(f.t.storage, '/resume-up.bin')), sha256(data));
    });

    it('lists 1,000 entries completely with ls (LIST), nlist (NLST) and cls (MLSD); quote MLST', async (ctx) => {
      if (f.skipped(ctx)) return;
      const ls = await lftpOk(['ls many']);
      assert.match(ls.stderr, /---> LIST/);
      assert.deepEqual(listNames(ls.stdout).sort(), f.manyNames);
      const nlist = await lftpOk(['nlist many']);
      assert.match(nlist.stderr, /---> NLST/);
      assert.deepEqual(lines(nlist.stdout).sort(), f.manyNames);
      const cls = await lftpOk(['cls -1 many/']);
      assert.match(cls.stderr, /---> MLSD/);
      assert.deepEqual(lines(cls.stdout).map((line) => path.posix.basename(line)).sort(), f.manyNames);
      const mlst = await lftpOk(['quote MLST many/f0042.txt']);
      assert.match(mlst.stdout + mlst.stderr, /type=file;size=10;[^\n]* \/many\/f0042\.txt/);
    });

    it('mkdir, mv, rm and rmdir', async (ctx) => {
      if (f.skipped(ctx)) return;
      const src = path.join(f.local, 'small.txt');
      await writeFile(src, 'small');
      await lftpOk(['mkdir -p "top dir/sub"', `put ${q(src)} -o "top dir/sub/a.txt"`, 'mv "top dir/sub/a.txt" "top dir/b.txt"']);
      assert.equal(await readText(f.t.storage, '/top dir/b.txt'), 'small');
      assert.equal(await exists(f.t.storage, '/top dir/sub/a.txt'), false);
      const refused = await lftp(['rmdir "top dir"']);
      assert.notEqual(refused.code, 0, 'rmdir of a non-empty directory must fail');
      assert.match(refused.stderr, /<--- 550/);
      await lftpOk(['rm "top dir/b.txt"', 'rmdir "top dir/sub"', 'rmdir "top dir"']);
      assert.equal(await exists(f.t.storage, '/top dir'), false);
      const missing = await lftp(['rm no-such-file.txt']);
      assert.notEqual(missing.code, 0);
    });

    it('handles names with spaces, quotes, UTF-8 and a leading dash', async (ctx) => {
      if (f.skipped(ctx)) return;
      const commands = ['mkdir awk'];
      const contents = new Map<string, Buffer>();
      for (const [i, name] of AWKWARD_NAMES.entries()) {
        const content = Buffer.from(`lftp ${i} ${name}`, 'utf8');
        contents.set(name, content);
        const src = path.join(f.local, `awk-${i}`);
        await writeFile(src, content);
        commands.push(`put ${q(src)} -o ${q(`awk/${name}`)}`, `get ${q(`awk/${name}`)} -o ${q(path.join(f.local, `awk-${i}.down`))}`);
      }
      await lftpOk(commands);
      for (const [i, name] of AWKWARD_NAMES.entries()) {
        const content = contents.get(name) ?? Buffer.alloc(0);
        assert.equal(sha256(await readAll(f.t.storage, `/awk/${name}`)), sha256(content), name);
        assert.equal(sha256(await readFile(path.join(f.local, `awk-${i}.down`))), sha256(content), name);
      }
      const cls = await lftpOk(['cls -1 awk/']);
      assert.deepEqual(lines(cls.stdout).map((line) => path.posix.basename(line)).sort(), [...AWKWARD_NAMES].sort());
      const ls = await lftpOk(['ls awk']);
      assert.deepEqual(listNames(ls.stdout).sort(), [...AWKWARD_NAMES].sort());
      await lftpOk([`mv ${q(`awk/${AWKWARD_NAMES[0] ?? ''}`)} ${q('awk/renamed "twice" é.txt')}`]);
      assert.equal((await f.t.storage.stat('/awk/renamed "twice" é.txt')).type, 'file');
    });

    it('transfers a 0-byte file both ways', async (ctx) => {
      if (f.skipped(ctx)) return;
      const empty = path.join(f.local, 'empty.bin');
      await writeFile(empty, '');
      const out = path.join(f.local, 'zero.down');
      await writeFile(out, 'stale');
      await lftpOk([`put ${q(empty)} -o zero.bin`, `get zero.bin -o ${q(out)}`]);
      assert.equal((await f.t.storage.stat('/zero.bin')).size, 0);
      assert.equal((await stat(out)).size, 0);
    });

    it('ASCII mode: put -a stores LF (lftp sends CRLF), get -a round-trips, binary keeps bytes', async (ctx) => {
      if (f.skipped(ctx)) return;
      const lf = path.join(f.local, 'lf.txt');
      await writeFile(lf, 'first\nsecond\n\nlast\n');
      await seedFile(f.t.storage, '/server-lf.txt', 'u\nv\nw\n');
      const out = path.join(f.local, 'server-lf.down');
      const outBin = path.join(f.local, 'server-lf.bin');
      const result = await lftpOk([
        `put -a ${q(lf)} -o ascii-up.txt`,
        `get -a server-lf.txt -o ${q(out)}`,
        `put ${q(lf)} -o binary-up.txt`,
        `get server-lf.txt -o ${q(outBin)}`,
      ]);
      assert.match(result.stderr, /---> RETR server-lf\.txt\r?\n<--- 150 Opening ASCII mode/);
      assert.equal(await readText(f.t.storage, '/ascii-up.txt'), 'first\nsecond\n\nlast\n');
      assert.equal(await readFile(out, 'utf8'), 'u\nv\nw\n');
      assert.equal(await readText(f.t.storage, '/binary-up.txt'), 'first\nsecond\n\nlast\n');
      assert.equal(await readFile(outBin, 'utf8'), 'u\nv\nw\n');
    });

    it('logged transfer records for this client and never the password', async (ctx) => {
      if (f.skipped(ctx)) return;
      assertClientLogs(f.t);
    });
  }

  /** Runs an lftp script (-d puts the dialogue on stderr); any failing command fails it. */
  async function tlsLftp(open: string, commands: readonly string[], options: { priority?: string; caFile?: string } = {}): Promise<RunResult> {
    const script = path.join(f.local, `script-${++scripts}.lftp`);
    await writeFile(
      script,
      [
        ...LFTP_SCRIPT_SETTINGS,
        'set net:reconnect-interval-base 1',
        ...lftpTlsSettings(options.caFile ?? f.pki.caFile),
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
    return `open -u ${f.t.user},${f.t.password} -p ${f.t.port} 127.0.0.1`;
  }

  function implicitOpen(): string {
    return `open -u ${f.t.user},${f.t.password} ftps://127.0.0.1:${implicitPort(f.t)}`;
  }

  async function ok(result: Promise<RunResult>): Promise<RunResult> {
    const done = await result;
    assert.equal(done.code, 0, describeRun(done));
    assert.doesNotMatch(done.stderr, /<--- 52[12] /, describeRun(done));
    return done;
  }

  /** The protocol of the latest control-connection TLS handshake the server logged. */
  function lastControlProtocol(): unknown {
    return events(f.t, 'tls.established').at(-1)?.protocol;
  }

  function tlsCases(transport: Exclude<Transport, 'plain'>): void {
    if (transport === 'implicit') {
      for (const version of VERSIONS) {
        it(`implicit ${version.name} (ftps://): put, get, resume both ways (put -c, get -c) and ls`, async (ctx) => {
          if (f.skipped(ctx)) return;
          const name = `implicit-${version.name}.bin`;
          const source = await readFile(f.payloadPath);
          await seedFile(f.t.storage, `/${name}`, source.subarray(0, MiB));
          const target = path.join(f.local, `${name}.down`);
          await writeFile(target, source.subarray(0, 500_001));
          const result = await ok(tlsLftp(implicitOpen(), [`put -c ${q(f.payloadPath)} -o ${q(name)}`, `get -c ${q(name)} -o ${q(target)}`, 'ls'], { priority: version.priority }));
          assert.doesNotMatch(result.stderr, /---> AUTH /);
          assert.match(result.stderr, /---> REST 1048576/);
          assert.match(result.stderr, /---> REST 500001/);
          assert.equal(lastControlProtocol(), version.name);
          assert.equal(sha256(await readAll(f.t.storage, `/${name}`)), f.payloadSha);
          assert.equal(await sha256File(target), f.payloadSha);
          assert.match(result.stdout, new RegExp(` ${name.replace(/\./g, '\\.')}\\r?\\n`));
        });
      }
      return;
    }
    // Mode guard: the remaining cases (AUTH TLS on the main port) are explicit-only.
    for (const version of VERSIONS) {
      it(`explicit ${version.name}: put, get, ls and cls over PROT P with sha256 intact`, async (ctx) => {
        if (f.skipped(ctx)) return;
        const before = await metricValue(f.t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"');
        const name = `explicit-${version.name}.bin`;
        const target = path.join(f.local, `${name}.down`);
        const result = await ok(tlsLftp(explicitOpen(), [`put ${q(f.payloadPath)} -o ${q(name)}`, `get ${q(name)} -o ${q(target)}`, 'ls', 'cls -1'], { priority: version.priority }));
        assert.match(result.stderr, /---> AUTH TLS\s+<--- 234 /);
        assert.match(result.stderr, /---> PROT P\s+<--- 200 /);
        assert.equal(lastControlProtocol(), version.name);
        assert.equal(sha256(await readAll(f.t.storage, `/${name}`)), f.payloadSha);
        assert.equal(await sha256File(target), f.payloadSha);
        assert.match(result.stdout, new RegExp(` ${name.replace(/\./g, '\\.')}\\r?\\n`));
        assert.ok(result.stdout.split(/\r?\n/).includes(name), result.stdout);
        assert.equal(await metricValue(f.t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"'), before, 'lftp\'s data connections were refused');
      });
    }

    it('EPSV over explicit FTPS (ftp:prefer-epsv)', async (ctx) => {
      if (f.skipped(ctx)) return;
      const target = path.join(f.local, 'epsv.down');
      await ok(tlsLftp(explicitOpen(), ['set ftp:prefer-epsv yes', `put ${q(f.payloadPath)} -o epsv.bin`, `get epsv.bin -o ${q(target)}`]));
      assert.equal(await sha256File(target), f.payloadSha);
      assert.deepEqual(events(f.t, 'tls.data-not-resumed'), []);
    });

    it('refuses a server certificate that does not chain to ssl:ca-file', async (ctx) => {
      if (f.skipped(ctx)) return;
      const result = await tlsLftp(explicitOpen(), ['ls'], { caFile: f.pki.rogueCaFile });
      assert.notEqual(result.code, 0, describeRun(result));
      assert.doesNotMatch(result.stderr, /---> PASS /, 'the password was sent to an unverified server');
    });
  }
});
