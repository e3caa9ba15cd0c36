/**
 * @module test/integration/chmod.test
 * Changing permission bits, one rule for both protocols (files/user-files setMode: permission
 * "chmod", owner's bits kept, no setuid/setgid/sticky): FTP SITE CHMOD from a raw client, curl
 * -Q and lftp's chmod; SFTP SETSTAT from OpenSSH's chmod and put -p. Modes are checked on disk.
 */
import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CURL_MISSING, LFTP_MISSING, LFTP_SCRIPT_SETTINGS, describeRun, makeTempDir, removeDir, run } from '../helpers/integration.js';
import { OPENSSH_MISSING, makeKeys, sftpBatch, type SshKeys } from '../helpers/sftp.js';
import { seedFile } from '../helpers/storage.js';

const PASSWORD = 'secret-password';

describe('chmod: FTP SITE CHMOD and SFTP SETSTAT', () => {
  let t: TestServer;
  let keys: SshKeys | null = null;
  let local: string;
  let sftpPort: number;

  const modeOf = async (name: string): Promise<number> => (await stat(path.join(t.root, name))).mode & 0o7777;

  before(async () => {
    local = await makeTempDir('kftpd-chmod-');
    keys = OPENSSH_MISSING() === null ? await makeKeys() : null;
    t = await startTestServer({
      config: { sftp: { enabled: true, port: 0 } },
      users: [
        { name: 'alice', password: PASSWORD, ...(keys ? { publicKeys: [keys.publicLine] } : {}) },
        { name: 'nochmod', password: PASSWORD, permissions: ['list', 'download', 'upload', 'overwrite'], home: '/', ...(keys ? { publicKeys: [keys.publicLine] } : {}) },
      ],
    });
    sftpPort = t.server.sftpAddress()?.port ?? 0;
  });

  after(async () => {
    await t?.close();
    await removeDir(local);
    if (keys) await removeDir(keys.dir);
  });

  it('SITE CHMOD: 200 with the mode set, owner bits kept; 501 for bad syntax, 550 for a missing file or no permission; SITE HELP; unknown 500', async () => {
    await seedFile(t.storage, '/site.txt', 'x');
    const c = await RawClient.connect(t.port);
    try {
      await c.login('alice', PASSWORD);
      const help = await c.send('HELP');
      assert.match(help.text, /\bSITE\b/);
      assert.equal((await c.send('SITE HELP')).code, 214);
      const set = await c.send('SITE CHMOD 640 site.txt');
      assert.equal(set.code, 200, set.text);
      assert.match(set.text, /0640/);
      assert.equal(await modeOf('site.txt'), 0o640);
      const kept = await c.send('SITE chmod 4000 site.txt');
      assert.equal(kept.code, 200, kept.text);
      assert.match(kept.text, /0600/);
      assert.equal(await modeOf('site.txt'), 0o600);
      assert.equal((await c.send('SITE CHMOD 9 site.txt')).code, 501);
      assert.equal((await c.send('SITE CHMOD 644')).code, 501);
      assert.equal((await c.send('SITE')).code, 501);
      assert.equal((await c.send('SITE CHMOD 644 missing.txt')).code, 550);
      assert.equal((await c.send('SITE EXEC /bin/sh')).code, 500);
    } finally {
      c.close();
    }
    const other = await RawClient.connect(t.port);
    try {
      await other.login('nochmod', PASSWORD);
      assert.equal((await other.send('SITE CHMOD 666 site.txt')).code, 550);
      assert.equal(await modeOf('site.txt'), 0o600);
    } finally {
      other.close();
    }
  });

  it('curl -Q "SITE CHMOD" and lftp chmod set the mode', { skip: CURL_MISSING() ?? LFTP_MISSING() ?? false }, async () => {
    await seedFile(t.storage, '/curl.txt', 'c');
    await seedFile(t.storage, '/lftp.txt', 'l');
    const curl = await run('curl', ['-sS', '--user', `alice:${PASSWORD}`, '-Q', 'SITE CHMOD 604 curl.txt', `ftp://127.0.0.1:${t.port}/`, '-o', '/dev/null']);
    assert.equal(curl.code, 0, describeRun(curl));
    assert.equal(await modeOf('curl.txt'), 0o604);
    const script = path.join(local, 'chmod.lftp');
    await writeFile(script, [...LFTP_SCRIPT_SETTINGS, 'set ftp:ssl-allow no', `open -u alice,${PASSWORD} -p ${t.port} 127.0.0.1`, 'chmod 640 lftp.txt', 'bye', ''].join('\n'));
    const lftp = await run('lftp', ['-f', script], { timeoutMs: 30_000 });
    assert.equal(lftp.code, 0, describeRun(lftp));
    assert.equal(await modeOf('lftp.txt'), 0o640);
  });

  it('OpenSSH sftp: chmod, put -p keeps mode and time, ls -l shows the mode; without the permission chmod is refused', { skip: OPENSSH_MISSING() ?? false }, async () => {
    assert.ok(keys);
    const file = path.join(local, 'kept.txt');
    await writeFile(file, 'kept');
    await chmod(file, 0o600);
    const r = await sftpBatch(sftpPort, 'alice', keys.key, ['put -p kept.txt', 'put kept.txt plain.txt', 'chmod 640 plain.txt', 'ls -l'], { cwd: local });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await modeOf('kept.txt'), 0o600);
    assert.equal(await modeOf('plain.txt'), 0o640);
    assert.match(r.stdout, /^-rw-r-----\s.*plain\.txt$/m);
    // SFTP carries whole seconds.
    assert.equal((await stat(path.join(t.root, 'kept.txt'))).mtimeMs, Math.floor((await stat(file)).mtimeMs / 1000) * 1000);
    const refused = await sftpBatch(sftpPort, 'nochmod', keys.key, ['chmod 666 plain.txt']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Permission denied/);
    assert.equal(await modeOf('plain.txt'), 0o640);
  });
});
