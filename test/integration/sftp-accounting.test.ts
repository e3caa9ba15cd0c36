/**
 * @module test/integration/sftp-accounting
 * SFTP transfers are accounted like FTP's (files/transfer-accounting): an xferlog line, an
 * audit record (upload/download with path, bytes, result, the real client address) and a
 * `transfer` log record per file, from a real client (curl's libssh2); an FTP upload to the
 * same server is told apart from them (xferlog service name, audit `protocol`, the metrics'
 * `protocol` label).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CURL_MISSING, describeRun, makeTempDir, removeDir, run, sha256File, writeRandomFile } from '../helpers/integration.js';
import { startTestServer } from '../helpers/server.js';

describe('SFTP transfer accounting', () => {
  it('curl sftp:// upload and download: one xferlog line and one audit record each, with bytes and the client address, told apart from FTP', { skip: CURL_MISSING() ?? false }, async () => {
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
      const ftp = await run('curl', ['-s', '-S', '-u', `${t.user}:${t.password}`, '-T', src, `ftp://127.0.0.1:${t.port}/ftp.bin`], { timeoutMs: 30_000 });
      assert.equal(ftp.code, 0, describeRun(ftp));
      const registry = t.server.metrics.registry;
      const transfersMetric = await registry.getSingleMetricAsString('kftpd_transfers_total');
      assert.match(transfersMetric, /^kftpd_transfers_total\{protocol="sftp",direction="upload",result="ok"\} 1$/m);
      assert.match(transfersMetric, /^kftpd_transfers_total\{protocol="sftp",direction="download",result="ok"\} 1$/m);
      assert.match(transfersMetric, /^kftpd_transfers_total\{protocol="ftp",direction="upload",result="ok"\} 1$/m);
      const bytesMetric = await registry.getSingleMetricAsString('kftpd_transfer_bytes_total');
      assert.match(bytesMetric, /^kftpd_transfer_bytes_total\{protocol="sftp",direction="download"\} 300000$/m);
      assert.match(bytesMetric, /^kftpd_transfer_bytes_total\{protocol="ftp",direction="upload"\} 300000$/m);
      assert.match(await registry.getSingleMetricAsString('kftpd_transfer_duration_seconds'), /^kftpd_transfer_duration_seconds_count\{protocol="sftp",direction="upload"\} 1$/m);
      const logins = await registry.getSingleMetricAsString('kftpd_logins_total');
      assert.match(logins, /^kftpd_logins_total\{protocol="sftp",result="ok"\} 2$/m);
      assert.match(logins, /^kftpd_logins_total\{protocol="ftp",result="ok"\} 1$/m);
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
      assert.equal(lines.length, 3, lines.join('\n'));
      assert.match(lines[0] ?? '', / 127\.0\.0\.1 300000 \/up\.bin b _ i r alice sftp 0 \* c$/);
      assert.match(lines[1] ?? '', / 127\.0\.0\.1 300000 \/up\.bin b _ o r alice sftp 0 \* c$/);
      assert.match(lines[2] ?? '', / 127\.0\.0\.1 300000 \/ftp\.bin b _ i r alice ftp 0 \* c$/);
      const records = (await readFile(auditFile, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((r) => r['event'] === 'upload' || r['event'] === 'download');
      assert.deepEqual(
        records.map((r) => [r['event'], r['result'], r['path'], r['bytes'], r['remote'], r['user'], r['protocol']]),
        [
          ['upload', 'success', '/up.bin', 300_000, '127.0.0.1', 'alice', 'sftp'],
          ['download', 'success', '/up.bin', 300_000, '127.0.0.1', 'alice', 'sftp'],
          ['upload', 'success', '/ftp.bin', 300_000, '127.0.0.1', 'alice', 'ftp'],
        ],
      );
    } finally {
      await removeDir(dir);
    }
  });
});
