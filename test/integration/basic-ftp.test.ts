/**
 * @module test/integration/basic-ftp
 * The real server driven by basic-ftp (Node): login, listings (MLSD, LIST, NLST, MLST),
 * uploads and downloads with sha256 checks (64 MiB, 0 bytes, awkward names), resume in both
 * directions (REST+RETR, APPE), file management, PASV and EPSV, TYPE A conversion.
 * basic-ftp has no active mode; PORT/EPRT are covered by the other clients.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client, FileInfo, FTPError, enterPassiveModeIPv4, enterPassiveModeIPv6 } from 'basic-ftp';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  AWKWARD_NAMES,
  MiB,
  createManyFiles,
  makeTempDir,
  randomBuffer,
  removeDir,
  sha256,
  sha256File,
  writeRandomFile,
} from '../helpers/integration.js';

/** A Writable that keeps everything written to it. */
function sink(): { stream: Writable; data: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { stream, data: () => Buffer.concat(chunks) };
}

describe('basic-ftp client', () => {
  let t: TestServer;
  let local: string;
  let bigPath: string;
  let bigSha: string;
  let manyNames: string[];
  const clients: Client[] = [];

  before(async () => {
    t = await startTestServer();
    local = await makeTempDir('basic-ftp');
    bigPath = path.join(local, 'big.bin');
    bigSha = await writeRandomFile(bigPath, 64 * MiB);
    manyNames = await createManyFiles(path.join(t.root, 'many'), 1000);
  });

  after(async () => {
    for (const c of clients) c.close();
    await t.close();
    await removeDir(local);
  });

  async function connect(mode: 'epsv' | 'pasv' = 'epsv'): Promise<Client> {
    const client = new Client(15_000);
    clients.push(client);
    await client.access({ host: t.host, port: t.port, user: t.user, password: t.password });
    client.prepareTransfer = mode === 'epsv' ? enterPassiveModeIPv6 : enterPassiveModeIPv4;
    return client;
  }

  function commandsSeen(verb: string): number {
    return t.logs.filter((r) => r.event === 'command' && r.verb === verb).length;
  }

  it('logs in with the right password and is refused with 530 otherwise', async () => {
    const client = await connect();
    assert.equal(await client.pwd(), '/');
    const bad = new Client(5000);
    clients.push(bad);
    await assert.rejects(
      bad.access({ host: t.host, port: t.port, user: t.user, password: 'not-the-password' }),
      (error: unknown) => error instanceof FTPError && error.code === 530,
    );
    const unknown = new Client(5000);
    clients.push(unknown);
    await assert.rejects(
      unknown.access({ host: t.host, port: t.port, user: 'mallory', password: 'x' }),
      (error: unknown) => error instanceof FTPError && error.code === 530,
    );
  });

  it('uploads 64 MiB over PASV and downloads it over EPSV with identical sha256', async () => {
    const pasvBefore = commandsSeen('PASV');
    const epsvBefore = commandsSeen('EPSV');
    const up = await connect('pasv');
    await up.uploadFrom(bigPath, 'big.bin');
    assert.equal(await sha256File(path.join(t.root, 'big.bin')), bigSha);
    assert.equal(await up.size('big.bin'), 64 * MiB);
    assert.ok(commandsSeen('PASV') > pasvBefore, 'PASV was used');

    const down = await connect('epsv');
    const target = path.join(local, 'big.down');
    await down.downloadTo(target, 'big.bin');
    assert.equal(await sha256File(target), bigSha);
    assert.ok(commandsSeen('EPSV') > epsvBefore, 'EPSV was used');
  });

  it('resumes a download with REST and an upload with APPE', async () => {
    const client = await connect();
    const data = randomBuffer(3 * MiB + 123);
    await writeFile(path.join(t.root, 'resume-src.bin'), data);

    const partial = path.join(local, 'resume-down.bin');
    await writeFile(partial, data.subarray(0, 1_000_000));
    await client.downloadTo(partial, 'resume-src.bin', 1_000_000);
    assert.equal(sha256(await readFile(partial)), sha256(data));
    assert.ok(t.logs.some((r) => r.event === 'transfer' && r.command === 'RETR' && r.offset === 1_000_000));

    const localFull = path.join(local, 'resume-up.bin');
    await writeFile(localFull, data);
    await writeFile(path.join(t.root, 'resume-up.bin'), data.subarray(0, 2_000_000));
    await client.appendFrom(createReadStream(localFull, { start: 2_000_000 }), 'resume-up.bin');
    assert.equal(sha256(await readFile(path.join(t.root, 'resume-up.bin'))), sha256(data));
  });

  it('lists a directory of 1,000 entries completely with MLSD, LIST and NLST', async () => {
    const client = await connect();
    client.availableListCommands = ['MLSD'];
    const mlsd = await client.list('many');
    assert.deepEqual(mlsd.map((f) => f.name).sort(), manyNames);
    assert.ok(mlsd.every((f) => f.isFile && f.size === 10), 'sizes from MLSD facts');

    client.availableListCommands = ['LIST'];
    const list = await client.list('many');
    assert.deepEqual(list.map((f) => f.name).sort(), manyNames);
    assert.ok(list.every((f) => f.size === 10));

    client.availableListCommands = ['NLST'];
    client.parseList = (raw) =>
      raw
        .split(/\r?\n/)
        .filter((line) => line !== '')
        .map((line) => new FileInfo(line));
    const nlst = await client.list('many');
    assert.deepEqual(nlst.map((f) => f.name).sort(), manyNames);
  });

  it('reads MLST, SIZE and MDTM facts; MFMT sets the time', async () => {
    const client = await connect();
    await writeFile(path.join(t.root, 'facts.txt'), 'hello facts');
    const mfmt = await client.send('MFMT 20210304050607 facts.txt');
    assert.equal(mfmt.code, 213);
    assert.equal((await client.lastMod('facts.txt')).toISOString(), '2021-03-04T05:06:07.000Z');
    assert.equal(await client.size('facts.txt'), 11);
    const mlst = await client.send('MLST facts.txt');
    assert.equal(mlst.code, 250);
    assert.match(mlst.message, /type=file;/);
    assert.match(mlst.message, /size=11;/);
    assert.match(mlst.message, /modify=20210304050607;/);
    await assert.rejects(client.size('nope.txt'), (error: unknown) => error instanceof FTPError && error.code === 550);
  });

  it('makes, enters, renames and removes directories and files', async () => {
    const client = await connect();
    await client.ensureDir('tree/deeper dir/ünï');
    assert.equal(await client.pwd(), '/tree/deeper dir/ünï');
    assert.ok((await stat(path.join(t.root, 'tree', 'deeper dir', 'ünï'))).isDirectory());
    await client.uploadFrom(Readable.from([Buffer.from('leaf')]), 'leaf.txt');
    await client.cdup();
    assert.equal(await client.pwd(), '/tree/deeper dir');
    await client.rename('ünï', 'renamed dir');
    assert.equal(await readFile(path.join(t.root, 'tree', 'deeper dir', 'renamed dir', 'leaf.txt'), 'utf8'), 'leaf');
    await client.cd('/');
    await client.rename('tree/deeper dir/renamed dir/leaf.txt', 'tree/leaf moved.txt');
    assert.equal(await readFile(path.join(t.root, 'tree', 'leaf moved.txt'), 'utf8'), 'leaf');
    await assert.rejects(client.removeEmptyDir('tree'), (error: unknown) => error instanceof FTPError && error.code === 550);
    await client.remove('tree/leaf moved.txt');
    await client.removeEmptyDir('tree/deeper dir/renamed dir');
    await client.removeDir('tree');
    await assert.rejects(stat(path.join(t.root, 'tree')));
    await assert.rejects(client.remove('tree/none.txt'), (error: unknown) => error instanceof FTPError && error.code === 550);
  });

  it('handles names with spaces, quotes, UTF-8 and a leading dash', async () => {
    const client = await connect();
    await client.ensureDir('/awkward');
    await client.cd('/awkward');
    for (const name of AWKWARD_NAMES) {
      const content = Buffer.from(`content of ${name}`, 'utf8');
      await client.uploadFrom(Readable.from([content]), name);
      assert.equal(sha256(await readFile(path.join(t.root, 'awkward', name))), sha256(content), name);
      const out = sink();
      await client.downloadTo(out.stream, name);
      assert.equal(sha256(out.data()), sha256(content), name);
      assert.equal(await client.size(name), content.length);
    }
    client.availableListCommands = ['MLSD'];
    assert.deepEqual((await client.list()).map((f) => f.name).sort(), [...AWKWARD_NAMES].sort());
    client.availableListCommands = ['LIST'];
    assert.deepEqual((await client.list()).map((f) => f.name).sort(), [...AWKWARD_NAMES].sort());
    await client.rename(AWKWARD_NAMES[0] ?? '', 'ðöç "2".txt');
    assert.equal(await readFile(path.join(t.root, 'awkward', 'ðöç "2".txt'), 'utf8'), `content of ${AWKWARD_NAMES[0] ?? ''}`);
    for (const name of ['ðöç "2".txt', ...AWKWARD_NAMES.slice(1)]) await client.remove(name);
    await client.cd('/');
    await client.removeEmptyDir('awkward');
  });

  it('transfers a 0-byte file both ways', async () => {
    const client = await connect();
    await client.uploadFrom(Readable.from([]), 'zero.bin');
    assert.equal((await stat(path.join(t.root, 'zero.bin'))).size, 0);
    const out = sink();
    await client.downloadTo(out.stream, 'zero.bin');
    assert.equal(out.data().length, 0);
    assert.equal(await client.size('zero.bin'), 0);
  });

  it('converts line endings in TYPE A and keeps bytes exact in TYPE I', async () => {
    const client = await connect();
    await writeFile(path.join(t.root, 'text-lf.txt'), 'one\ntwo\nthree\n');
    assert.equal((await client.send('TYPE A')).code, 200);
    const ascii = sink();
    await client.downloadTo(ascii.stream, 'text-lf.txt');
    assert.equal(ascii.data().toString(), 'one\r\ntwo\r\nthree\r\n');
    await client.uploadFrom(Readable.from([Buffer.from('x\r\ny\r\n')]), 'text-crlf.txt');
    assert.equal(await readFile(path.join(t.root, 'text-crlf.txt'), 'utf8'), 'x\ny\n');
    assert.equal((await client.send('TYPE I')).code, 200);
    const binary = sink();
    await client.downloadTo(binary.stream, 'text-lf.txt');
    assert.equal(binary.data().toString(), 'one\ntwo\nthree\n');
  });

  it('downloads a file that was truncated on disk mid-session without hanging', async () => {
    const client = await connect();
    await writeFile(path.join(t.root, 'shrink.bin'), randomBuffer(1000));
    assert.equal(await client.size('shrink.bin'), 1000);
    await truncate(path.join(t.root, 'shrink.bin'), 10);
    const out = sink();
    await client.downloadTo(out.stream, 'shrink.bin');
    assert.equal(out.data().length, 10);
  });

  it('keeps a session usable across many sequential transfers (no leaked passive ports)', async () => {
    const client = await connect();
    await mkdir(path.join(t.root, 'seq'), { recursive: true });
    for (let i = 0; i < 40; i++) {
      const body = Buffer.from(`file ${i}`);
      await client.uploadFrom(Readable.from([body]), `seq/${i}.txt`);
      const out = sink();
      await client.downloadTo(out.stream, `seq/${i}.txt`);
      assert.equal(out.data().toString(), `file ${i}`);
    }
    assert.equal(t.server.passivePortsInUse, 0);
  });

  it('logged transfer records for this client and never the password', async () => {
    assert.ok(t.logs.some((r) => r.event === 'transfer' && r.result === 'ok' && r.direction === 'upload'));
    assert.ok(t.logs.some((r) => r.event === 'transfer' && r.result === 'ok' && r.direction === 'download'));
    assert.ok(t.logs.some((r) => r.event === 'login' && r.result === 'failed'), 'the failed login was logged');
    assert.ok(!JSON.stringify(t.logs).includes(t.password), 'the password appears in the logs');
  });
});
