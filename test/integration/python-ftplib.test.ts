/**
 * @module test/integration/python-ftplib
 * The real server driven by Python's ftplib, looped over {plain, explicit TLS, implicit TLS}
 * on one server (test/helpers/client-suite).
 * Plain: login, nlst/dir/mlsd/MLST, storbinary and retrbinary with sha256 checks (64 MiB,
 * 0 bytes, awkward names), resume both ways (retrbinary rest=: REST+RETR, storbinary rest=:
 * REST+STOR), rename/delete/mkd/rmd and pwd quoting, PASV (ftplib's IPv4 default) and PORT
 * (set_pasv(False)), TYPE A (raw bytes via transfercmd, storlines).
 * TLS, the server certificate verified against the test CA: stock `FTP_TLS` starts a fresh TLS
 * session on every data connection: under the default "enforced" session reuse its PROT P
 * transfers are refused with 522 (and counted; the reply names tls.sessionReuse), under
 * "disabled" (a second server) they work. A small subclass that resumes the control
 * connection's session (`wrap_socket(..., session=self.sock.session)`) works under "enforced"
 * on TLS 1.2 and 1.3, explicit (AUTH TLS) and implicit (TLS at connect).
 * Each test runs one small Python program; it prints a JSON object the test asserts on.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AWKWARD_NAMES, MiB, PYTHON_FTPLIB_MISSING, describeRun, randomBuffer, run, sha256, sha256File } from '../helpers/integration.js';
import { implicitPort, metricValue, startFtpsServer } from '../helpers/ftps-support.js';
import type { TestServer } from '../helpers/server.js';
import { TRANSPORTS, TRANSPORT_TITLES, assertClientLogs, commandsSeen, useClientFixture, type Transport } from '../helpers/client-suite.js';
import { exists, readAll, readText, seedFile } from '../helpers/storage.js';

/** Connects and logs in as FTP_USER/FTP_PASS; `ftp`, `args` and `out` are then in scope. */
const PLAIN_PRELUDE = `
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

/**
 * Defines `ctx` (verifying against FTP_CA, limited to FTP_TLS_VERSION), the FTP_TLS
 * subclasses, and `ftp` connected according to FTP_CLASS; then `login()` and `out`.
 */
const TLS_PRELUDE = `
import ftplib, hashlib, json, os, socket, ssl, sys
args = json.loads(os.environ['FTP_ARGS'])
out = {}
ctx = ssl.create_default_context(cafile=os.environ['FTP_CA'])
if os.environ['FTP_TLS_VERSION'] == 'TLSv1.2':
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3

class ReusingFTP_TLS(ftplib.FTP_TLS):
    """Resumes the control connection's TLS session on each data connection."""
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size

class ImplicitFTP_TLS(ReusingFTP_TLS):
    """Implicit FTPS: the control connection is TLS from its first byte."""
    def connect(self, host='', port=0, timeout=-999, source_address=None):
        self.host, self.port = host, port
        if timeout != -999:
            self.timeout = timeout
        raw = socket.create_connection((host, port), self.timeout)
        self.af = raw.family
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.file = self.sock.makefile('r', encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

classes = {'stock': ftplib.FTP_TLS, 'reusing': ReusingFTP_TLS, 'implicit': ImplicitFTP_TLS}
ftp = classes[os.environ['FTP_CLASS']](context=ctx, timeout=15, encoding='utf-8')
ftp.connect(os.environ['FTP_HOST'], int(os.environ['FTP_PORT']))

def login():
    ftp.login(os.environ['FTP_USER'], os.environ['FTP_PASS'])
    ftp.prot_p()
    out['control'] = ftp.sock.version()

def retr(name, rest=None):
    """Downloads name; returns (sha256, size, reply), or the failure and the final reply."""
    got = bytearray()
    try:
        reply = ftp.retrbinary('RETR ' + name, got.extend, rest=rest)
        return {'sha': hashlib.sha256(got).hexdigest(), 'size': len(got), 'reply': reply}
    except ftplib.error_perm as e:
        return {'size': len(got), 'reply': str(e)}
    except (OSError, EOFError) as e:
        # The data connection broke; the final reply is still on the control connection.
        result = {'size': len(got), 'error': repr(e)}
        try:
            result['reply'] = ftp.getresp()
        except ftplib.Error as e2:
            result['reply'] = str(e2)
        return result
`;

/** Indents a Python snippet into the body of `def body():`. */
function indent(code: string): string {
  return code
    .trim()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

type Out = Record<string, unknown> & { control?: string };

describe('python ftplib client', () => {
  const f = useClientFixture({ name: 'ftplib', missing: PYTHON_FTPLIB_MISSING, config: { active: { enabled: true } }, bigFile: true, manyFiles: true });

  for (const transport of TRANSPORTS) {
    describe(TRANSPORT_TITLES[transport], () => {
      if (transport === 'plain') plainCases();
      else tlsCases(transport);
    });
  }

  /** Runs `code` (after login unless `noLogin`) and returns the `out` dict it filled. */
  async function python(code: string, args: Record<string, unknown> = {}, options: { password?: string; noLogin?: boolean; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    const program = `${PLAIN_PRELUDE}\ndef body():\n${indent(code)}\n${options.noLogin ? '' : 'login()\n'}body()\n${EPILOGUE}`;
    const result = await run('python3', ['-c', program], {
      timeoutMs: options.timeoutMs ?? 30_000,
      env: {
        FTP_HOST: f.t.host,
        FTP_PORT: String(f.t.port),
        FTP_USER: f.t.user,
        FTP_PASS: options.password ?? f.t.password,
        FTP_ARGS: JSON.stringify(args),
        PYTHONIOENCODING: 'utf-8',
      },
    });
    assert.equal(result.code, 0, describeRun(result));
    const last = result.stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(last) as Record<string, unknown>;
  }

  /** Plain FTP only: the full feature round (the TLS rounds below cover the TLS specifics). */
  function plainCases(): void {
    it('logs in with the right password; a wrong one raises error_perm 530', async (ctx) => {
      if (f.skipped(ctx)) return;
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
      if (f.skipped(ctx)) return;
      const pasv = commandsSeen(f.t, 'PASV');
      const port = commandsSeen(f.t, 'PORT');
      const target = path.join(f.local, 'big.down');
      await python(
        `
with open(args['src'], 'rb') as f:
    out['stor'] = ftp.storbinary('STOR big.bin', f, blocksize=1 << 20)
ftp.set_pasv(False)
with open(args['dst'], 'wb') as f:
    out['retr'] = ftp.retrbinary('RETR big.bin', f.write, blocksize=1 << 20)
`,
        { src: f.bigPath, dst: target },
        { timeoutMs: 60_000 },
      );
      assert.equal(sha256(await readAll(f.t.storage, '/big.bin')), f.bigSha);
      assert.equal(await sha256File(target), f.bigSha);
      assert.ok(commandsSeen(f.t, 'PASV') > pasv, 'PASV used');
      assert.ok(commandsSeen(f.t, 'PORT') > port, 'PORT used');
    });

    it('resumes a download (retrbinary rest=) and an upload (storbinary rest=: REST+STOR), and appends (APPE)', async (ctx) => {
      if (f.skipped(ctx)) return;
      const data = randomBuffer(4 * MiB + 3);
      await seedFile(f.t.storage, '/resume.bin', data);
      await seedFile(f.t.storage, '/resume-up.bin', data.subarray(0, 1_234_567));
      await seedFile(f.t.storage, '/append.bin', data.subarray(0, 1000));
      const full = path.join(f.local, 'resume-full.bin');
      await writeFile(full, data);
      const partial = path.join(f.local, 'resume.part');
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
      assert.equal(sha256(await readAll(f.t.storage, '/resume-up.bin')), sha256(data));
      assert.equal(sha256(await readAll(f.t.storage, '/append.bin')), sha256(data));
      assert.ok(f.t.logs.some((r) => r.event === 'transfer' && r.command === 'STOR' && r.offset === 1_234_567 && r.result === 'ok'));
    });

    it('lists 1,000 entries completely with nlst, dir (LIST) and mlsd; reads MLST', async (ctx) => {
      if (f.skipped(ctx)) return;
      const result = await python(`
out['nlst'] = ftp.nlst('many')
lines = []
ftp.dir('many', lines.append)
out['list'] = lines
out['mlsd'] = [[name, facts] for name, facts in ftp.mlsd('many')]
out['mlst'] = ftp.sendcmd('MLST many/f0999.txt')
`);
      assert.deepEqual((result.nlst as string[]).map((n) => path.posix.basename(n)).sort(), f.manyNames);
      const listed = (result.list as string[]).map((line) => /^\S{10} +\d+ +\S+ +\S+ +\d+ +\w{3} +\d+ +[\d:]+ (.*)$/.exec(line)?.[1]);
      assert.deepEqual(listed.sort(), f.manyNames);
      const mlsd = result.mlsd as [string, Record<string, string>][];
      const files = mlsd.filter(([, facts]) => facts.type === 'file');
      assert.deepEqual(files.map(([name]) => name).sort(), f.manyNames);
      assert.ok(files.every(([, facts]) => facts.size === '10'));
      assert.equal(mlsd.filter(([, facts]) => facts.type === 'cdir').length, 1);
      assert.match(String(result.mlst), /^250-[^\n]*\n type=file;size=10;[^\n]* \/many\/f0999\.txt\n250 /);
    });

    it('mkd/pwd/cwd with quotes in the name, rename, delete, rmd, size', async (ctx) => {
      if (f.skipped(ctx)) return;
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
      assert.equal(await exists(f.t.storage, '/quote "d" ü'), false);
    });

    it('handles names with spaces, quotes, UTF-8 and a leading dash', async (ctx) => {
      if (f.skipped(ctx)) return;
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
        assert.equal(await readText(f.t.storage, `/awk/${name}`), `py ${name}`, name);
      }
      assert.deepEqual((result.nlst as string[]).sort(), [...AWKWARD_NAMES].sort());
      assert.deepEqual((result.mlsd as string[]).sort(), [...AWKWARD_NAMES].sort());
    });

    it('transfers a 0-byte file both ways', async (ctx) => {
      if (f.skipped(ctx)) return;
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
      assert.equal((await f.t.storage.stat('/zero.bin')).size, 0);
    });

    it('TYPE A: CRLF on the wire for downloads, storlines uploads stored with LF', async (ctx) => {
      if (f.skipped(ctx)) return;
      await seedFile(f.t.storage, '/lf.txt', 'red\ngreen\n\nblue\n');
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
      assert.equal(await readText(f.t.storage, '/lines.txt'), 'one\ntwo\nthree\n');
      assert.deepEqual(result.lines, ['red', 'green', '', 'blue']);
    });

    it('refuses PORT to a privileged port and active data to a third address (bounce protection)', async (ctx) => {
      if (f.skipped(ctx)) return;
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
      if (f.skipped(ctx)) return;
      assertClientLogs(f.t);
    });
  }

  async function tlsPython(
    t: TestServer,
    client: 'stock' | 'reusing' | 'implicit',
    version: 'TLSv1.2' | 'TLSv1.3',
    code: string,
    args: Record<string, unknown> = {},
  ): Promise<Out> {
    const program = `${TLS_PRELUDE}\ndef body():\n${indent(code)}\nlogin()\nbody()\n${EPILOGUE}`;
    const result = await run('python3', ['-c', program], {
      timeoutMs: 30_000,
      env: {
        FTP_HOST: '127.0.0.1',
        FTP_PORT: String(client === 'implicit' ? implicitPort(t) : t.port),
        FTP_USER: f.t.user,
        FTP_PASS: f.t.password,
        FTP_CA: f.pki.caFile,
        FTP_CLASS: client,
        FTP_TLS_VERSION: version,
        FTP_ARGS: JSON.stringify(args),
        PYTHONIOENCODING: 'utf-8',
      },
    });
    assert.equal(result.code, 0, describeRun(result));
    const last = result.stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(last) as Out;
  }

  /** Writes `data` to a local file for the Python program to upload; returns its path. */
  async function localFile(name: string, data: Buffer): Promise<string> {
    const file = path.join(f.local, `local-${name}`);
    await writeFile(file, data);
    return file;
  }

  function refusals(t: TestServer): Promise<number> {
    return metricValue(t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"');
  }

  /** The remote payload.bin (MiB + 4321 bytes) the TLS rounds download, on `servers`. */
  let payload: Buffer = Buffer.alloc(0);
  async function seedPayload(servers: readonly TestServer[]): Promise<void> {
    if (payload.length === 0) payload = randomBuffer(MiB + 4321);
    for (const t of servers) await seedFile(t.storage, '/payload.bin', payload);
  }

  function tlsCases(transport: Exclude<Transport, 'plain'>): void {
    if (transport === 'implicit') {
      before(() => seedPayload([f.t]));
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        it(`${version}: implicit FTPS (TLS at connect) with session reuse under "enforced"`, async (ctx) => {
          if (f.skipped(ctx)) return;
          const out = await tlsPython(f.t, 'implicit', version, `out['retr'] = retr('payload.bin')\nout['nlst'] = ftp.nlst()`);
          assert.equal(out.control, version);
          assert.equal((out.retr as { sha: string }).sha, sha256(payload), JSON.stringify(out));
          assert.ok((out.nlst as string[]).includes('payload.bin'));
        });
      }
      return;
    }
    // Mode guard: the remaining cases (AUTH TLS on the main port, and a second server with
    // tls.sessionReuse disabled) are explicit-only.
    let disabledServer: TestServer | undefined;
    const disabled = (): TestServer => {
      if (!disabledServer) throw new Error('the sessionReuse "disabled" server is not running');
      return disabledServer;
    };
    before(async () => {
      disabledServer = await startFtpsServer(f.pki, { config: { tls: { sessionReuse: 'disabled' } } });
      await seedPayload([f.t, disabledServer]);
    });
    after(async () => {
      await disabledServer?.close();
    });
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      it(`${version}: stock FTP_TLS (no session reuse) is refused with 522 under "enforced"`, async (ctx) => {
        if (f.skipped(ctx)) return;
        const before = await refusals(f.t);
        const out = await tlsPython(f.t, 'stock', version, `out['retr'] = retr('payload.bin')`);
        assert.equal(out.control, version);
        const retr = out.retr as { size: number; reply: string; sha?: string };
        assert.match(retr.reply, /^522 /, JSON.stringify(out));
        // The refusal names the setting, so the client's operator knows what to ask for.
        assert.match(retr.reply, /tls\.sessionReuse: enforced/, retr.reply);
        assert.equal(retr.size, 0, 'file bytes reached a client whose data session was not resumed');
        assert.equal(await refusals(f.t), before + 1);
      });

      it(`${version}: stock FTP_TLS works under "disabled": storbinary, retrbinary (also rest=), nlst`, async (ctx) => {
        if (f.skipped(ctx)) return;
        const upload = randomBuffer(300_000);
        const out = await tlsPython(
          disabled(),
          'stock',
          version,
          `
with open(args['src'], 'rb') as f:
    out['stor'] = ftp.storbinary('STOR up.bin', f)
out['retr'] = retr('payload.bin')
out['rest'] = retr('payload.bin', rest=args['rest'])
out['nlst'] = ftp.nlst()
`,
          { src: await localFile('up.bin', upload), rest: 1000 },
        );
        assert.equal(out.control, version);
        assert.match(String(out.stor), /^226 /);
        assert.equal(sha256(await readAll(disabled().storage, '/up.bin')), sha256(upload));
        assert.deepEqual(out.retr, { sha: sha256(payload), size: payload.length, reply: (out.retr as { reply: string }).reply });
        assert.match((out.retr as { reply: string }).reply, /^226 /);
        assert.equal((out.rest as { sha: string }).sha, sha256(payload.subarray(1000)));
        assert.ok((out.nlst as string[]).includes('up.bin'), JSON.stringify(out.nlst));
      });

      it(`${version}: an FTP_TLS subclass resuming the control session works under "enforced" (stor, retr, rest=, mlsd)`, async (ctx) => {
        if (f.skipped(ctx)) return;
        const before = await refusals(f.t);
        const upload = randomBuffer(200_003);
        const name = `reuse-${version}.bin`;
        const out = await tlsPython(
          f.t,
          'reusing',
          version,
          `
with open(args['src'], 'rb') as f:
    out['stor'] = ftp.storbinary('STOR ' + args['name'], f)
out['retr'] = retr('payload.bin')
out['rest'] = retr(args['name'], rest=args['rest'])
out['mlsd'] = [name for name, facts in ftp.mlsd()]
`,
          { src: await localFile(name, upload), name, rest: 100_000 },
        );
        assert.equal(out.control, version);
        assert.match(String(out.stor), /^226 /, JSON.stringify(out));
        assert.equal(sha256(await readAll(f.t.storage, `/${name}`)), sha256(upload));
        assert.equal((out.retr as { sha: string }).sha, sha256(payload), JSON.stringify(out.retr));
        assert.equal((out.rest as { sha: string }).sha, sha256(upload.subarray(100_000)));
        assert.ok((out.mlsd as string[]).includes(name), JSON.stringify(out.mlsd));
        assert.equal(await refusals(f.t), before);
      });
    }
  }
});
