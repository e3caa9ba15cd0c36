/**
 * @module test/integration/xferlog
 * log.xferlog: one xferlog line per file transfer (not per listing), with the client address,
 * direction and completion status, alongside the JSON logs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';
import { MemoryStorageProvider } from '../../src/storage/memory/memory-storage.js';
import { seedFile } from '../helpers/storage.js';

describe('xferlog', () => {
  it('writes one line per upload and download', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-xferlog-'));
    const file = path.join(dir, 'xferlog');
    const s = await startTestServer({ config: { log: { level: 'debug', xferlog: file } } });
    try {
      await seedFile(s.storage, '/down.bin', Buffer.alloc(1000, 1));
      const client = await RawClient.connect(s.port);
      await client.login(s.user, s.password);
      await client.send('TYPE I');
      let data = await client.openPassiveData();
      assert.equal((await client.send('RETR down.bin')).code, 150);
      assert.equal((await readAll(data)).length, 1000);
      assert.equal((await client.read()).code, 226);
      data = await client.openPassiveData();
      assert.equal((await client.send('STOR up load.bin')).code, 150);
      data.end(Buffer.alloc(77, 2));
      assert.equal((await client.read()).code, 226);
      data = await client.openPassiveData();
      assert.equal((await client.send('LIST')).code, 150);
      await readAll(data);
      assert.equal((await client.read()).code, 226);
      client.close();
      await s.close();
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      assert.equal(lines.length, 2, lines.join('\n'));
      assert.match(lines[0] ?? '', / 127\.0\.0\.1 1000 \/down\.bin b _ o r alice ftp 0 \* c$/);
      assert.match(lines[1] ?? '', / 127\.0\.0\.1 77 \/up_load\.bin b _ i r alice ftp 0 \* c$/);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('counts the bytes actually moved, whatever the storage adapter (memory adapter, binary and TYPE A)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-xferlog-'));
    const file = path.join(dir, 'xferlog');
    const s = await startTestServer({ config: { log: { level: 'debug', xferlog: file } }, storage: () => new MemoryStorageProvider() });
    try {
      // Seeded through the backend: the memory adapter's streams have no fs byte counters.
      await seedFile(s.storage, '/seed.bin', Buffer.alloc(1000, 1));
      const client = await RawClient.connect(s.port);
      await client.login(s.user, s.password);
      await client.send('TYPE I');
      let data = await client.openPassiveData();
      assert.equal((await client.send('RETR seed.bin')).code, 150);
      assert.equal((await readAll(data)).length, 1000);
      assert.equal((await client.read()).code, 226);
      data = await client.openPassiveData();
      assert.equal((await client.send('STOR up.bin')).code, 150);
      data.end(Buffer.alloc(77, 2));
      assert.equal((await client.read()).code, 226);
      // TYPE A counts the file's bytes: 6 on the wire (CRLF), 4 stored (LF), and back.
      await client.send('TYPE A');
      data = await client.openPassiveData();
      assert.equal((await client.send('STOR text.txt')).code, 150);
      data.end(Buffer.from('x\r\ny\r\n'));
      assert.equal((await client.read()).code, 226);
      data = await client.openPassiveData();
      assert.equal((await client.send('RETR text.txt')).code, 150);
      assert.equal((await readAll(data)).toString(), 'x\r\ny\r\n');
      assert.equal((await client.read()).code, 226);
      client.close();
      await s.close();
      const transfers = s.logs.filter((entry) => entry.event === 'transfer').map((entry) => [entry.command, entry.path, entry.bytes, entry.result]);
      assert.deepEqual(transfers, [
        ['RETR', '/seed.bin', 1000, 'ok'],
        ['STOR', '/up.bin', 77, 'ok'],
        ['STOR', '/text.txt', 4, 'ok'],
        ['RETR', '/text.txt', 4, 'ok'],
      ]);
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      assert.equal(lines.length, 4, lines.join('\n'));
      assert.match(lines[0] ?? '', / 127\.0\.0\.1 1000 \/seed\.bin b _ o r alice ftp 0 \* c$/);
      assert.match(lines[1] ?? '', / 127\.0\.0\.1 77 \/up\.bin b _ i r alice ftp 0 \* c$/);
      assert.match(lines[2] ?? '', / 127\.0\.0\.1 4 \/text\.txt a _ i r alice ftp 0 \* c$/);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
