/**
 * @module test/integration/curl
 * The real server driven by the curl command-line client: login, LIST/NLST/MLSD/MLST,
 * uploads and downloads with sha256 checks (64 MiB, 0 bytes, awkward names), resume both ways
 * (-C -: REST+RETR and APPE), quote commands (RNFR/RNTO, DELE, MKD, RMD), EPSV, PASV
 * (--disable-epsv), EPRT and PORT (-P, --disable-eprt) and TYPE A (-B, --crlf).
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  AWKWARD_NAMES,
  CURL_MISSING,
  MiB,
  createManyFiles,
  describeRun,
  ftpUrl,
  makeTempDir,
  randomBuffer,
  removeDir,
  run,
  sha256,
  sha256File,
  writeRandomFile,
  type RunResult,
} from '../helpers/integration.js';

/** Entry names from `ls -l` style LIST output. */
function listNames(text: string): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line !== '')
    .map((line) => {
      const match = /^\S{10} +\d+ +\S+ +\S+ +\d+ +\w{3} +\d+ +[\d:]+ (.*)$/.exec(line);
      assert.ok(match, `unparsable LIST line: ${JSON.stringify(line)}`);
      return match[1] ?? '';
    });
}

/** Entry names from MLSD output, without the cdir/pdir entries. */
function mlsdNames(text: string): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line !== '' && !/type=[cp]dir;/i.test(line))
    .map((line) => line.slice(line.indexOf(' ') + 1));
}

describe('curl client', () => {
  let t: TestServer;
  let local: string;
  let bigPath: string;
  let bigSha: string;
  let manyNames: string[];

  before(async () => {
    t = await startTestServer({ config: { active: { enabled: true } } });
    local = await makeTempDir('curl');
    if (CURL_MISSING()) return;
    bigPath = path.join(local, 'big.bin');
    bigSha = await writeRandomFile(bigPath, 64 * MiB);
    manyNames = await createManyFiles(path.join(t.root, 'many'), 1000);
  });

  after(async () => {
    await t.close();
    await removeDir(local);
  });

  /** True (and the test skipped) when curl is not installed. */
  function skipped(ctx: TestContext): boolean {
    const reason = CURL_MISSING();
    if (reason) ctx.skip(reason);
    return reason !== null;
  }

  function url(p: string): string {
    return ftpUrl(t.host, t.port, p);
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
        `${t.user}:${options.password ?? t.password}`,
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

  function commandsSeen(verb: string): number {
    return t.logs.filter((r) => r.event === 'command' && r.verb === verb).length;
  }

  it('logs in with the right password; a wrong one fails with 530 (exit 67)', async (ctx) => {
    if (skipped(ctx)) return;
    const ok = await curlOk(['--list-only', url('/')]);
    assert.match(ok.stderr, /< 230 /);
    const bad = await curl(['--list-only', url('/')], { password: 'wrong-password' });
    assert.equal(bad.code, 67, describeRun(bad));
    assert.match(bad.stderr, /< 530 /);
  });

  it('uploads 64 MiB over EPSV and downloads it over PASV with identical sha256', async (ctx) => {
    if (skipped(ctx)) return;
    const epsv = commandsSeen('EPSV');
    await curlOk(['--upload-file', bigPath, url('big.bin')], 60_000);
    assert.equal(await sha256File(path.join(t.root, 'big.bin')), bigSha);
    assert.ok(commandsSeen('EPSV') > epsv, 'EPSV used for the upload');

    const pasv = commandsSeen('PASV');
    const target = path.join(local, 'big.down');
    await curlOk(['--disable-epsv', '--output', target, url('big.bin')], 60_000);
    assert.equal(await sha256File(target), bigSha);
    assert.ok(commandsSeen('PASV') > pasv, 'PASV used for the download');
  });

  it('uses EPRT and PORT in active mode (-P), both directions', async (ctx) => {
    if (skipped(ctx)) return;
    const data = randomBuffer(5 * MiB + 7);
    const src = path.join(local, 'active.bin');
    await writeFile(src, data);
    for (const [verb, extra] of [
      ['EPRT', []],
      ['PORT', ['--disable-eprt']],
    ] as const) {
      const before = commandsSeen(verb);
      const up = await curlOk(['--ftp-port', '127.0.0.1', ...extra, '--upload-file', src, url(`active-${verb}.bin`)]);
      assert.match(up.stderr, new RegExp(`> ${verb} `));
      assert.equal(sha256(await readFile(path.join(t.root, `active-${verb}.bin`))), sha256(data), verb);
      const out = path.join(local, `active-${verb}.down`);
      await curlOk(['--ftp-port', '127.0.0.1', ...extra, '--output', out, url(`active-${verb}.bin`)]);
      assert.equal(sha256(await readFile(out)), sha256(data), verb);
      assert.ok(commandsSeen(verb) >= before + 2, `${verb} was used`);
    }
  });

  it('resumes a download (-C -: REST+RETR) and an upload (-C -: APPE)', async (ctx) => {
    if (skipped(ctx)) return;
    const data = randomBuffer(4 * MiB + 99);
    await writeFile(path.join(t.root, 'resume.bin'), data);
    const partial = path.join(local, 'resume.part');
    await writeFile(partial, data.subarray(0, 1_500_000));
    const down = await curlOk(['--continue-at', '-', '--output', partial, url('resume.bin')]);
    assert.match(down.stderr, /> REST 1500000/);
    assert.equal(sha256(await readFile(partial)), sha256(data));

    const full = path.join(local, 'resume-up.bin');
    await writeFile(full, data);
    await writeFile(path.join(t.root, 'resume-up.bin'), data.subarray(0, 3_000_000));
    const up = await curlOk(['--continue-at', '-', '--upload-file', full, url('resume-up.bin')]);
    assert.match(up.stderr, /> APPE /);
    assert.equal(sha256(await readFile(path.join(t.root, 'resume-up.bin'))), sha256(data));
  });

  it('lists 1,000 entries completely with LIST, NLST and MLSD, and reads MLST', async (ctx) => {
    if (skipped(ctx)) return;
    const list = await curlOk([url('many/')]);
    assert.deepEqual(listNames(list.stdout).sort(), manyNames);
    const nlst = await curlOk(['--list-only', url('many/')]);
    assert.deepEqual(nlst.stdout.split(/\r?\n/).filter(Boolean).sort(), manyNames);
    const mlsd = await curlOk(['--request', 'MLSD', url('many/')]);
    assert.deepEqual(mlsdNames(mlsd.stdout).sort(), manyNames);
    const mlst = await curlOk(['--quote', 'MLST many/f0007.txt', '--list-only', url('/')]);
    assert.match(mlst.stderr, /< 250-/);
    assert.match(mlst.stderr, /< +type=file;size=10;.* \/many\/f0007\.txt/);
  });

  it('renames, deletes, makes and removes directories via quote commands', async (ctx) => {
    if (skipped(ctx)) return;
    await writeFile(path.join(t.root, 'before.txt'), 'rename me');
    await curlOk(['--quote', 'RNFR before.txt', '--quote', 'RNTO after.txt', '--list-only', url('/')]);
    assert.equal(await readFile(path.join(t.root, 'after.txt'), 'utf8'), 'rename me');
    await assert.rejects(stat(path.join(t.root, 'before.txt')));
    await curlOk(['--quote', 'DELE after.txt', '--quote', 'MKD made dir', '--list-only', url('/')]);
    await assert.rejects(stat(path.join(t.root, 'after.txt')));
    assert.ok((await stat(path.join(t.root, 'made dir'))).isDirectory());
    await curlOk(['--ftp-create-dirs', '--upload-file', path.join(local, 'active.bin'), url('made dir/new/deep.bin')]);
    assert.ok((await stat(path.join(t.root, 'made dir', 'new', 'deep.bin'))).isFile());
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
    await assert.rejects(stat(path.join(t.root, 'made dir')));
    const missing = await curl(['--quote', 'DELE does-not-exist', '--list-only', url('/')]);
    assert.notEqual(missing.code, 0);
  });

  it('handles names with spaces, quotes, UTF-8 and a leading dash', async (ctx) => {
    if (skipped(ctx)) return;
    for (const [i, name] of AWKWARD_NAMES.entries()) {
      const content = Buffer.from(`curl ${i} ${name}`, 'utf8');
      const src = path.join(local, `awk-${i}`);
      await writeFile(src, content);
      await curlOk(['--upload-file', src, url(`awk/${name}`), '--ftp-create-dirs']);
      assert.equal(sha256(await readFile(path.join(t.root, 'awk', name))), sha256(content), name);
      const out = path.join(local, `awk-${i}.down`);
      await curlOk(['--output', out, url(`awk/${name}`)]);
      assert.equal(sha256(await readFile(out)), sha256(content), name);
    }
    const nlst = await curlOk(['--list-only', url('awk/')]);
    assert.deepEqual(nlst.stdout.split(/\r?\n/).filter(Boolean).sort(), [...AWKWARD_NAMES].sort());
    const list = await curlOk([url('awk/')]);
    assert.deepEqual(listNames(list.stdout).sort(), [...AWKWARD_NAMES].sort());
  });

  it('transfers a 0-byte file both ways', async (ctx) => {
    if (skipped(ctx)) return;
    const empty = path.join(local, 'empty.bin');
    await writeFile(empty, '');
    await curlOk(['--upload-file', empty, url('zero.bin')]);
    assert.equal((await stat(path.join(t.root, 'zero.bin'))).size, 0);
    const out = path.join(local, 'zero.down');
    await writeFile(out, 'stale content');
    await curlOk(['--output', out, url('zero.bin')]);
    assert.equal((await stat(out)).size, 0);
  });

  it('TYPE A (-B): the server sends CRLF on the wire and stores LF for uploads', async (ctx) => {
    if (skipped(ctx)) return;
    await writeFile(path.join(t.root, 'lf.txt'), 'alpha\nbeta\ngamma\n');
    // curl converts CRLF back to LF for its output, so inspect the raw bytes in the trace.
    const traceFile = path.join(local, 'trace.txt');
    const out = path.join(local, 'lf.down');
    await curlOk(['--use-ascii', '--trace', traceFile, '--output', out, url('lf.txt')]);
    const trace = await readFile(traceFile, 'utf8');
    assert.match(trace, /0000: 54 59 50 45 20 41 0d 0a +TYPE A/, 'TYPE A was sent');
    const received = [...trace.matchAll(/<= Recv data, (\d+) bytes/g)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(received, 'alpha\r\nbeta\r\ngamma\r\n'.length, 'bytes on the wire in TYPE A');
    assert.match(trace, /0000: 61 6c 70 68 61 0d 0a 62 65 74 61 0d 0a/);
    assert.equal(await readFile(out, 'utf8'), 'alpha\nbeta\ngamma\n');

    // In ASCII mode curl itself turns every LF into CRLF on the wire, so an LF file arrives as
    // CRLF and must be stored with LF again.
    const lf = path.join(local, 'lf-up.txt');
    await writeFile(lf, 'three\nfour\n');
    const upTrace = path.join(local, 'trace-up.txt');
    await curlOk(['--use-ascii', '--trace', upTrace, '--upload-file', lf, url('from-lf.txt')]);
    assert.match(await readFile(upTrace, 'utf8'), /=> Send data, 13 bytes[^\n]*\n0000: 74 68 72 65 65 0d 0a 66 6f 75 72 0d 0a/);
    assert.equal(await readFile(path.join(t.root, 'from-lf.txt'), 'utf8'), 'three\nfour\n');
    // A CRLF file goes out as CR CR LF: the CRLF pair becomes LF, the extra CR is data.
    const crlf = path.join(local, 'crlf.txt');
    await writeFile(crlf, 'one\r\ntwo\r\n');
    await curlOk(['--use-ascii', '--upload-file', crlf, url('from-crlf.txt')]);
    assert.equal(await readFile(path.join(t.root, 'from-crlf.txt'), 'utf8'), 'one\r\ntwo\r\n');
    // The same upload in binary mode keeps the CRs.
    await curlOk(['--upload-file', crlf, url('binary-crlf.txt')]);
    assert.equal(await readFile(path.join(t.root, 'binary-crlf.txt'), 'utf8'), 'one\r\ntwo\r\n');
  });

  it('gets 550 for a missing file (exit 78)', async (ctx) => {
    if (skipped(ctx)) return;
    const result = await curl(['--output', path.join(local, 'nothing'), url('no/such/file.bin')]);
    assert.notEqual(result.code, 0, describeRun(result));
    const plain = await curl(['--output', path.join(local, 'nothing'), url('no-such-file.bin')]);
    assert.equal(plain.code, 78, describeRun(plain));
    assert.match(plain.stderr, /< 550 /);
  });

  it('logged transfer records for this client and never the password', async (ctx) => {
    if (skipped(ctx)) return;
    assert.ok(t.logs.some((r) => r.event === 'transfer' && r.result === 'ok' && r.direction === 'upload'));
    assert.ok(t.logs.some((r) => r.event === 'transfer' && r.result === 'ok' && r.direction === 'download'));
    assert.ok(t.logs.some((r) => r.event === 'login' && r.result === 'failed'), 'the failed login was logged');
    assert.ok(!JSON.stringify(t.logs).includes(t.password), 'the password appears in the logs');
  });
});
