/**
 * @module test/integration/ipv6
 * The real server listening on ::1: EPSV/EPRT with the raw protocol (PASV and PORT cannot
 * carry IPv6 addresses), and every client (basic-ftp, curl, Python ftplib, lftp) in passive
 * and, where the client supports it, active mode, with sha256 checks.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Client } from 'basic-ftp';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  CURL_MISSING,
  LFTP_MISSING,
  MiB,
  PYTHON_FTPLIB_MISSING,
  describeRun,
  ftpUrl,
  makeTempDir,
  randomBuffer,
  removeDir,
  run,
  sha256,
  withTimeout,
} from '../helpers/integration.js';
import { assertTransferOk, collect, expectCode, rawDownload, rawUpload } from '../helpers/raw-transfer.js';
import { readAll, seedFile } from '../helpers/storage.js';

/** Null when this host can listen on ::1, else why not. */
async function ipv6Unavailable(): Promise<string | null> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '::1', port: 0 }, resolve);
    });
    return null;
  } catch (error) {
    return `::1 not available: ${(error as Error).message}`;
  } finally {
    server.close();
  }
}

describe('IPv6 (::1)', () => {
  let unavailable: string | null = null;
  let t: TestServer | undefined;
  let local: string;
  let payload: Buffer;
  const raw: RawClient[] = [];

  before(async () => {
    local = await makeTempDir('ipv6');
    unavailable = await ipv6Unavailable();
    if (unavailable) return;
    t = await startTestServer({ config: { listen: { host: '::1' }, active: { enabled: true } } });
    payload = randomBuffer(8 * MiB + 11);
    await seedFile(t.storage, '/v6.bin', payload);
    await writeFile(path.join(local, 'v6.bin'), payload);
  });

  after(async () => {
    for (const c of raw) c.close();
    await t?.close();
    await removeDir(local);
  });

  /** The server, or undefined (test skipped) when IPv6 or the client is unavailable. */
  function server(ctx: TestContext, clientMissing?: () => string | null): TestServer | undefined {
    const reason = unavailable ?? clientMissing?.() ?? null;
    if (reason || !t) {
      ctx.skip(reason ?? 'server not started');
      return undefined;
    }
    return t;
  }

  async function login(s: TestServer): Promise<RawClient> {
    const c = await RawClient.connect(s.port, '::1');
    raw.push(c);
    await c.login(s.user, s.password);
    return c;
  }

  it('raw: EPSV works, PASV and PORT are refused, EPSV 1 is 522', async (ctx) => {
    const s = server(ctx);
    if (!s) return;
    const c = await login(s);
    assert.match((await c.send('STAT')).text, /from ::1/);
    await expectCode(c, 'TYPE I', 200);
    const down = await rawDownload(c, 'RETR v6.bin');
    assertTransferOk(down, 'RETR over EPSV on ::1');
    assert.equal(sha256(down.data), sha256(payload));
    const up = await rawUpload(c, 'STOR raw-up.bin', payload);
    assertTransferOk(up, 'STOR over EPSV on ::1');
    assert.equal(sha256(await readAll(s.storage, '/raw-up.bin')), sha256(payload));
    const pasv = await c.send('PASV');
    assert.ok(pasv.code >= 400, `PASV on IPv6 must fail: ${pasv.text}`);
    assert.equal((await c.send('EPSV 1')).code, 522);
    assert.equal((await c.send('EPSV 2')).code, 229);
    assert.equal((await c.send('PORT 127,0,0,1,200,1')).code, 501);
    assert.equal((await c.send('EPRT |1|127.0.0.1|51000|')).code, 501);
    assert.equal((await c.send('EPRT |2|::2|51000|')).code, 501);
    assert.equal((await c.send('EPRT |2|::1|1023|')).code, 501);
    assert.equal((await c.send('EPRT |2|not-an-address|51000|')).code, 501);
  });

  it('raw: EPRT |2|::1|port| makes the server connect back over IPv6', async (ctx) => {
    const s = server(ctx);
    if (!s) return;
    const c = await login(s);
    await expectCode(c, 'TYPE I', 200);
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen({ host: '::1', port: 0 }, resolve));
    try {
      const port = (listener.address() as net.AddressInfo).port;
      const accepted = withTimeout(new Promise<net.Socket>((resolve) => listener.once('connection', resolve)), 10_000, 'EPRT connect');
      await expectCode(c, `EPRT |2|::1|${port}|`, 200);
      await expectCode(c, 'RETR v6.bin', 150);
      const socket = await accepted;
      assert.equal(socket.remoteAddress, '::1');
      const data = await collect(socket);
      assert.equal((await c.read(10_000)).code, 226);
      assert.equal(sha256(data), sha256(payload));
    } finally {
      listener.close();
    }
  });

  it('basic-ftp: upload and download over EPSV', async (ctx) => {
    const s = server(ctx);
    if (!s) return;
    const client = new Client(15_000);
    try {
      await client.access({ host: '::1', port: s.port, user: s.user, password: s.password });
      await client.uploadFrom(Readable.from([payload]), 'basic-v6.bin');
      assert.equal(sha256(await readAll(s.storage, '/basic-v6.bin')), sha256(payload));
      const out = path.join(local, 'basic-v6.down');
      await client.downloadTo(out, 'basic-v6.bin');
      assert.equal(sha256(await readFile(out)), sha256(payload));
      assert.deepEqual((await client.list()).map((f) => f.name).includes('basic-v6.bin'), true);
    } finally {
      client.close();
    }
  });

  it('curl: EPSV and EPRT (-P ::1) in both directions', async (ctx) => {
    const s = server(ctx, CURL_MISSING);
    if (!s) return;
    const base = ['--silent', '--show-error', '--verbose', '--globoff', '--max-time', '30', '--user', `${s.user}:${s.password}`];
    for (const [label, extra] of [
      ['epsv', []],
      ['eprt', ['--ftp-port', '::1']],
    ] as const) {
      const up = await run('curl', [...base, ...extra, '--upload-file', path.join(local, 'v6.bin'), ftpUrl('::1', s.port, `curl-${label}.bin`)]);
      assert.equal(up.code, 0, describeRun(up));
      assert.match(up.stderr, label === 'epsv' ? /> EPSV/ : /> EPRT \|2\|::1\|\d+\|/);
      assert.equal(sha256(await readAll(s.storage, `/curl-${label}.bin`)), sha256(payload), label);
      const out = path.join(local, `curl-${label}.down`);
      const down = await run('curl', [...base, ...extra, '--output', out, ftpUrl('::1', s.port, `curl-${label}.bin`)]);
      assert.equal(down.code, 0, describeRun(down));
      assert.equal(sha256(await readFile(out)), sha256(payload), label);
    }
  });

  it('python ftplib: EPSV (passive) and EPRT (set_pasv(False))', async (ctx) => {
    const s = server(ctx, PYTHON_FTPLIB_MISSING);
    if (!s) return;
    const program = `
import ftplib, io, json, os, sys
ftp = ftplib.FTP(timeout=20)
ftp.connect('::1', int(os.environ['FTP_PORT']))
ftp.login(os.environ['FTP_USER'], os.environ['FTP_PASS'])
with open(os.environ['SRC'], 'rb') as f:
    ftp.storbinary('STOR py-v6.bin', f, blocksize=1 << 20)
ftp.set_pasv(False)
with open(os.environ['DST'], 'wb') as f:
    ftp.retrbinary('RETR py-v6.bin', f.write, blocksize=1 << 20)
ftp.quit()
`;
    const epsv = s.logs.filter((r) => r.event === 'command' && r.verb === 'EPSV').length;
    const eprt = s.logs.filter((r) => r.event === 'command' && r.verb === 'EPRT').length;
    const out = path.join(local, 'py-v6.down');
    const result = await run('python3', ['-c', program], {
      env: { FTP_PORT: String(s.port), FTP_USER: s.user, FTP_PASS: s.password, SRC: path.join(local, 'v6.bin'), DST: out },
    });
    assert.equal(result.code, 0, describeRun(result));
    assert.equal(sha256(await readAll(s.storage, '/py-v6.bin')), sha256(payload));
    assert.equal(sha256(await readFile(out)), sha256(payload));
    assert.ok(s.logs.filter((r) => r.event === 'command' && r.verb === 'EPSV').length > epsv, 'EPSV used');
    assert.ok(s.logs.filter((r) => r.event === 'command' && r.verb === 'EPRT').length > eprt, 'EPRT used');
  });

  it('lftp: get and put over EPSV; active mode completes (lftp falls back when its EPRT is refused)', async (ctx) => {
    const s = server(ctx, LFTP_MISSING);
    if (!s) return;
    const settings = 'set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; set ftp:ssl-allow no; set xfer:clobber on';
    const passiveOut = path.join(local, 'lftp-v6.down');
    const passive = await run('lftp', [
      '-d',
      '-c',
      `${settings}; open -u ${s.user},${s.password} ftp://[::1]:${s.port}; put ${path.join(local, 'v6.bin')} -o lftp-v6.bin; get lftp-v6.bin -o ${passiveOut}`,
    ]);
    assert.equal(passive.code, 0, describeRun(passive));
    assert.match(passive.stderr, /---> EPSV/);
    assert.equal(sha256(await readAll(s.storage, '/lftp-v6.bin')), sha256(payload));
    assert.equal(sha256(await readFile(passiveOut)), sha256(payload));

    const activeOut = path.join(local, 'lftp-v6-active.down');
    const active = await run('lftp', [
      '-d',
      '-c',
      // lftp 4.9 announces the unspecified address (EPRT |2|::|port|), which the server refuses
      // (only the client's own address is allowed); lftp then reconnects in passive mode.
      `${settings}; set net:max-retries 3; set net:reconnect-interval-base 1; set net:reconnect-interval-max 1; set ftp:passive-mode off; open -u ${s.user},${s.password} ftp://[::1]:${s.port}; get lftp-v6.bin -o ${activeOut}`,
    ]);
    assert.equal(active.code, 0, describeRun(active));
    assert.match(active.stderr, /---> EPRT \|2\|/);
    assert.equal(sha256(await readFile(activeOut)), sha256(payload));
  });
});
