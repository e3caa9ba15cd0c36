/**
 * @module test/integration/protocol
 * Exact control-connection behaviour of the real server over raw sockets: reply codes and
 * texts, command framing (split writes, pipelining, Telnet IAC, overlong lines), commands
 * answered during a transfer (STAT, NOOP, ABOR), REST, TYPE A conversion, REIN, 226 timing
 * and what the logs may contain.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { MiB, randomBuffer, sha256, waitFor } from '../helpers/integration.js';
import {
  assertTransferOk,
  collect,
  controlClosed,
  expectCode,
  expectNext,
  rawDownload,
  rawUpload,
} from '../helpers/raw-transfer.js';
import { exists, makeDirectories, readAll, readText, seedFile, seedManyFiles } from '../helpers/storage.js';

const PASSWORD = 'pr0tocol-Pässword-7f3a';
const IAC = 0xff;
const IP = 0xf4;
const DM = 0xf2;

describe('protocol (raw control connection)', () => {
  let t: TestServer;
  const clients: RawClient[] = [];
  /** 32 MiB: far more than loopback socket buffers hold, so a paused reader stalls the transfer. */
  let slow: Buffer;

  before(async () => {
    t = await startTestServer({ users: [{ name: 'alice', password: PASSWORD }] });
    slow = randomBuffer(32 * MiB);
    await seedFile(t.storage, '/slow.bin', slow);
  });

  after(async () => {
    for (const c of clients) c.close();
    await t.close();
  });

  async function connect(): Promise<RawClient> {
    const c = await RawClient.connect(t.port, t.host);
    clients.push(c);
    return c;
  }

  async function login(): Promise<RawClient> {
    const c = await connect();
    await c.login('alice', PASSWORD);
    return c;
  }

  it('greets with 220 and answers the pre-login command set exactly', async () => {
    const c = await connect();
    const greeting = await c.read();
    assert.equal(greeting.code, 220);
    assert.match(greeting.text, /^220 kftpd ready\.$/);
    assert.equal((await c.send('PWD')).code, 530);
    assert.equal((await c.send('RETR x')).code, 530);
    assert.equal((await c.send('XYZZY')).code, 502);
    assert.equal((await c.send('SYST')).text, '215 UNIX Type: L8');
    assert.equal((await c.send('HOST ftp.example.com')).code, 220);
    assert.equal((await c.send('USER')).code, 501);
    assert.equal((await c.send('PASS nobody-asked')).code, 503);
    assert.equal((await c.send('USER alice')).code, 331);
    assert.equal((await c.send('HOST too.late.example')).code, 503);
    assert.equal((await c.send(`PASS ${PASSWORD}`)).code, 230);
    assert.equal((await c.send('USER alice')).code, 503);
    assert.equal((await c.send('QUIT')).code, 221);
    await controlClosed(c);
  });

  it('rejects unsupported parameters with 504 and bad arguments with 501', async () => {
    const c = await login();
    assert.equal((await c.send('TYPE E')).code, 504);
    assert.equal((await c.send('TYPE A T')).code, 504);
    assert.equal((await c.send('TYPE Q')).code, 501);
    assert.equal((await c.send('TYPE I')).code, 200);
    assert.equal((await c.send('TYPE L 8')).code, 200);
    assert.equal((await c.send('MODE B')).code, 504);
    assert.equal((await c.send('MODE S')).code, 200);
    assert.equal((await c.send('STRU R')).code, 504);
    assert.equal((await c.send('STRU F')).code, 200);
    assert.equal((await c.send('REST abc')).code, 501);
    assert.equal((await c.send('REST -5')).code, 501);
    assert.equal((await c.send('CWD')).code, 501);
    assert.equal((await c.send('MKD')).code, 501);
    assert.equal((await c.send('EPSV 7')).code, 522);
    assert.equal((await c.send('EPSV 2')).code, 522);
    assert.equal((await c.send('EPSV x')).code, 501);
    assert.equal((await c.send('MFMT 2020 x')).code, 501);
    assert.equal((await c.send('ALLO 100')).code, 202);
    assert.equal((await c.send('RNTO nowhere')).code, 503);
    assert.equal((await c.send('NOOP')).code, 200);
  });

  it('refuses PORT and EPRT with 502 while active mode is disabled', async () => {
    const c = await login();
    assert.equal((await c.send('PORT 127,0,0,1,200,10')).code, 502);
    assert.equal((await c.send('EPRT |1|127.0.0.1|51210|')).code, 502);
  });

  it('advertises exactly the implemented features in FEAT (no EPRT when active is off)', async () => {
    const c = await connect();
    await c.read();
    const reply = await c.send('FEAT');
    assert.equal(reply.code, 211);
    assert.match(reply.lines[0] ?? '', /^211-/);
    assert.match(reply.lines.at(-1) ?? '', /^211 /);
    const features = reply.lines.slice(1, -1);
    for (const line of features) assert.match(line, /^ \S/, `feature line must start with one space: ${JSON.stringify(line)}`);
    const names = features.map((line) => line.trim().split(' ')[0]).sort();
    // tls.control defaults to optional (with a self-signed certificate), so RFC 4217's
    // AUTH TLS, PBSZ and PROT are advertised too.
    assert.deepEqual(names, ['AUTH', 'EPSV', 'HASH', 'HOST', 'MDTM', 'MFMT', 'MLST', 'PBSZ', 'PROT', 'REST', 'SIZE', 'TVFS', 'UTF8']);
    assert.ok(features.includes(' HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32'), reply.text);
    assert.ok(features.includes(' REST STREAM'), reply.text);
    assert.ok(features.includes(' AUTH TLS'), reply.text);
    assert.match(features.find((l) => l.startsWith(' MLST')) ?? '', /^ MLST (\w[\w.]*\*?;)+$/);
  });

  it('answers PASV with 227 and EPSV with 229 in the RFC formats, and EPSV ALL locks out PASV', async () => {
    const c = await login();
    const pasv = await c.send('PASV');
    assert.equal(pasv.code, 227);
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(pasv.text);
    assert.ok(m, pasv.text);
    assert.deepEqual(m.slice(1, 5), ['127', '0', '0', '1']);
    const pasvPort = Number(m[5]) * 256 + Number(m[6]);
    assert.ok(pasvPort > 0 && pasvPort < 65536);
    const epsv = await c.send('EPSV');
    assert.equal(epsv.code, 229);
    assert.match(epsv.text, /^229 .*\(\|\|\|\d{1,5}\|\)/);
    assert.equal((await c.send('EPSV 1')).code, 229);
    assert.equal((await c.send('EPSV ALL')).code, 200);
    assert.equal((await c.send('PASV')).code, 503);
    assert.equal((await c.send('EPSV')).code, 229);
  });

  it('quotes paths in PWD and MKD replies, doubling embedded quotes', async () => {
    const c = await login();
    const mkd = await c.send('MKD say "hi" dir');
    assert.equal(mkd.text, '257 "/say ""hi"" dir" created.');
    assert.equal((await t.storage.stat('/say "hi" dir')).type, 'directory');
    assert.equal((await c.send('CWD say "hi" dir')).code, 250);
    assert.equal((await c.send('PWD')).text, '257 "/say ""hi"" dir" is the current directory.');
    assert.equal((await c.send('MKD sub')).text, '257 "/say ""hi"" dir/sub" created.');
    assert.equal((await c.send('MKD sub')).code, 550);
    assert.equal((await c.send('CDUP')).code, 250);
    assert.equal((await c.send('PWD')).text, '257 "/" is the current directory.');
    assert.equal((await c.send('RMD say "hi" dir')).code, 550, 'a non-empty directory must not be removed');
    assert.equal((await c.send('RMD say "hi" dir/sub')).code, 250);
    assert.equal((await c.send('RMD say "hi" dir')).code, 250);
  });

  it('answers SIZE, MDTM, MFMT, MLST and STAT in their formats', async () => {
    await seedFile(t.storage, '/facts.txt', 'twelve bytes');
    await makeDirectories(t.storage, '/factsdir');
    await seedFile(t.storage, '/factsdir/inner.txt', 'x');
    const c = await login();
    assert.equal((await c.send('SIZE facts.txt')).text, '213 12');
    assert.equal((await c.send('SIZE missing.txt')).code, 550);
    assert.equal((await c.send('SIZE factsdir')).code, 550);
    const mfmt = await c.send('MFMT 20200102030405 facts.txt');
    assert.equal(mfmt.code, 213, mfmt.text);
    assert.match(mfmt.text, /Modify=20200102030405;/);
    assert.equal((await c.send('MDTM facts.txt')).text, '213 20200102030405');
    assert.equal((await t.storage.stat('/facts.txt')).modifiedAt.toISOString(), '2020-01-02T03:04:05.000Z');

    const mlst = await c.send('MLST facts.txt');
    assert.equal(mlst.code, 250);
    assert.equal(mlst.lines.length, 3, mlst.text);
    assert.match(mlst.lines[0] ?? '', /^250-/);
    const facts = mlst.lines[1] ?? '';
    assert.match(facts, /^ \S/, 'the fact line starts with exactly one space');
    assert.match(facts, /(^ |;)type=file;/);
    assert.match(facts, /;size=12;/);
    assert.match(facts, /;modify=20200102030405;/);
    assert.match(facts, / \/facts\.txt$/);
    assert.match(mlst.lines[2] ?? '', /^250 /);
    const mlstDir = await c.send('MLST factsdir');
    assert.match(mlstDir.lines[1] ?? '', /type=cdir;/);
    assert.equal((await c.send('MLST nope')).code, 550);

    const server = await c.send('STAT');
    assert.equal(server.code, 211);
    assert.ok(server.lines.length > 2);
    assert.match(server.text, /Logged in as alice/);
    const dir = await c.send('STAT factsdir');
    assert.equal(dir.code, 212, dir.text);
    assert.match(dir.text, / inner\.txt$/m);
    const file = await c.send('STAT facts.txt');
    assert.equal(file.code, 213, file.text);
    assert.match(file.text, /^-\S+ +1 \S+ \S+ +12 .* facts\.txt$/m);
  });

  it('accepts a command written one byte at a time, including a UTF-8 name split mid-character', async () => {
    const c = await login();
    c.socket.setNoDelay(true);
    const line = Buffer.from('MKD dossier résumé ✓\r\n', 'utf8');
    const reply = c.read(10_000);
    for (const byte of line) {
      c.write(Buffer.from([byte]));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.equal((await reply).text, '257 "/dossier résumé ✓" created.');
    assert.equal((await t.storage.stat('/dossier résumé ✓')).type, 'directory');
    assert.equal((await c.send('NOOP')).code, 200);
  });

  it('answers pipelined commands in order, one reply each, around a transfer', async () => {
    const payload = randomBuffer(300_000);
    await seedFile(t.storage, '/pipe.bin', payload);
    const c = await login();
    c.write('NOOP\r\nTYPE I\r\nPWD\r\nSIZE pipe.bin\r\nSYST\r\nBOGUS\r\n');
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await c.read()).code);
    assert.deepEqual(codes, [200, 200, 257, 213, 215, 502]);

    const data = await c.openPassiveData();
    const bytes = collect(data);
    c.write('RETR pipe.bin\r\nSIZE pipe.bin\r\nPWD\r\nMDTM pipe.bin\r\n');
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await c.read(10_000));
    assert.deepEqual(
      replies.map((r) => r.code),
      [150, 226, 213, 257, 213],
      replies.map((r) => r.text).join(' | '),
    );
    assert.equal(sha256(await bytes), sha256(payload));
    // Nothing extra was queued.
    await assert.rejects(c.read(300));
  });

  it('answers 200 pipelined commands in one write, in order; accepts bare LF and any verb case', async () => {
    const c = await login();
    c.write('NOOP\r\n'.repeat(199) + 'PWD\r\n');
    for (let i = 0; i < 199; i++) assert.equal((await c.read()).code, 200, `reply ${i}`);
    assert.equal((await c.read()).code, 257);
    c.write('noop\nNoOp\r\n  pwd\r\n');
    assert.deepEqual([(await c.read()).code, (await c.read()).code, (await c.read()).code], [200, 200, 257]);
  });

  it('ignores Telnet IAC sequences in command lines', async () => {
    const c = await login();
    c.write(Buffer.concat([Buffer.from([IAC, IP, IAC, DM]), Buffer.from('NOOP\r\n')]));
    assert.equal((await c.read()).code, 200);
    // IAC WILL <option> (3 bytes) in the middle of a line is dropped too.
    c.write(Buffer.concat([Buffer.from('NO'), Buffer.from([IAC, 0xfb, 0x01]), Buffer.from('OP\r\n')]));
    assert.equal((await c.read()).code, 200);
  });

  it('answers a too-long line with 500 and keeps the session usable; 4096 bytes is still accepted', async () => {
    const c = await login();
    const tooLong = await c.send(`NOOP ${'x'.repeat(5000)}`);
    assert.equal(tooLong.code, 500);
    assert.equal((await c.send('PWD')).code, 257);
    const exact = `NOOP ${'y'.repeat(4096 - 5)}`;
    assert.equal(Buffer.byteLength(exact), 4096);
    assert.equal((await c.send(exact)).code, 200);
    assert.equal((await c.send(`${exact}z`)).code, 500);
    assert.equal((await c.send('NOOP')).code, 200);
    assert.ok(!c.closed);
  });

  it('answers STAT and NOOP during a stalled download, which then completes intact', async () => {
    const c = await login();
    assert.equal((await c.send('TYPE I')).code, 200);
    const data = await c.openPassiveData();
    data.pause();
    await expectCode(c, 'RETR slow.bin', 150);
    let status = await c.send('STAT', 5000);
    assert.equal(status.code, 211, status.text);
    assert.match(status.text, /RETR \/slow\.bin: \d+ bytes transferred/);
    // Wait until the server has pushed data and is blocked on the paused socket.
    let before = -1;
    await waitFor(
      async () => {
        status = await c.send('STAT');
        const n = Number(/(\d+) bytes transferred/.exec(status.text)?.[1] ?? -1);
        const stalled = n > 0 && n === before;
        before = n;
        return stalled;
      },
      10_000,
      'transfer stalls',
    );
    assert.ok(before > 0 && before < slow.length, `stalled at ${before}`);
    assert.equal((await c.send('NOOP')).code, 200);
    const bytes = collect(data, 30_000);
    data.resume();
    await expectNext(c, 226, 30_000);
    const got = await bytes;
    assert.equal(got.length, slow.length);
    assert.equal(sha256(got), sha256(slow));
    const idle = await c.send('STAT');
    assert.match(idle.text, /No data transfer in progress/);
  });

  it('ABOR (after Telnet IP/DM) mid-transfer: 426 for the transfer, then 226, data socket closed', async () => {
    const c = await login();
    assert.equal((await c.send('TYPE I')).code, 200);
    const data = await c.openPassiveData();
    data.pause();
    const received = collect(data, 10_000);
    await expectCode(c, 'RETR slow.bin', 150);
    await new Promise((resolve) => setTimeout(resolve, 100));
    c.write(Buffer.concat([Buffer.from([IAC, IP, IAC, DM]), Buffer.from('ABOR\r\n')]));
    const first = await c.read(5000);
    const second = await c.read(5000);
    assert.deepEqual([first.code, second.code], [426, 226], `${first.text} | ${second.text}`);
    data.resume();
    const got = await received;
    assert.ok(got.length < slow.length, `aborted transfer delivered ${got.length} bytes`);
    assert.equal((await c.send('NOOP')).code, 200);
    // The session still transfers normally afterwards.
    const again = await rawDownload(c, 'RETR facts.txt');
    assertTransferOk(again, 'RETR after ABOR');
    assert.equal(again.data.toString(), 'twelve bytes');
  });

  it('ABOR without a transfer answers 226; RETR without PASV/EPSV answers 425', async () => {
    const c = await login();
    assert.equal((await c.send('ABOR')).code, 226);
    const reply = await c.send('RETR facts.txt');
    // 150 then 425, or 425 directly: either way the final answer is 425 and no 226.
    const final = reply.code === 150 ? await c.read() : reply;
    assert.equal(final.code, 425, final.text);
  });

  it('a passive port nobody connects to times out with 425 within passive.acceptTimeoutMs', async () => {
    const fast = await startTestServer({
      users: [{ name: 'alice', password: PASSWORD }],
      config: { passive: { acceptTimeoutMs: 700 } },
    });
    try {
      await seedFile(fast.storage, '/f.txt', 'data');
      const c = await RawClient.connect(fast.port, fast.host);
      clients.push(c);
      await c.login('alice', PASSWORD);
      assert.equal((await c.send('EPSV')).code, 229);
      const started = Date.now();
      const first = await c.send('RETR f.txt');
      const final = first.code === 150 ? await c.read(5000) : first;
      assert.equal(final.code, 425, final.text);
      assert.ok(Date.now() - started < 4000);
      assert.equal((await c.send('NOOP')).code, 200);
    } finally {
      await fast.close();
    }
  });

  it('HOST accepts only configured names (case-insensitively) when hostNames is set', async () => {
    const named = await startTestServer({
      users: [{ name: 'alice', password: PASSWORD }],
      config: { hostNames: ['ftp.example.com'] },
    });
    try {
      const c = await RawClient.connect(named.port, named.host);
      clients.push(c);
      await c.read();
      assert.equal((await c.send('HOST other.example.com')).code, 504);
      assert.equal((await c.send('HOST')).code, 501);
      const ok = await c.send('HOST FTP.Example.COM');
      assert.equal(ok.code, 220, ok.text);
      assert.equal((await c.send('USER alice')).code, 331);
      assert.equal((await c.send(`PASS ${PASSWORD}`)).code, 230);
    } finally {
      await named.close();
    }
  });

  it('REST + RETR sends the tail; REST + STOR resumes an upload; REST beyond EOF on STOR is 554', async () => {
    const c = await login();
    assert.equal((await c.send('TYPE I')).code, 200);
    const full = randomBuffer(1_000_000);
    await seedFile(t.storage, '/rest.bin', full);
    assert.equal((await c.send('REST 400000')).code, 350);
    const tail = await rawDownload(c, 'RETR rest.bin');
    assertTransferOk(tail, 'REST+RETR');
    assert.equal(sha256(tail.data), sha256(full.subarray(400_000)));

    // REST applies to one command only.
    const whole = await rawDownload(c, 'RETR rest.bin');
    assert.equal(whole.data.length, full.length);

    await seedFile(t.storage, '/resume.bin', full.subarray(0, 250_000));
    assert.equal((await c.send('REST 250000')).code, 350);
    const up = await rawUpload(c, 'STOR resume.bin', full.subarray(250_000));
    assertTransferOk(up, 'REST+STOR');
    assert.equal(sha256(await readAll(t.storage, '/resume.bin')), sha256(full));

    assert.equal((await c.send('REST 5000000')).code, 350);
    const beyond = await rawUpload(c, 'STOR resume.bin', Buffer.from('x'));
    assert.equal(beyond.first.code, 554, beyond.first.text);
    assert.equal(sha256(await readAll(t.storage, '/resume.bin')), sha256(full), 'file untouched by the refused STOR');

    // APPE appends at the end regardless of a preceding REST.
    assert.equal((await c.send('REST 10')).code, 350);
    const appe = await rawUpload(c, 'APPE resume.bin', Buffer.from('tail'));
    assertTransferOk(appe, 'APPE');
    assert.equal(sha256(await readAll(t.storage, '/resume.bin')), sha256(Buffer.concat([full, Buffer.from('tail')])));
  });

  it('TYPE A converts LF to CRLF on download and CRLF to LF on upload; TYPE I is byte-exact', async () => {
    await seedFile(t.storage, '/unix.txt', 'line one\nline two\n\nlast\r\nlone\rcr');
    const c = await login();
    assert.equal((await c.send('TYPE A')).code, 200);
    const down = await rawDownload(c, 'RETR unix.txt');
    assertTransferOk(down, 'RETR TYPE A');
    assert.equal(down.data.toString('latin1'), 'line one\r\nline two\r\n\r\nlast\r\nlone\rcr');

    const up = await rawUpload(c, 'STOR dos.txt', Buffer.from('alpha\r\nbeta\r\n\r\nlone\rcr\r\n'));
    assertTransferOk(up, 'STOR TYPE A');
    assert.equal((await readAll(t.storage, '/dos.txt')).toString('latin1'), 'alpha\nbeta\n\nlone\rcr\n');

    assert.equal((await c.send('TYPE I')).code, 200);
    const raw = await rawDownload(c, 'RETR unix.txt');
    assert.equal(raw.data.toString('latin1'), 'line one\nline two\n\nlast\r\nlone\rcr');
    const upRaw = await rawUpload(c, 'STOR dos-raw.txt', Buffer.from('a\r\nb\r\n'));
    assertTransferOk(upRaw, 'STOR TYPE I');
    assert.equal((await readAll(t.storage, '/dos-raw.txt')).toString('latin1'), 'a\r\nb\r\n');
  });

  it('transfers a 0-byte file both ways', async () => {
    const c = await login();
    assert.equal((await c.send('TYPE I')).code, 200);
    const up = await rawUpload(c, 'STOR empty.bin', Buffer.alloc(0));
    assertTransferOk(up, 'STOR empty');
    assert.equal((await t.storage.stat('/empty.bin')).size, 0);
    assert.equal((await c.send('SIZE empty.bin')).text, '213 0');
    const down = await rawDownload(c, 'RETR empty.bin');
    assertTransferOk(down, 'RETR empty');
    assert.equal(down.data.length, 0);
  });

  it('sends 226 for STOR only once the whole file is on disk', async () => {
    const payload = randomBuffer(24 * MiB);
    const target = path.join(t.root, 'complete-on-226.bin');
    const c = await login();
    assert.equal((await c.send('TYPE I')).code, 200);
    const data = await c.openPassiveData();
    await expectCode(c, 'STOR complete-on-226.bin', 150);
    // Hash the file synchronously the moment the 226 bytes arrive, before anything else runs.
    let onDisk = '';
    c.socket.prependListener('data', (chunk: string | Buffer) => {
      if (onDisk === '' && /^226 /m.test(String(chunk))) onDisk = sha256(readFileSync(target));
    });
    data.end(payload);
    const reply = await c.read(30_000);
    assert.equal(reply.code, 226, reply.text);
    assert.equal(onDisk, sha256(payload), 'file content when 226 arrived');
  });

  it('lists with LIST, NLST and MLSD over the data connection', async () => {
    await makeDirectories(t.storage, '/listing');
    await seedFile(t.storage, '/listing/a file.txt', 'abc');
    await seedFile(t.storage, '/listing/-dash.txt', '');
    await makeDirectories(t.storage, '/listing/subdir');
    const c = await login();
    const nlst = await rawDownload(c, 'NLST listing');
    assertTransferOk(nlst, 'NLST');
    assert.deepEqual(nlst.data.toString('utf8').split('\r\n').filter(Boolean).sort(), ['-dash.txt', 'a file.txt', 'subdir']);
    const list = await rawDownload(c, 'LIST -la listing');
    assertTransferOk(list, 'LIST');
    const lines = list.data.toString('utf8').split('\r\n').filter(Boolean);
    assert.equal(lines.length, 3, list.data.toString());
    assert.ok(lines.some((l) => /^d\S{9} .* subdir$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^-\S{9} +1 \S+ \S+ +3 .* a file\.txt$/.test(l)), lines.join('\n'));
    const mlsd = await rawDownload(c, 'MLSD listing');
    assertTransferOk(mlsd, 'MLSD');
    const entries = mlsd.data.toString('utf8').split('\r\n').filter(Boolean);
    assert.ok(entries.some((l) => /type=cdir;.* \.$/.test(l)), entries.join('\n'));
    assert.ok(entries.some((l) => /type=file;size=3;.* a file\.txt$/.test(l)), entries.join('\n'));
    assert.ok(entries.some((l) => /type=dir;.* subdir$/.test(l)), entries.join('\n'));
    const missing = await rawDownload(c, 'LIST no-such-dir');
    assert.equal(missing.first.code, 550);
    const mlsdFile = await rawDownload(c, 'MLSD listing/a file.txt');
    assert.equal(mlsdFile.first.code, 550);
  });

  it('STAT <dir> lists a 1,000-entry directory completely over the control connection', async () => {
    const names = await seedManyFiles(t.storage, '/many', 1000);
    await seedFile(t.storage, '/many/212 starts with digits', '');
    const c = await login();
    const reply = await c.send('STAT many', 10_000);
    assert.equal(reply.code, 212, reply.lines.slice(0, 3).join('\n'));
    const listed = reply.lines.slice(1, -1).map((line) => /^\S{10} +\d+ +\S+ +\S+ +\d+ +\w{3} +\d+ +[\d:]+ (.*)$/.exec(line)?.[1]);
    assert.deepEqual(listed.filter((n) => n !== undefined).sort(), [...names, '212 starts with digits'].sort());
  });

  it('RNFR/RNTO renames, DELE deletes, and errors map to 550', async () => {
    await seedFile(t.storage, '/old name.txt', 'content');
    const c = await login();
    assert.equal((await c.send('RNFR old name.txt')).code, 350);
    assert.equal((await c.send('RNTO new name.txt')).code, 250);
    assert.equal(await readText(t.storage, '/new name.txt'), 'content');
    assert.equal((await c.send('RNFR old name.txt')).code, 550);
    assert.equal((await c.send('RNFR new name.txt')).code, 350);
    assert.equal((await c.send('NOOP')).code, 200);
    assert.equal((await c.send('PWD')).code, 257);
    assert.equal((await c.send('RNTO other.txt')).code, 503, 'another command in between cancels RNFR');
    assert.equal((await c.send('DELE new name.txt')).code, 250);
    assert.equal(await exists(t.storage, '/new name.txt'), false);
    assert.equal((await c.send('DELE new name.txt')).code, 550);
    assert.equal((await c.send('DELE listing')).code, 550);
  });

  it('REIN logs out and resets parameters; a new login works', async () => {
    await makeDirectories(t.storage, '/rein-dir');
    const c = await login();
    assert.equal((await c.send('TYPE I')).code, 200);
    assert.equal((await c.send('CWD rein-dir')).code, 250);
    assert.equal((await c.send('REIN')).code, 220);
    assert.equal((await c.send('PWD')).code, 530);
    assert.equal((await c.send('LIST')).code, 530);
    assert.equal((await c.send('USER alice')).code, 331);
    assert.equal((await c.send(`PASS ${PASSWORD}`)).code, 230);
    assert.equal((await c.send('PWD')).text, '257 "/" is the current directory.');
    assert.match((await c.send('STAT')).text, /TYPE: ASCII/);
  });

  it('logs a transfer record and never the password', async () => {
    const c = await login();
    assert.equal((await c.send('TYPE I')).code, 200);
    const up = await rawUpload(c, 'STOR logged.bin', Buffer.alloc(4321, 7));
    assertTransferOk(up, 'STOR');
    await waitFor(
      () => t.logs.some((r) => r.event === 'transfer' && r.command === 'STOR' && r.path === '/logged.bin'),
      3000,
      'transfer log record',
    );
    const record = t.logs.find((r) => r.event === 'transfer' && r.path === '/logged.bin');
    assert.equal(record?.result, 'ok');
    assert.equal(record?.bytes, 4321);
    assert.equal(record?.direction, 'upload');
    // A failed login with a distinctive wrong password must not leak either.
    const bad = await connect();
    await bad.read();
    await bad.send('USER alice');
    assert.equal((await bad.send('PASS wrong-Guess-99zz')).code, 530);
    const all = JSON.stringify(t.logs);
    assert.ok(t.logs.length > 10);
    assert.ok(!all.includes(PASSWORD), 'the password appears in the logs');
    assert.ok(!all.includes('wrong-Guess-99zz'), 'a wrong password appears in the logs');
  });
});
