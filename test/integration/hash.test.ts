/**
 * @module test/integration/hash
 * HASH / OPTS HASH / RANG (draft-bryan-ftpext-hash-02, draft-bryan-ftp-range-08) and the
 * XCRC, XMD5, XSHA1, XSHA256, XSHA512 aliases over real sockets, against digests computed
 * here; ABOR of a long hash; the download permission; the idle timer during a hash; FEAT; and
 * Python's ftplib as a real client.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32 } from '../../src/core/crc32.js';
import { parseHashReply } from '../../src/protocol/hash-reply.js';
import { RawClient } from '../helpers/raw-client.js';
import { expectCode, expectNext } from '../helpers/raw-transfer.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { describeRun, PYTHON_FTPLIB_MISSING, randomBuffer, run } from '../helpers/integration.js';
import { seedFile } from '../helpers/storage.js';

const NODE_NAMES: Record<string, string> = { 'SHA-256': 'sha256', 'SHA-512': 'sha512', 'SHA-1': 'sha1', MD5: 'md5' };

function digest(algorithm: string, data: Buffer): string {
  if (algorithm === 'CRC32') return crc32(data).toString(16).padStart(8, '0');
  return createHash(NODE_NAMES[algorithm] as string).update(data).digest('hex');
}

/** A sparse file: cheap on disk, but every byte must be read to hash it. */
async function sparseFile(file: string, size: number): Promise<void> {
  const handle = await open(file, 'w');
  await handle.truncate(size);
  await handle.close();
}

describe('HASH and the X* digest commands', () => {
  let t: TestServer;
  const data = randomBuffer(300_000 + 17);
  const clients: RawClient[] = [];

  before(async () => {
    t = await startTestServer({
      users: [
        { name: 'alice', password: 'secret-password' },
        { name: 'lister', password: 'lister-password', permissions: ['list'] },
      ],
      config: { limits: { maxConcurrentHashes: 1 } },
    });
    await seedFile(t.storage, '/data.bin', data);
    await seedFile(t.storage, '/a file 1', data.subarray(0, 1000));
    await seedFile(t.storage, '/empty.bin', Buffer.alloc(0));
  });

  after(async () => {
    for (const c of clients) c.close();
    await t.close();
  });

  async function login(user = 'alice', password = 'secret-password'): Promise<RawClient> {
    const c = await RawClient.connect(t.port, t.host);
    clients.push(c);
    await c.login(user, password);
    return c;
  }

  it('FEAT advertises HASH with the selected algorithm starred, and OPTS HASH changes it', async () => {
    const c = await login();
    const feat = await expectCode(c, 'FEAT', 211);
    assert.ok(feat.lines.includes(' HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32'), feat.text);
    assert.ok(!feat.text.includes('RANG'), 'RANG applies to HASH only, so RANG STREAM is not advertised');
    assert.equal((await expectCode(c, 'OPTS HASH', 200)).text, '200 SHA-256');
    assert.equal((await expectCode(c, 'OPTS HASH md5', 200)).text, '200 MD5');
    assert.ok((await expectCode(c, 'FEAT', 211)).lines.includes(' HASH SHA-256;SHA-512;SHA-1;MD5*;CRC32'));
    await expectCode(c, 'OPTS HASH SHA-384', 501);
    assert.equal((await expectCode(c, 'OPTS HASH', 200)).text, '200 MD5', 'an unknown algorithm leaves the selection');
  });

  it('HASH answers 213 <alg> 0-<size-1> <hex> <path> for every algorithm (draft §3.4: the end is the last byte)', async () => {
    const c = await login();
    for (const algorithm of ['SHA-256', 'SHA-512', 'SHA-1', 'MD5', 'CRC32']) {
      await expectCode(c, `OPTS HASH ${algorithm}`, 200);
      const reply = await expectCode(c, 'HASH data.bin', 213);
      assert.deepEqual(parseHashReply(reply.text.slice(4)), { algorithm, start: 0, end: data.length - 1, hex: digest(algorithm, data), path: 'data.bin' }, reply.text);
    }
    await expectCode(c, 'OPTS HASH SHA-256', 200);
    const empty = await expectCode(c, 'HASH empty.bin', 213);
    assert.equal(empty.text, `213 SHA-256 0-0 ${digest('SHA-256', Buffer.alloc(0))} empty.bin`);
  });

  it('a byte range: RANG (inclusive end) and REST (start only)', async () => {
    const c = await login();
    assert.equal((await expectCode(c, 'RANG 1000 1999', 350)).code, 350);
    const ranged = parseHashReply((await expectCode(c, 'HASH data.bin', 213)).text.slice(4));
    assert.deepEqual(ranged, { algorithm: 'SHA-256', start: 1000, end: 1999, hex: digest('SHA-256', data.subarray(1000, 2000)), path: 'data.bin' });
    // The range applied once; the next HASH is the whole file again.
    assert.equal(parseHashReply((await expectCode(c, 'HASH data.bin', 213)).text.slice(4))?.start, 0);
    await expectCode(c, 'REST 123456', 350);
    const rested = parseHashReply((await expectCode(c, 'HASH data.bin', 213)).text.slice(4));
    assert.deepEqual([rested?.start, rested?.end, rested?.hex], [123456, data.length - 1, digest('SHA-256', data.subarray(123456))]);
    // Another command between RANG and HASH clears the range (draft-bryan-ftp-range).
    await expectCode(c, 'RANG 0 9', 350);
    await expectCode(c, 'NOOP', 200);
    assert.equal(parseHashReply((await expectCode(c, 'HASH data.bin', 213)).text.slice(4))?.end, data.length - 1);
    await expectCode(c, 'RANG 5 4', 501);
    await expectCode(c, 'RANG 1 0', 350);
    await expectCode(c, `REST ${data.length + 1}`, 350);
    await expectCode(c, 'HASH data.bin', 554);
  });

  it('XCRC (upper case), XMD5, XSHA1, XSHA256, XSHA512 answer 250 <hex>, with optional ranges', async () => {
    const c = await login();
    const crc = (await expectCode(c, 'XCRC data.bin', 250)).text;
    assert.equal(crc, `250 ${digest('CRC32', data).toUpperCase()}`);
    assert.equal((await expectCode(c, 'XMD5 data.bin', 250)).text, `250 ${digest('MD5', data)}`);
    assert.equal((await expectCode(c, 'XSHA1 data.bin', 250)).text, `250 ${digest('SHA-1', data)}`);
    assert.equal((await expectCode(c, 'XSHA256 data.bin', 250)).text, `250 ${digest('SHA-256', data)}`);
    assert.equal((await expectCode(c, 'XSHA512 data.bin', 250)).text, `250 ${digest('SHA-512', data)}`);
    // "<path>" start end: bytes start..end-1 (ProFTPD mod_digest).
    assert.equal((await expectCode(c, 'XCRC "data.bin" 10 5000', 250)).text, `250 ${digest('CRC32', data.subarray(10, 5000)).toUpperCase()}`);
    assert.equal((await expectCode(c, 'XSHA256 "data.bin" 4096', 250)).text, `250 ${digest('SHA-256', data.subarray(4096))}`);
    assert.equal((await expectCode(c, 'XMD5 data.bin 0 100', 250)).text, `250 ${digest('MD5', data.subarray(0, 100))}`);
    // An unquoted name that ends in a number is the file when that file exists.
    assert.equal((await expectCode(c, 'XMD5 a file 1', 250)).text, `250 ${digest('MD5', data.subarray(0, 1000))}`);
    await expectCode(c, 'XCRC missing.bin', 550);
    await expectCode(c, 'XCRC /', 550);
    await expectCode(c, 'HASH missing.bin', 550);
    // draft-bryan-ftpext-hash-02 §3.5: a directory has no hash.
    await expectCode(c, 'HASH /', 553);
    await expectCode(c, 'HASH', 501);
  });

  it('hashing needs the download permission', async () => {
    const c = await login('lister', 'lister-password');
    await expectCode(c, 'HASH data.bin', 550);
    await expectCode(c, 'XSHA256 data.bin', 550);
    assert.ok(t.logs.some((r) => r.event === 'permission.denied' && r.permission === 'download'));
  });

  it('ABOR during a HASH of a large file answers 426 then 226, promptly', async () => {
    await sparseFile(path.join(t.root, 'huge.bin'), 8 * 1024 * 1024 * 1024);
    const c = await login();
    await expectCode(c, 'OPTS HASH SHA-512', 200);
    c.write('HASH huge.bin\r\n');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // STAT during the hash reports its progress like a transfer's.
    const stat = await expectCode(c, 'STAT', 211);
    assert.match(stat.text, /HASH \/huge\.bin: \d+ bytes/);
    const started = Date.now();
    c.write('ABOR\r\n');
    await expectNext(c, 426, 5000);
    await expectNext(c, 226, 5000);
    assert.ok(Date.now() - started < 3000, 'abort took too long');
    assert.ok(t.logs.some((r) => r.event === 'hash' && r.result === 'aborted'));
    // The session goes on, and the slot was released (maxConcurrentHashes is 1 here).
    await expectCode(c, 'XCRC data.bin', 250, 10_000);
  });

  it('Python ftplib: sendcmd HASH and XSHA256', async (t2) => {
    const missing = PYTHON_FTPLIB_MISSING();
    if (missing) {
      t2.skip(missing);
      return;
    }
    const script = [
      'import ftplib, sys',
      'f = ftplib.FTP()',
      `f.connect("${t.host}", ${t.port})`,
      'f.login("alice", "secret-password")',
      'print(f.sendcmd("OPTS HASH SHA-1"))',
      'print(f.sendcmd("HASH data.bin"))',
      'print(f.sendcmd("XSHA256 data.bin"))',
      'f.quit()',
    ].join('\n');
    const result = await run('python3', ['-c', script], { timeoutMs: 30_000 });
    assert.equal(result.code, 0, describeRun(result));
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines[1], `213 SHA-1 0-${data.length - 1} ${digest('SHA-1', data)} data.bin`);
    assert.equal(lines[2], `250 ${digest('SHA-256', data)}`);
  });
});

describe('HASH and the idle timer', () => {
  it('a hash longer than limits.idleTimeoutMs is not cut by the idle timer', async () => {
    const t = await startTestServer({ config: { limits: { idleTimeoutMs: 300 } } });
    const c = await RawClient.connect(t.port, t.host);
    try {
      await sparseFile(path.join(t.root, 'big.bin'), 512 * 1024 * 1024);
      await c.login(t.user, t.password);
      await expectCode(c, 'OPTS HASH SHA-512', 200);
      const started = Date.now();
      const reply = await c.send('HASH big.bin', 120_000);
      const elapsed = Date.now() - started;
      assert.equal(reply.code, 213, reply.text);
      assert.equal(parseHashReply(reply.text.slice(4))?.end, 512 * 1024 * 1024 - 1);
      // Only meaningful when the hash outlasted the timeout, which it does on any normal machine.
      if (elapsed > 300) assert.ok(!t.logs.some((r) => r.event === 'session.idle-timeout'), `idle timeout during a ${elapsed} ms hash`);
      await expectCode(c, 'NOOP', 200);
    } finally {
      c.close();
      await t.close();
    }
  });
});
