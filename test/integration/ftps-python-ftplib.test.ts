/**
 * @module test/integration/ftps-python-ftplib
 * The real server driven by Python's ftplib over FTPS, with the server certificate verified
 * against the test CA. Stock `FTP_TLS` starts a fresh TLS session on every data connection:
 * under the default "enforced" session reuse its PROT P transfers are refused with 522 (and
 * counted; the reply names tls.sessionReuse), under "disabled" they work. A small subclass that resumes the control
 * connection's session (`wrap_socket(..., session=self.sock.session)`) works under
 * "enforced" on TLS 1.2 and 1.3, explicit (AUTH TLS) and implicit (TLS at connect).
 * Each test runs one small Python program that prints a JSON object the test asserts on.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { TestServer } from '../helpers/server.js';
import { MiB, PYTHON_FTPLIB_MISSING, describeRun, makeTempDir, randomBuffer, removeDir, run, sha256 } from '../helpers/integration.js';
import { ALICE, implicitPort, metricValue, startFtpsServer } from '../helpers/ftps-support.js';

/**
 * Defines `ctx` (verifying against FTP_CA, limited to FTP_TLS_VERSION), the FTP_TLS
 * subclasses, and `ftp` connected according to FTP_CLASS; then `login()` and `out`.
 */
const PRELUDE = `
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

const EPILOGUE = `
try:
    ftp.quit()
except Exception:
    ftp.close()
print(json.dumps(out))
`;

function indent(code: string): string {
  return code
    .trim()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

type Out = Record<string, unknown> & { control?: string };

describe('python ftplib over FTPS', () => {
  let dir: string;
  let pki: TestPki;
  let enforced: TestServer;
  let disabled: TestServer;
  let payload: Buffer;

  before(async () => {
    dir = await makeTempDir('ftps-ftplib');
    pki = await createTestPki(path.join(dir, 'pki'));
    enforced = await startFtpsServer(pki, { config: { tls: { implicit: { enabled: true, port: 0 } } } });
    disabled = await startFtpsServer(pki, { config: { tls: { sessionReuse: 'disabled' } } });
    payload = randomBuffer(MiB + 4321);
    for (const t of [enforced, disabled]) await writeFile(path.join(t.root, 'payload.bin'), payload);
  });

  after(async () => {
    await enforced.close();
    await disabled.close();
    await removeDir(dir);
  });

  function skipped(ctx: TestContext): boolean {
    const reason = PYTHON_FTPLIB_MISSING();
    if (reason) ctx.skip(reason);
    return reason !== null;
  }

  async function python(
    t: TestServer,
    client: 'stock' | 'reusing' | 'implicit',
    version: 'TLSv1.2' | 'TLSv1.3',
    code: string,
    args: Record<string, unknown> = {},
  ): Promise<Out> {
    const program = `${PRELUDE}\ndef body():\n${indent(code)}\nlogin()\nbody()\n${EPILOGUE}`;
    const result = await run('python3', ['-c', program], {
      timeoutMs: 30_000,
      env: {
        FTP_HOST: '127.0.0.1',
        FTP_PORT: String(client === 'implicit' ? implicitPort(t) : t.port),
        FTP_USER: ALICE.name,
        FTP_PASS: ALICE.password,
        FTP_CA: pki.caFile,
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
  async function local(name: string, data: Buffer): Promise<string> {
    const file = path.join(dir, `local-${name}`);
    await writeFile(file, data);
    return file;
  }

  function refusals(t: TestServer): Promise<number> {
    return metricValue(t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"');
  }

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`${version}: stock FTP_TLS (no session reuse) is refused with 522 under "enforced"`, async (ctx) => {
      if (skipped(ctx)) return;
      const before = await refusals(enforced);
      const out = await python(enforced, 'stock', version, `out['retr'] = retr('payload.bin')`);
      assert.equal(out.control, version);
      const retr = out.retr as { size: number; reply: string; sha?: string };
      assert.match(retr.reply, /^522 /, JSON.stringify(out));
      // The refusal names the setting, so the client's operator knows what to ask for.
      assert.match(retr.reply, /tls\.sessionReuse: enforced/, retr.reply);
      assert.equal(retr.size, 0, 'file bytes reached a client whose data session was not resumed');
      assert.equal(await refusals(enforced), before + 1);
    });

    it(`${version}: stock FTP_TLS works under "disabled": storbinary, retrbinary (also rest=), nlst`, async (ctx) => {
      if (skipped(ctx)) return;
      const upload = randomBuffer(300_000);
      const out = await python(
        disabled,
        'stock',
        version,
        `
with open(args['src'], 'rb') as f:
    out['stor'] = ftp.storbinary('STOR up.bin', f)
out['retr'] = retr('payload.bin')
out['rest'] = retr('payload.bin', rest=args['rest'])
out['nlst'] = ftp.nlst()
`,
        { src: await local('up.bin', upload), rest: 1000 },
      );
      assert.equal(out.control, version);
      assert.match(String(out.stor), /^226 /);
      assert.equal(sha256(await readFile(path.join(disabled.root, 'up.bin'))), sha256(upload));
      assert.deepEqual(out.retr, { sha: sha256(payload), size: payload.length, reply: (out.retr as { reply: string }).reply });
      assert.match((out.retr as { reply: string }).reply, /^226 /);
      assert.equal((out.rest as { sha: string }).sha, sha256(payload.subarray(1000)));
      assert.ok((out.nlst as string[]).includes('up.bin'), JSON.stringify(out.nlst));
    });

    it(`${version}: an FTP_TLS subclass resuming the control session works under "enforced" (stor, retr, rest=, mlsd)`, async (ctx) => {
      if (skipped(ctx)) return;
      const before = await refusals(enforced);
      const upload = randomBuffer(200_003);
      const name = `reuse-${version}.bin`;
      const out = await python(
        enforced,
        'reusing',
        version,
        `
with open(args['src'], 'rb') as f:
    out['stor'] = ftp.storbinary('STOR ' + args['name'], f)
out['retr'] = retr('payload.bin')
out['rest'] = retr(args['name'], rest=args['rest'])
out['mlsd'] = [name for name, facts in ftp.mlsd()]
`,
        { src: await local(name, upload), name, rest: 100_000 },
      );
      assert.equal(out.control, version);
      assert.match(String(out.stor), /^226 /, JSON.stringify(out));
      assert.equal(sha256(await readFile(path.join(enforced.root, name))), sha256(upload));
      assert.equal((out.retr as { sha: string }).sha, sha256(payload), JSON.stringify(out.retr));
      assert.equal((out.rest as { sha: string }).sha, sha256(upload.subarray(100_000)));
      assert.ok((out.mlsd as string[]).includes(name), JSON.stringify(out.mlsd));
      assert.equal(await refusals(enforced), before);
    });

    it(`${version}: implicit FTPS (TLS at connect) with session reuse under "enforced"`, async (ctx) => {
      if (skipped(ctx)) return;
      const out = await python(enforced, 'implicit', version, `out['retr'] = retr('payload.bin')\nout['nlst'] = ftp.nlst()`);
      assert.equal(out.control, version);
      assert.equal((out.retr as { sha: string }).sha, sha256(payload), JSON.stringify(out));
      assert.ok((out.nlst as string[]).includes('payload.bin'));
    });
  }
});
