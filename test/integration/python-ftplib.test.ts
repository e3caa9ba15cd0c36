/**
 * @module test/integration/python-ftplib
 * The real server driven by Python's ftplib: login, nlst/dir/mlsd/MLST, storbinary and
 * retrbinary with sha256 checks (64 MiB, 0 bytes, awkward names), resume both ways
 * (retrbinary rest=: REST+RETR, storbinary rest=: REST+STOR), rename/delete/mkd/rmd and
 * pwd quoting, PASV (ftplib's IPv4 default) and PORT (set_pasv(False)), TYPE A
 * (raw bytes via transfercmd, storlines).
 * Each test runs one small Python program; it prints a JSON object the test asserts on.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  AWKWARD_NAMES,
  MiB,
  PYTHON_FTPLIB_MISSING,
  createManyFiles,
  describeRun,
  makeTempDir,
  randomBuffer,
  removeDir,
  run,
  sha256,
  sha256File,
  writeRandomFile,
} from '../helpers/integration.js';

/** Connects and logs in as FTP_USER/FTP_PASS; `ftp`, `args` and `out` are then in scope. */
const PRELUDE = `
import ftplib, io, json, os, socket, sys
args = json.loads(os.environ['FTP_ARGS'])
out = {}
ftp = ftplib.FTP(timeout=20, encoding='utf-8')
ftp.connect(os.environ['FTP_HOST'], int(os.environ['FTP_PORT']))
def login():
    ftp.login(os.environ['FTP_USER'], os.environ['FTP_PASS'])
`;

const EPILOGUE = `
try:
    ftp.quit()
except Exception:
    ftp.close()
print(json.dumps(out))
`;

/** Indents a Python snippet into the body of `def body():`. */
function indent(code: string): string {
  return code
    .trim()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

describe('python ftplib client', () => {
  let t: TestServer;
  let local: string;
  let bigPath: string;
  let bigSha: string;
  let manyNames: string[];

  before(async () => {
    t = await startTestServer({ config: { active: { enabled: true } } });
    local = await makeTempDir('ftplib');
    if (PYTHON_FTPLIB_MISSING()) return;
    bigPath = path.join(local, 'big.bin');
    bigSha = await writeRandomFile(bigPath, 64 * MiB);
    manyNames = await createManyFiles(path.join(t.root, 'many'), 1000);
  });

  after(async () => {
    await t.close();
    await removeDir(local);
  });

  function skipped(ctx: TestContext): boolean {
    const reason = PYTHON_FTPLIB_MISSING();
    if (reason) ctx.skip(reason);
    return reason !== null;
  }

  /** Runs `code` (after login unless `noLogin`) and returns the `out` dict it filled. */
  async function python(code: string, args: Record<string, unknown> = {}, options: { password?: string; noLogin?: boolean; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    const program = `${PRELUDE}\ndef body():\n${indent(code)}\n${options.noLogin ? '' : 'login()\n'}body()\n${EPILOGUE}`;
    const result = await run('python3', ['-c', program], {
      timeoutMs: options.timeoutMs ?? 30_000,
      env: {
        FTP_HOST: t.host,
        FTP_PORT: String(t.port),
        FTP_USER: t.user,
        FTP_PASS: options.password ?? t.password,
        FTP_ARGS: JSON.stringify(args),
        PYTHONIOENCODING: 'utf-8',
      },
    });
    assert.equal(result.code, 0, describeRun(result));
    const last = result.stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(last) as Record<string, unknown>;
  }

  function commandsSeen(verb: string): number {
    return t.logs.filter((r) => r.event === 'command' && r.verb === verb).length;
  }

  it('logs in with the right password; a wrong one raises error_perm 530', async (ctx) => {
    if (skipped(ctx)) return;
    const good = await python(`out['welcome'] = ftp.getwelcome()\nout['pwd'] = ftp.pwd()`);
    assert.match(String(good.welcome), /^220 /);
    assert.equal(good.pwd, '/');
    const bad = await python(
      `
try:
    login()
    out['result'] = 'logged in'
except ftplib.error_perm as e:
    out['result'] = str(e)
`,
      {},
      { password: 'wrong-password', noLogin: true },
    );
    assert.match(String(bad.result), /^530 /);
  });

  it('stores 64 MiB over PASV and retrieves it over PORT with identical sha256', async (ctx) => {
    if (skipped(ctx)) return;
    const pasv = commandsSeen('PASV');
    const port = commandsSeen('PORT');
    const target = path.join(local, 'big.down');
    await python(
      `
with open(args['src'], 'rb') as f:
    out['stor'] = ftp.storbinary('STOR big.bin', f, blocksize=1 << 20)
ftp.set_pasv(False)
with open(args['dst'], 'wb') as f:
    out['retr'] = ftp.retrbinary('RETR big.bin', f.write, blocksize=1 << 20)
`,
      { src: bigPath, dst: target },
      { timeoutMs: 60_000 },
    );
    assert.equal(await sha256File(path.join(t.root, 'big.bin')), bigSha);
    assert.equal(await sha256File(target), bigSha);
    assert.ok(commandsSeen('PASV') > pasv, 'PASV used');
    assert.ok(commandsSeen('PORT') > port, 'PORT used');
  });

  it('resumes a download (retrbinary rest=) and an upload (storbinary rest=: REST+STOR), and appends (APPE)', async (ctx) => {
    if (skipped(ctx)) return;
    const data = randomBuffer(4 * MiB + 3);
    await writeFile(path.join(t.root, 'resume.bin'), data);
    await writeFile(path.join(t.root, 'resume-up.bin'), data.subarray(0, 1_234_567));
    await writeFile(path.join(t.root, 'append.bin'), data.subarray(0, 1000));
    const full = path.join(local, 'resume-full.bin');
    await writeFile(full, data);
    const partial = path.join(local, 'resume.part');
    await writeFile(partial, data.subarray(0, 3_000_000));
    const result = await python(
      `
with open(args['partial'], 'ab') as f:
    out['retr'] = ftp.retrbinary('RETR resume.bin', f.write, rest=3000000)
with open(args['full'], 'rb') as f:
    f.seek(1234567)
    out['stor'] = ftp.storbinary('STOR resume-up.bin', f, rest=1234567)
with open(args['full'], 'rb') as f:
    f.seek(1000)
    out['appe'] = ftp.storbinary('APPE append.bin', f)
`,
      { partial, full },
    );
    assert.match(String(result.retr), /^226 /);
    assert.equal(sha256(await readFile(partial)), sha256(data));
    assert.match(String(result.stor), /^226 /);
    assert.equal(sha256(await readFile(path.join(t.root, 'resume-up.bin'))), sha256(data));
    assert.equal(sha256(await readFile(path.join(t.root, 'append.bin'))), sha256(data));
    assert.ok(t.logs.some((r) => r.event === 'transfer' && r.command === 'STOR' && r.offset === 1_234_567 && r.result === 'ok'));
  });

  it('lists 1,000 entries completely with nlst, dir (LIST) and mlsd; reads MLST', async (ctx) => {
    if (skipped(ctx)) return;
    const result = await python(`
out['nlst'] = ftp.nlst('many')
lines = []
ftp.dir('many', lines.append)
out['list'] = lines
out['mlsd'] = [[name, facts] for name, facts in ftp.mlsd('many')]
out['mlst'] = ftp.sendcmd('MLST many/f0999.txt')
`);
    assert.deepEqual((result.nlst as string[]).map((n) => path.posix.basename(n)).sort(), manyNames);
    const listed = (result.list as string[]).map((line) => /^\S{10} +\d+ +\S+ +\S+ +\d+ +\w{3} +\d+ +[\d:]+ (.*)$/.exec(line)?.[1]);
    assert.deepEqual(listed.sort(), manyNames);
    const mlsd = result.mlsd as [string, Record<string, string>][];
    const files = mlsd.filter(([, facts]) => facts.type === 'file');
    assert.deepEqual(files.map(([name]) => name).sort(), manyNames);
    assert.ok(files.every(([, facts]) => facts.size === '10'));
    assert.equal(mlsd.filter(([, facts]) => facts.type === 'cdir').length, 1);
    assert.match(String(result.mlst), /^250-[^\n]*\n type=file;size=10;[^\n]* \/many\/f0999\.txt\n250 /);
  });

  it('mkd/pwd/cwd with quotes in the name, rename, delete, rmd, size', async (ctx) => {
    if (skipped(ctx)) return;
    const result = await python(`
out['mkd'] = ftp.mkd('quote "d" ü')
ftp.cwd('quote "d" ü')
out['pwd'] = ftp.pwd()
with io.BytesIO(b'hello rename') as f:
    ftp.storbinary('STOR a.txt', f)
out['rename'] = ftp.rename('a.txt', 'b c.txt')
out['size'] = ftp.size('b c.txt')
try:
    ftp.rmd('/quote "d" ü')
    out['rmd_nonempty'] = 'removed'
except ftplib.error_perm as e:
    out['rmd_nonempty'] = str(e)
out['delete'] = ftp.delete('b c.txt')
try:
    ftp.delete('b c.txt')
    out['delete_again'] = 'deleted'
except ftplib.error_perm as e:
    out['delete_again'] = str(e)
ftp.cwd('..')
out['rmd'] = ftp.rmd('quote "d" ü')
`);
    assert.equal(result.mkd, '/quote "d" ü');
    assert.equal(result.pwd, '/quote "d" ü');
    assert.match(String(result.rename), /^250 /);
    assert.equal(result.size, 12);
    assert.match(String(result.rmd_nonempty), /^550 /);
    assert.match(String(result.delete), /^250 /);
    assert.match(String(result.delete_again), /^550 /);
    assert.match(String(result.rmd), /^250 /);
    await assert.rejects(stat(path.join(t.root, 'quote "d" ü')));
  });

  it('handles names with spaces, quotes, UTF-8 and a leading dash', async (ctx) => {
    if (skipped(ctx)) return;
    const result = await python(
      `
ftp.mkd('awk')
ftp.cwd('awk')
got = {}
for name in args['names']:
    ftp.storbinary('STOR ' + name, io.BytesIO(('py ' + name).encode('utf-8')))
    buf = io.BytesIO()
    ftp.retrbinary('RETR ' + name, buf.write)
    got[name] = buf.getvalue().decode('utf-8')
out['got'] = got
out['nlst'] = ftp.nlst()
out['mlsd'] = [name for name, facts in ftp.mlsd() if facts['type'] == 'file']
`,
      { names: AWKWARD_NAMES },
    );
    const got = result.got as Record<string, string>;
    for (const name of AWKWARD_NAMES) {
      assert.equal(got[name], `py ${name}`, name);
      assert.equal(await readFile(path.join(t.root, 'awk', name), 'utf8'), `py ${name}`, name);
    }
    assert.deepEqual((result.nlst as string[]).sort(), [...AWKWARD_NAMES].sort());
    assert.deepEqual((result.mlsd as string[]).sort(), [...AWKWARD_NAMES].sort());
  });

  it('transfers a 0-byte file both ways', async (ctx) => {
    if (skipped(ctx)) return;
    const result = await python(`
ftp.storbinary('STOR zero.bin', io.BytesIO(b''))
buf = io.BytesIO()
out['retr'] = ftp.retrbinary('RETR zero.bin', buf.write)
out['len'] = len(buf.getvalue())
out['size'] = ftp.size('zero.bin')
`);
    assert.equal(result.len, 0);
    assert.equal(result.size, 0);
    assert.match(String(result.retr), /^226 /);
    assert.equal((await stat(path.join(t.root, 'zero.bin'))).size, 0);
  });

  it('TYPE A: CRLF on the wire for downloads, storlines uploads stored with LF', async (ctx) => {
    if (skipped(ctx)) return;
    await writeFile(path.join(t.root, 'lf.txt'), 'red\ngreen\n\nblue\n');
    const result = await python(`
ftp.voidcmd('TYPE A')
conn = ftp.transfercmd('RETR lf.txt')
chunks = []
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    chunks.append(chunk)
conn.close()
out['final'] = ftp.voidresp()
out['wire'] = b''.join(chunks).decode('latin-1')
out['stor'] = ftp.storlines('STOR lines.txt', io.BytesIO(b'one\\ntwo\\r\\nthree\\n'))
lines = []
ftp.retrlines('RETR lf.txt', lines.append)
out['lines'] = lines
`);
    assert.match(String(result.final), /^226 /);
    assert.equal(result.wire, 'red\r\ngreen\r\n\r\nblue\r\n');
    assert.match(String(result.stor), /^226 /);
    assert.equal(await readFile(path.join(t.root, 'lines.txt'), 'utf8'), 'one\ntwo\nthree\n');
    assert.deepEqual(result.lines, ['red', 'green', '', 'blue']);
  });

  it('refuses PORT to a privileged port and active data to a third address (bounce protection)', async (ctx) => {
    if (skipped(ctx)) return;
    const result = await python(`
for cmd in ['PORT 127,0,0,1,0,80', 'PORT 127,0,0,2,195,80', 'EPRT |1|198.51.100.7|50000|']:
    try:
        ftp.sendcmd(cmd)
        out[cmd] = 'accepted'
    except ftplib.error_perm as e:
        out[cmd] = str(e)[:3]
`);
    assert.deepEqual(result, {
      'PORT 127,0,0,1,0,80': '501',
      'PORT 127,0,0,2,195,80': '501',
      'EPRT |1|198.51.100.7|50000|': '501',
    });
  });

  it('logged transfer records for this client and never the password', async (ctx) => {
    if (skipped(ctx)) return;
    assert.ok(t.logs.some((r) => r.event === 'transfer' && r.result === 'ok' && r.direction === 'upload'));
    assert.ok(t.logs.some((r) => r.event === 'transfer' && r.result === 'ok' && r.direction === 'download'));
    assert.ok(t.logs.some((r) => r.event === 'login' && r.result === 'failed'), 'the failed login was logged');
    assert.ok(!JSON.stringify(t.logs).includes(t.password), 'the password appears in the logs');
  });
});
