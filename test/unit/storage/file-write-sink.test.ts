/**
 * @module test/unit/storage/file-write-sink.test
 * The local adapter's upload sink on a real temp file: bytes land in order whatever the chunk
 * pattern (many tiny chunks beyond IOV_MAX per writev, chunks bigger than a batch, a stall in
 * the middle), a stalled upload has its bytes on disk before it ends, destroy() keeps what was
 * accepted, and append mode writes at the end.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { FileWriteSink } from '../../../src/storage/local/file-write-sink.js';

describe('FileWriteSink', () => {
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kftpd-sink-'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  async function writeThrough(name: string, chunks: Buffer[], position: number | null = 0, flags = 'w'): Promise<string> {
    const file = path.join(dir, name);
    const fd = fs.openSync(file, flags);
    const sink = new FileWriteSink(fd, position);
    for (const chunk of chunks) if (!sink.write(chunk)) await once(sink, 'drain');
    sink.end();
    await once(sink, 'finish');
    sink.destroy();
    await once(sink, 'close');
    return file;
  }

  it('keeps the order of 5,000 tiny chunks (more than IOV_MAX per batch) and of chunks bigger than a batch', async () => {
    const tiny = Array.from({ length: 5000 }, (_, i) => Buffer.from(`${i},`));
    const file = await writeThrough('tiny', tiny);
    assert.equal(await fsp.readFile(file, 'utf8'), tiny.map(String).join(''));
    const big = [randomBytes(3 << 20), randomBytes(100), randomBytes(2 << 20)];
    const bigFile = await writeThrough('big', big);
    assert.deepEqual(await fsp.readFile(bigFile), Buffer.concat(big));
  });

  it('a stalled upload has its bytes on disk before it ends; destroy() keeps them', async () => {
    const file = path.join(dir, 'stall');
    const fd = fs.openSync(file, 'w');
    const sink = new FileWriteSink(fd, 0);
    sink.write(Buffer.from('first part'));
    for (let i = 0; i < 50 && fs.statSync(file).size < 10; i++) await sleep(10);
    assert.equal(fs.readFileSync(file, 'utf8'), 'first part');
    sink.write(Buffer.from(', second'));
    sink.destroy();
    await once(sink, 'close');
    assert.equal(fs.readFileSync(file, 'utf8'), 'first part, second');
    assert.throws(() => fs.fstatSync(fd), /EBADF/, 'the fd is closed');
  });

  it('writes at the given position, or at the end with O_APPEND (position null)', async () => {
    await fsp.writeFile(path.join(dir, 'pos'), 'xxxxxxxx');
    await writeThrough('pos', [Buffer.from('ab'), Buffer.from('cd')], 2, 'r+');
    assert.equal(await fsp.readFile(path.join(dir, 'pos'), 'utf8'), 'xxabcdxx');
    await fsp.writeFile(path.join(dir, 'app'), 'head-');
    await writeThrough('app', [Buffer.from('tail')], null, 'a');
    assert.equal(await fsp.readFile(path.join(dir, 'app'), 'utf8'), 'head-tail');
  });

  it('a write error (a read-only fd) fails the stream', async () => {
    const file = path.join(dir, 'ro');
    await fsp.writeFile(file, '');
    const sink = new FileWriteSink(fs.openSync(file, 'r'), 0);
    const failed = once(sink, 'error');
    sink.end(Buffer.from('nope'));
    const [error] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'EBADF');
    sink.destroy();
  });
});
