/**
 * @module test/unit/sftp/read-cursor.test
 * An SFTP read handle on the local storage (1 MiB chunks): every READ is answered in full
 * except at the end of the file, whatever the request size and wherever the storage's chunks
 * end (OpenSSH's client shrinks its requests for the rest of a download after one short
 * read), seeks reopen the file, and the bytes are the file's.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expandPermissions } from '../../../src/core/permissions.js';
import { UserFiles } from '../../../src/files/user-files.js';
import { ReadCursor } from '../../../src/sftp/sftp-handles.js';
import { LocalStorage } from '../../../src/storage/local/local-storage.js';

describe('SFTP read handle', () => {
  let dir = '';
  let files: UserFiles;
  const size = 3 * 1024 * 1024 + 12_345;
  const content = Buffer.alloc(size);
  for (let i = 0; i < size; i++) content[i] = (i * 31 + (i >> 11)) & 0xff;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-read-cursor-'));
    await writeFile(path.join(dir, 'big.bin'), content);
    const principal = { name: 'alice', home: '/', permissions: expandPermissions(['read-write']), anonymous: false };
    files = new UserFiles(principal, new LocalStorage({ home: dir }), { maxPathBytes: 1024, maxPathDepth: 16 }, { refused: () => undefined, changed: () => undefined });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers sequential reads in full across storage chunk boundaries (255 KiB requests, as OpenSSH sends)', async () => {
    const cursor = new ReadCursor(files, '/big.bin', size);
    const request = 261_120;
    const got: Buffer[] = [];
    for (let offset = 0; ; offset += request) {
      const result = await cursor.read(offset, request);
      if (result === null) break;
      const data = Buffer.concat(result.chunks);
      assert.equal(data.length, result.length);
      if (offset + request < size) assert.equal(result.length, request, `short read at ${offset}`);
      else assert.equal(result.length, size - offset);
      got.push(data);
    }
    cursor.close();
    assert.ok(Buffer.concat(got).equals(content));
    assert.equal(cursor.bytes, size);
  });

  it('serves a seek (resume, random access) from the new offset', async () => {
    const cursor = new ReadCursor(files, '/big.bin', size);
    const at = 2 * 1024 * 1024 - 7;
    const first = await cursor.read(at, 100_000);
    assert.ok(first && Buffer.concat(first.chunks).equals(content.subarray(at, at + 100_000)));
    const back = await cursor.read(10, 20);
    assert.ok(back && Buffer.concat(back.chunks).equals(content.subarray(10, 30)));
    assert.equal(await cursor.read(size, 10), null);
    cursor.close();
  });
});
