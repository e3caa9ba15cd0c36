/**
 * @module test/integration/audit-log
 * The audit log (log.audit, docs/audit-log.md) written by a real server: every line parses as
 * JSON, and login failures, a TLS login, uploads and downloads with their on-the-fly sha256,
 * renames, deletes, mkdir and rmdir carry the documented fields.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, randomBuffer, removeDir, sha256 } from '../helpers/integration.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { ALICE, FtpsClient, startFtpsServer } from '../helpers/ftps-support.js';
import { RawClient } from '../helpers/raw-client.js';
import { expectCode, rawUpload } from '../helpers/raw-transfer.js';
import type { TestServer } from '../helpers/server.js';
import { seedFile } from '../helpers/storage.js';

const FIELDS = new Set(['time', 'event', 'result', 'session', 'protocol', 'user', 'remote', 'via', 'tls', 'tlsVersion', 'tlsCipher', 'path', 'toPath', 'bytes', 'durationMs', 'code', 'sha256', 'replica']);

describe('audit log', () => {
  let dir: string;
  let pki: TestPki;
  let t: TestServer;
  let auditFile: string;
  let records: Record<string, unknown>[] = [];
  const upload = randomBuffer(200_000 + 3);
  const download = randomBuffer(123_457);

  before(async () => {
    dir = await makeTempDir('audit');
    pki = await createTestPki(path.join(dir, 'pki'));
    auditFile = path.join(dir, 'audit.jsonl');
    t = await startFtpsServer(pki, { config: { log: { audit: auditFile, auditSha256: true } } });
    await seedFile(t.storage, '/down.bin', download);

    // A failed login in clear text, then a successful one over TLS doing every file operation.
    const plain = await RawClient.connect(t.port, t.host);
    await plain.read();
    await expectCode(plain, 'USER alice', 331);
    await expectCode(plain, 'PASS wrong-password', 530);
    await expectCode(plain, `USER ${t.user}`, 331);
    await expectCode(plain, `PASS ${t.password}`, 230);
    await expectCode(plain, 'TYPE I', 200);
    const plainUpload = await rawUpload(plain, 'STOR plain.bin', upload);
    assert.equal(plainUpload.final?.code, 226);
    await expectCode(plain, 'QUIT', 221);

    const client = await FtpsClient.connect(t.port);
    await client.secureLogin(ALICE.name, ALICE.password, { ca: pki.caPem });
    const up = await client.transfer('STOR up.bin', { upload });
    assert.equal(up.final?.code, 226, up.final?.text);
    const down = await client.transfer('RETR down.bin');
    assert.equal(down.final?.code, 226, down.final?.text);
    assert.ok(down.data.equals(download));
    await client.expect('MKD newdir', 257);
    await client.expect('RNFR up.bin', 350);
    await client.expect('RNTO newdir/renamed.bin', 250);
    await client.expect('DELE newdir/renamed.bin', 250);
    await client.expect('DELE missing.bin', 550);
    await client.expect('RMD newdir', 250);
    await client.quit();
    client.close();
    // close() flushes the buffered audit stream.
    await t.close();
    const text = await readFile(auditFile, 'utf8');
    records = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  });

  after(async () => {
    await removeDir(dir);
  });

  function find(predicate: (r: Record<string, unknown>) => boolean, label: string): Record<string, unknown> {
    const record = records.find(predicate);
    assert.ok(record, `${label} not in the audit log:\n${records.map((r) => JSON.stringify(r)).join('\n')}`);
    return record;
  }

  it('every line is a JSON object with only documented fields, time in ISO 8601', () => {
    assert.ok(records.length >= 10);
    for (const record of records) {
      for (const key of Object.keys(record)) assert.ok(FIELDS.has(key), `undocumented field ${key}`);
      assert.match(String(record.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(typeof record.session, 'string');
      assert.equal(record.protocol, 'ftp');
      assert.equal(record.remote, '127.0.0.1');
      assert.equal(typeof record.tls, 'boolean');
      assert.equal(typeof record.replica, 'number');
    }
  });

  it('a login failure: user as typed, reason code, no TLS', () => {
    const r = find((x) => x.event === 'login' && x.result === 'failure', 'login failure');
    assert.equal(r.user, 'alice');
    assert.equal(typeof r.code, 'string');
    assert.equal(r.tls, false);
    assert.ok(!JSON.stringify(r).includes('wrong-password'), 'the password must never be logged');
  });

  it('a login success over TLS: version and cipher', () => {
    const r = find((x) => x.event === 'login' && x.result === 'success' && x.tls === true, 'TLS login');
    assert.equal(r.user, 'alice');
    assert.match(String(r.tlsVersion), /^TLSv1\.[23]$/);
    assert.equal(typeof r.tlsCipher, 'string');
  });

  it('uploads and downloads: path, bytes, duration and the sha256 computed on the fly', () => {
    const up = find((x) => x.event === 'upload' && x.path === '/up.bin', 'upload');
    assert.equal(up.result, 'success');
    assert.equal(up.bytes, upload.length);
    assert.equal(up.sha256, sha256(upload));
    assert.equal(typeof up.durationMs, 'number');
    assert.equal(up.tls, true);
    const plain = find((x) => x.event === 'upload' && x.path === '/plain.bin', 'clear-text upload');
    assert.equal(plain.sha256, sha256(upload));
    assert.equal(plain.tls, false);
    const down = find((x) => x.event === 'download' && x.path === '/down.bin', 'download');
    assert.equal(down.result, 'success');
    assert.equal(down.bytes, download.length);
    assert.equal(down.sha256, sha256(download));
  });

  it('mkdir, rename (path and toPath), delete (success and failure with its code), rmdir', () => {
    assert.equal(find((x) => x.event === 'mkdir', 'mkdir').path, '/newdir');
    const rename = find((x) => x.event === 'rename', 'rename');
    assert.deepEqual([rename.path, rename.toPath, rename.result], ['/up.bin', '/newdir/renamed.bin', 'success']);
    assert.equal(find((x) => x.event === 'delete' && x.result === 'success', 'delete').path, '/newdir/renamed.bin');
    const failed = find((x) => x.event === 'delete' && x.result === 'failure', 'failed delete');
    assert.deepEqual([failed.path, failed.code], ['/missing.bin', 'KFTPD_STORAGE_NOT_FOUND']);
    assert.equal(find((x) => x.event === 'rmdir', 'rmdir').result, 'success');
  });
});
