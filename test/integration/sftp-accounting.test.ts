/**
 * @module test/integration/sftp-accounting
 * SFTP transfers are accounted like FTP's (files/transfer-accounting): an xferlog line, an
 * audit record (upload/download with path, bytes, result, the real client address) and a
 * `transfer` log record per file, from a real client (curl's libssh2).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CURL_MISSING, describeRun, makeTempDir, removeDir, run, sha256File, writeRandomFile } from '../helpers/integration.js';
import { startTestServer } from '../helpers/server.js';

describe('SFTP transfer accounting', () => {
  it('curl sftp:// upload and download: one xferlog line and one audit record each, with bytes and the client address', { skip: CURL_MISSING() ?? false }, async () => {
    const dir = await makeTempDir('kftpd-sftp-accounting-');
    const xferlog = path.join(dir, 'xferlog');
    const auditFile = path.join(dir, 'audit.log');
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0 }, log: { xferlog, audit: auditFile } } });
    try {
      const port = t.server.sftpAddress()?.port ?? 0;
      const src = path.join(dir, 'up.bin');
      const digest = await writeRandomFile(src, 300_000);
      const auth = ['-s', '-S', '--insecure', '-u', `${t.user}:${t.password}`];
      const up = await run('curl', [...auth, '-T', src, `sftp://127.0.0.1:${port}/~/up.bin`], { timeoutMs: 30_000 });
      assert.equal(up.code, 0, describeRun(up));
      const out = path.join(dir, 'back.bin');
      const down = await run('curl', [...auth, '-o', out, `sftp://127.0.0.1:${port}/~/up.bin`], { timeoutMs: 30_000 });
      assert.equal(down.code, 0, describeRun(down));
      assert.equal(await sha256File(out), digest);
      const transfers = t.logs.filter((r) => r['event'] === 'transfer' && String(r['command']).startsWith('SFTP'));
      assert.deepEqual(
        transfers.map((r) => [r['direction'], r['bytes'], r['result']]),
        [
          ['upload', 300_000, 'ok'],
          ['download', 300_000, 'ok'],
        ],
      );
    } finally {
      await t.close();
    }
    try {
      const lines = (await readFile(xferlog, 'utf8')).trim().split('\n');
      assert.equal(lines.length, 2, lines.join('\n'));
      assert.match(lines[0] ?? '', / 127\.0\.0\.1 300000 \/up\.bin b _ i r alice /);
      assert.match(lines[1] ?? '', / 127\.0\.0\.1 300000 \/up\.bin b _ o r alice /);
      const records = (await readFile(auditFile, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((r) => r['event'] === 'upload' || r['event'] === 'download');
      assert.deepEqual(
        records.map((r) => [r['event'], r['result'], r['path'], r['bytes'], r['remote'], r['user']]),
        [
          ['upload', 'success', '/up.bin', 300_000, '127.0.0.1', 'alice'],
          ['download', 'success', '/up.bin', 300_000, '127.0.0.1', 'alice'],
        ],
      );
    } finally {
      await removeDir(dir);
    }
  });
});
