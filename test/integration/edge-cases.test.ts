/**
 * @module test/integration/edge-cases
 * Less common but legal (or hostile) sequences against the real server: aborted uploads,
 * data sockets closed or reset by the client, data sent before the command, commands queued
 * behind a transfer (QUIT), one data connection per EPSV, STOU, ASCII conversion with CR/LF
 * split across TCP segments, odd names (leading/trailing spaces, too long, NUL), special
 * files (FIFO, symlink loop) and operations on "/".
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { MiB, randomBuffer, sha256, waitFor, withTimeout } from '../helpers/integration.js';
import {
  assertTransferOk,
  collect,
  controlClosed,
  expectCode,
  expectNext,
  rawDownload,
  rawUpload,
} from '../helpers/raw-transfer.js';
import { listNames, makeDirectories, readAll, readText, seedFile } from '../helpers/storage.js';

/** Text with a mix of LF and CRLF line ends and lone CRs. */
function mixedText(size: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  let i = 0;
  while (length < size) {
    const ending = i % 7 === 0 ? '\r\n' : i % 11 === 0 ? '\r' : '\n';
    const line = `line ${i} ${'x'.repeat(i % 50)}${ending}`;
    parts.push(line);
    length += line.length;
    i++;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

describe('edge cases', () => {
  let t: TestServer;
  const clients: RawClient[] = [];
  let big: Buffer;

  before(async () => {
    t = await startTestServer({ config: { passive: { acceptTimeoutMs: 2000 } } });
    big = randomBuffer(24 * MiB);
    await seedFile(t.storage, '/big.bin', big);
    await seedFile(t.storage, '/small.txt', 'small file\n');
  });

  after(async () => {
    for (const c of clients) c.close();
    await t.close();
  });

  async function login(): Promise<RawClient> {
    const c = await RawClient.connect(t.port, t.host);
    clients.push(c);
    await c.login(t.user, t.password);
    await expectCode(c, 'TYPE I', 200);
    return c;
  }

  it('ABOR during an upload: 426 then 226, the session keeps working', async () => {
    const c = await login();
    const data = await c.openPassiveData();
    data.on('error', () => undefined);
    await expectCode(c, 'STOR aborted-upload.bin', 150);
    data.write(randomBuffer(2 * MiB));
    await waitFor(
      async () => {
        const s = await c.send('STAT');
        return Number(/(\d+) bytes transferred/.exec(s.text)?.[1] ?? 0) > 0;
      },
      5000,
      'upload progress',
    );
    c.write('ABOR\r\n');
    const replies = [await c.read(5000), await c.read(5000)];
    assert.deepEqual(
      replies.map((r) => r.code),
      [426, 226],
      replies.map((r) => r.text).join(' | '),
    );
    data.destroy();
    assert.equal((await c.send('NOOP')).code, 200);
    const again = await rawUpload(c, 'STOR after-abort.bin', Buffer.from('fine'));
    assertTransferOk(again, 'STOR after ABOR');
  });

  it('ABOR while the server waits for the data connection: 426 then 226', async () => {
    const c = await login();
    await expectCode(c, 'EPSV', 229);
    await expectCode(c, 'RETR small.txt', 150);
    c.write('ABOR\r\n');
    const replies = [await c.read(3000), await c.read(3000)];
    assert.deepEqual(
      replies.map((r) => r.code),
      [426, 226],
      replies.map((r) => r.text).join(' | '),
    );
    assert.equal((await c.send('NOOP')).code, 200);
  });

  it('a download whose data socket the client destroys mid-way ends with 426, not 226', async () => {
    const c = await login();
    const data = await c.openPassiveData();
    let received = 0;
    data.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MiB) data.destroy();
    });
    data.on('error', () => undefined);
    await expectCode(c, 'RETR big.bin', 150);
    const final = await c.read(10_000);
    assert.equal(final.code, 426, final.text);
    assert.equal((await c.send('NOOP')).code, 200);
  });

  it('an upload whose data socket is reset mid-way ends with 426, not 226', async () => {
    const c = await login();
    const data = await c.openPassiveData();
    data.on('error', () => undefined);
    await expectCode(c, 'STOR reset-upload.bin', 150);
    await new Promise<void>((resolve) => data.write(randomBuffer(MiB), () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    data.resetAndDestroy();
    const final = await c.read(10_000);
    assert.equal(final.code, 426, `a reset upload must not be reported complete: ${final.text}`);
    const log = await withTimeout(
      waitFor(() => t.logs.some((r) => r.event === 'transfer' && r.path === '/reset-upload.bin'), 3000, 'log'),
      4000,
      'log',
    ).then(() => t.logs.find((r) => r.event === 'transfer' && r.path === '/reset-upload.bin'));
    assert.notEqual(log?.result, 'ok');
  });

  it('an upload reset while its bytes are still flowing ends with 426, not 226 (libuv reports that reset as an end of stream)', async () => {
    for (let round = 0; round < 3; round++) {
      const c = await login();
      const data = await c.openPassiveData();
      data.on('error', () => undefined);
      const name = `reset-flowing-${round}.bin`;
      await expectCode(c, `STOR ${name}`, 150);
      // 16 MiB queued at once: the server is still reading when the reset arrives.
      const chunk = randomBuffer(MiB);
      for (let i = 0; i < 16; i++) data.write(chunk);
      await new Promise((resolve) => setTimeout(resolve, 5));
      data.resetAndDestroy();
      const final = await c.read(10_000);
      assert.equal(final.code, 426, `round ${round}: a reset upload must not be reported complete: ${final.text}`);
      assert.equal((await c.send('NOOP')).code, 200);
      c.close();
    }
  });

  it('stores data the client sent before the STOR command', async () => {
    const c = await login();
    const payload = randomBuffer(3 * MiB);
    const data = await c.openPassiveData();
    data.end(payload);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const first = await c.send('STOR early.bin');
    assert.equal(first.code, 150, first.text);
    await expectNext(c, 226, 10_000);
    assert.equal(sha256(await readAll(t.storage, '/early.bin')), sha256(payload));
  });

  for (const command of ['RETR big.bin', 'LIST']) {
    it(`${command.split(' ')[0] ?? command} on a data connection the client already closed gets a final 425/426 (no hang)`, async () => {
      const c = await login();
      const data = await c.openPassiveData();
      data.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const first = await c.send(command);
      const final = first.code === 150 ? await c.read(3000).catch(() => null) : first;
      if (final === null) {
        // Unstick the session (ABOR still works), then fail.
        c.write('ABOR\r\n');
        assert.fail(`${command}: no final reply within 3 s after 150 (session stuck in its transfer)`);
      }
      assert.ok([425, 426].includes(final.code), `${command}: expected 425/426, got ${final.text}`);
      assert.equal((await c.send('NOOP')).code, 200);
    });
  }

  it('one data connection per EPSV: a second transfer without EPSV gets 425', async () => {
    const c = await login();
    const first = await rawDownload(c, 'RETR small.txt');
    assertTransferOk(first, 'first RETR');
    const second = await c.send('RETR small.txt');
    const final = second.code === 150 ? await c.read(5000) : second;
    assert.equal(final.code, 425, final.text);
  });

  it('QUIT queued behind a transfer is answered after it: 150, 226, 221', async () => {
    const payload = randomBuffer(4 * MiB);
    await seedFile(t.storage, '/quit.bin', payload);
    const c = await login();
    const data = await c.openPassiveData();
    const bytes = collect(data);
    c.write('RETR quit.bin\r\nQUIT\r\n');
    const codes = [(await c.read(10_000)).code, (await c.read(10_000)).code, (await c.read(10_000)).code];
    assert.deepEqual(codes, [150, 226, 221]);
    assert.equal(sha256(await bytes), sha256(payload));
    await controlClosed(c);
  });

  it('STOU creates unique names and announces them in the 150 reply', async () => {
    const c = await login();
    await makeDirectories(t.storage, '/stou');
    await expectCode(c, 'CWD stou', 250);
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await rawUpload(c, 'STOU', Buffer.from(`unique ${i}`));
      assertTransferOk(r, 'STOU');
      const name = /FILE: (.+)$/.exec(r.first.text)?.[1];
      assert.ok(name, r.first.text);
      names.push(name);
      assert.equal(await readText(t.storage, `/stou/${name}`), `unique ${i}`);
    }
    assert.equal(new Set(names).size, 3);
    assert.deepEqual((await listNames(t.storage, '/stou')).sort(), [...names].sort());
  });

  it('TYPE A conversion is correct when CR and LF arrive in different TCP segments', async () => {
    const text = mixedText(600_000);
    await seedFile(t.storage, '/mixed.txt', text);
    const expectedWire = Buffer.from(text.toString('latin1').replace(/(?<!\r)\n/g, '\r\n'), 'latin1');
    const c = await login();
    await expectCode(c, 'TYPE A', 200);
    const down = await rawDownload(c, 'RETR mixed.txt');
    assertTransferOk(down, 'RETR TYPE A');
    assert.equal(sha256(down.data), sha256(expectedWire));

    // Upload the wire form in pieces that split CR from LF.
    const wire = Buffer.from('a\r\nb\r\nc\rd\r\n\r\nend', 'latin1');
    const data = await c.openPassiveData();
    await expectCode(c, 'STOR split.txt', 150);
    data.setNoDelay(true);
    let start = 0;
    for (let i = 0; i < wire.length; i++) {
      if (wire[i] === 0x0d) {
        data.write(wire.subarray(start, i + 1));
        start = i + 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    data.end(wire.subarray(start));
    await expectNext(c, 226, 5000);
    assert.equal((await readAll(t.storage, '/split.txt')).toString('latin1'), 'a\nb\nc\rd\n\nend');
  });

  it('TYPE A keeps a CRLF that straddles a storage read boundary as one CRLF', async () => {
    // The server reads files in 256 KiB chunks: put CR as the last byte of the first chunk
    // and LF as the first byte of the second, and a bare LF right after the next boundary.
    const chunk = 256 * 1024;
    const text = Buffer.alloc(2 * chunk + 10, 0x61);
    text[chunk - 1] = 0x0d;
    text[chunk] = 0x0a;
    text[2 * chunk] = 0x0a;
    await seedFile(t.storage, '/boundary.txt', text);
    const expected = Buffer.from(text.toString('latin1').replace(/(?<!\r)\n/g, '\r\n'), 'latin1');
    assert.equal(expected.length, text.length + 1);
    const c = await login();
    await expectCode(c, 'TYPE A', 200);
    const down = await rawDownload(c, 'RETR boundary.txt');
    assertTransferOk(down, 'RETR TYPE A');
    assert.equal(down.data.length, expected.length);
    assert.equal(sha256(down.data), sha256(expected));
  });

  it('handles sizes and REST offsets beyond 4 GiB (sparse file)', async () => {
    const big = 5 * 1024 * MiB + 123;
    const file = path.join(t.root, 'sparse.bin');
    await writeFile(file, '');
    await truncate(file, big);
    const c = await login();
    assert.equal((await c.send('SIZE sparse.bin')).text, `213 ${big}`);
    const list = await rawDownload(c, 'LIST sparse.bin');
    assertTransferOk(list, 'LIST sparse.bin');
    assert.match(list.data.toString(), new RegExp(` ${big} `));
    const mlst = await c.send('MLST sparse.bin');
    assert.match(mlst.text, new RegExp(`size=${big};`));
    assert.equal((await c.send(`REST ${big - 100}`)).code, 350);
    const tail = await rawDownload(c, 'RETR sparse.bin');
    assertTransferOk(tail, 'RETR tail of sparse.bin');
    assert.equal(tail.data.length, 100);
    assert.equal((await c.send(`REST ${big}`)).code, 350);
    const append = await rawUpload(c, 'STOR sparse.bin', Buffer.from('0123456789'));
    assertTransferOk(append, 'REST+STOR at 5 GiB');
    assert.equal((await stat(file)).size, big + 10);
    assert.equal((await c.send('SIZE sparse.bin')).text, `213 ${big + 10}`);
    await rm(file);
  });

  it('keeps leading and trailing spaces in names', async () => {
    const c = await login();
    for (const name of [' leading.txt', 'trailing.txt ', '  both  ']) {
      const up = await rawUpload(c, `STOR ${name}`, Buffer.from(name));
      assertTransferOk(up, JSON.stringify(name));
      assert.equal(await readText(t.storage, `/${name}`), name);
      assert.equal((await c.send(`SIZE ${name}`)).text, `213 ${Buffer.byteLength(name)}`);
      assert.equal((await c.send(`DELE ${name}`)).code, 250);
    }
  });

  it('a name containing CR/LF (created on disk) cannot forge extra lines in NLST, LIST or MLSD', async () => {
    await makeDirectories(t.storage, '/crlf-names');
    await seedFile(t.storage, '/crlf-names/evil\r\nforged.txt', 'x');
    await seedFile(t.storage, '/crlf-names/lf\nonly.txt', 'x');
    await seedFile(t.storage, '/crlf-names/plain.txt', 'x');
    const c = await login();
    for (const command of ['NLST crlf-names', 'LIST crlf-names', 'MLSD crlf-names']) {
      const r = await rawDownload(c, command);
      assertTransferOk(r, command);
      const text = r.data.toString('utf8');
      const entries = text.split('\r\n').filter(Boolean).filter((line) => !/type=cdir;/.test(line));
      assert.equal(entries.length, 3, `${command} must list exactly 3 entries: ${JSON.stringify(text)}`);
      assert.ok(!/[\r\n]/.test(entries.join('')), `${command} emitted a bare CR or LF inside a line: ${JSON.stringify(text)}`);
    }
  });

  it('refuses names that are too long or contain NUL with 553 and stays usable', async () => {
    const c = await login();
    const long = 'n'.repeat(300);
    assert.equal((await c.send(`MKD ${long}`)).code, 553);
    const stor = await rawUpload(c, `STOR ${long}`, Buffer.from('x'));
    assert.equal(stor.first.code, 553, stor.first.text);
    assert.equal((await c.send('MKD bad\0name')).code, 553);
    assert.equal((await c.send('NOOP')).code, 200);
  });

  it('answers 550 for transfers on directories and for missing parents', async () => {
    const c = await login();
    await makeDirectories(t.storage, '/adir');
    const retr = await rawDownload(c, 'RETR adir');
    assert.equal(retr.first.code, 550, retr.first.text);
    const stor = await rawUpload(c, 'STOR adir', Buffer.from('x'));
    assert.equal(stor.first.code, 550, stor.first.text);
    const orphan = await rawUpload(c, 'STOR no/such/parent.txt', Buffer.from('x'));
    assert.equal(orphan.first.code, 550, orphan.first.text);
    assert.equal((await c.send('CWD small.txt')).code, 550);
    assert.equal((await c.send('RMD /')).code, 550);
    assert.equal((await c.send('DELE /')).code, 550);
    assert.equal((await c.send('RNFR /')).code, 550);
    assert.equal((await c.send('MKD /')).code, 550);
    assert.equal((await c.send('RNFR small.txt')).code, 350);
    assert.equal((await c.send('RNTO adir')).code, 550, 'rename onto an existing directory');
    assert.equal(await readText(t.storage, '/small.txt'), 'small file\n');
  });

  it('refuses a FIFO without blocking the session, and survives a symlink loop', async () => {
    try {
      execFileSync('mkfifo', [path.join(t.root, 'pipe')]);
    } catch {
      return; // no mkfifo: nothing to test
    }
    await symlink('loop-b', path.join(t.root, 'loop-a'));
    await symlink('loop-a', path.join(t.root, 'loop-b'));
    const c = await login();
    const fifo = await withTimeout(rawDownload(c, 'RETR pipe', 5000), 6000, 'RETR fifo');
    assert.equal(fifo.first.code, 550, fifo.first.text);
    const loop = await rawDownload(c, 'RETR loop-a');
    assert.equal(loop.first.code, 550, loop.first.text);
    const list = await rawDownload(c, 'NLST');
    assertTransferOk(list, 'NLST with a FIFO and a loop present');
    assert.match(list.data.toString(), /small\.txt/);
    // A FIFO is not a regular file: a permanent refusal (550) like RETR, not a transient 451.
    const stor = await rawUpload(c, 'STOR pipe', Buffer.from('x'));
    assert.equal(stor.first.code, 550, `STOR onto a FIFO: ${stor.first.text}`);
    assert.ok((await stat(path.join(t.root, 'pipe'))).isFIFO());
  });

  it('RNTO replaces an existing file; MKD with a trailing slash works', async () => {
    await seedFile(t.storage, '/replace-src.txt', 'new');
    await seedFile(t.storage, '/replace-dst.txt', 'old');
    const c = await login();
    await expectCode(c, 'RNFR replace-src.txt', 350);
    await expectCode(c, 'RNTO replace-dst.txt', 250);
    assert.equal(await readText(t.storage, '/replace-dst.txt'), 'new');
    assert.equal((await c.send('MKD slash-dir/')).text, '257 "/slash-dir" created.');
    assert.equal((await t.storage.stat('/slash-dir')).type, 'directory');
  });

  it('OPTS MLST selects the facts used by MLST and MLSD; HELP answers 214', async () => {
    const c = await login();
    const opts = await c.send('OPTS MLST size;type;');
    assert.equal(opts.code, 200, opts.text);
    const mlst = await c.send('MLST small.txt');
    assert.equal(mlst.lines[1], ' type=file;size=11; /small.txt');
    const feat = await c.send('FEAT');
    assert.match(feat.text, / MLST type\*;size\*;modify;/);
    const help = await c.send('HELP');
    assert.equal(help.code, 214);
    assert.match(help.text, /RETR/);
    assert.equal((await c.send('HELP RETR')).code, 214);
    assert.equal((await c.send('HELP PORT')).code, 501, 'PORT is disabled, so not advertised');
  });
});
