/**
 * @module test/integration/sftp-clients.test
 * SFTP with real clients against one kftpd (sftp.enabled): OpenSSH sftp in batch mode with an
 * ed25519 key and with a password (SSH_ASKPASS), scp (SFTP mode), curl sftp:// (libssh2) and
 * paramiko. Transfers are checked with sha256 both ways, with resume both ways; listings of
 * 1,000 entries; rename/remove/mkdir/rmdir; names with spaces and UTF-8; v3 rename vs
 * posix-rename; permission refusals; confinement; links refused; bounded handles; shell, exec,
 * legacy scp and port forwarding refused; wrong key and password refused and scored.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CURL_MISSING, LFTP_MISSING, unavailableReason, describeRun, makeTempDir, removeDir, run, sha256, sha256File, writeRandomFile } from '../helpers/integration.js';
import { OPENSSH_MISSING, PARAMIKO_MISSING, makeKeys, paramiko, sftpBatch, sftpWithPassword, sshOptions, type SshKeys } from '../helpers/sftp.js';
import { exists, readAll, readText, seedFile, seedManyFiles } from '../helpers/storage.js';

const skip = OPENSSH_MISSING();

describe('SFTP with real clients', { skip: skip ?? false }, () => {
  let t: TestServer;
  let keys: SshKeys;
  let local: string;
  let port: number;
  const PASSWORD = 'secret-password';

  before(async () => {
    keys = await makeKeys();
    local = await makeTempDir('kftpd-sftp-local-');
    t = await startTestServer({
      config: { sftp: { enabled: true, port: 0, maxOpenHandles: 8 }, limits: { maxFailedLogins: 2 } },
      users: [
        { name: 'alice', password: PASSWORD, publicKeys: [keys.publicLine] },
        { name: 'reader', password: 'reader-password', permissions: ['read-only'], home: '/' },
      ],
    });
    port = t.server.sftpAddress()?.port ?? 0;
    assert.ok(port > 0);
  });

  after(async () => {
    await t?.close();
    await removeDir(local);
    await removeDir(keys.dir);
  });

  it('OpenSSH sftp -b with an ed25519 key: put/get with sha256, awkward names, ls -l, mkdir/rename/rm/rmdir', async () => {
    const src = path.join(local, 'up load ✓.bin');
    const digest = await writeRandomFile(src, 3 * 1024 * 1024 + 17);
    const r = await sftpBatch(port, 'alice', keys.key, [
      'mkdir "dir ü"',
      `put "${src}" "dir ü/up load ✓.bin"`,
      `get "dir ü/up load ✓.bin" "${path.join(local, 'back.bin')}"`,
      'ls -l "dir ü"',
      'rename "dir ü/up load ✓.bin" "dir ü/renamed.bin"',
      'rm "dir ü/renamed.bin"',
      'rmdir "dir ü"',
      'pwd',
    ]);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await sha256File(path.join(local, 'back.bin')), digest);
    assert.match(r.stdout, /-rw-r--r-- .* 3145745 .*up load ✓\.bin/);
    assert.match(r.stdout, /Remote working directory: \/\n/);
    assert.equal(await exists(t.storage, '/dir ü'), false);
    // The session ended with exit-status 0 (scp and sftp check it).
    assert.doesNotMatch(r.stderr, /Exit status/);
  });

  it('OpenSSH sftp with a password (SSH_ASKPASS): reput and reget resume both ways', async () => {
    const src = path.join(local, 'resume.bin');
    const digest = await writeRandomFile(src, 2 * 1024 * 1024 + 5);
    const whole = await readFile(src);
    await seedFile(t.storage, '/resume.bin', whole.subarray(0, 700_000));
    await writeFile(path.join(local, 'partial.bin'), whole.subarray(0, 1_000_000));
    const r = await sftpWithPassword(port, 'alice', await keys.askpass(PASSWORD), [`reput "${src}" resume.bin`, `reget resume.bin "${path.join(local, 'partial.bin')}"`]);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /Resuming upload/);
    assert.match(r.stdout, /Resuming \/resume\.bin/);
    assert.equal(sha256(await readAll(t.storage, '/resume.bin')), digest);
    assert.equal(await sha256File(path.join(local, 'partial.bin')), digest);
  });

  it('lists 1,000 entries (streamed readdir)', async () => {
    const names = await seedManyFiles(t.storage, '/many', 1000);
    const r = await sftpBatch(port, 'alice', keys.key, ['ls -1 many']);
    assert.equal(r.code, 0, describeRun(r));
    const listed = r.stdout.split('\n').filter((l) => /^many\/f\d{4}\.txt$/.test(l.trim()));
    assert.equal(listed.length, names.length);
  });

  it('scp (SFTP mode) both ways with sha256; legacy scp (-O, exec "scp -t") is refused', async () => {
    const src = path.join(local, 'scp me.bin');
    const digest = await writeRandomFile(src, 1024 * 1024 + 3);
    const base = ['-P', String(port), '-i', keys.key, ...sshOptions(['IdentitiesOnly=yes', 'BatchMode=yes'])];
    const up = await run('scp', [...base, src, 'alice@127.0.0.1:scp.bin'], { timeoutMs: 30_000 });
    assert.equal(up.code, 0, describeRun(up));
    const down = await run('scp', [...base, 'alice@127.0.0.1:scp.bin', path.join(local, 'scp-back.bin')], { timeoutMs: 30_000 });
    assert.equal(down.code, 0, describeRun(down));
    assert.equal(await sha256File(path.join(local, 'scp-back.bin')), digest);
    const legacy = await run('scp', ['-O', ...base, src, 'alice@127.0.0.1:legacy.bin'], { timeoutMs: 30_000 });
    assert.notEqual(legacy.code, 0, describeRun(legacy));
    assert.equal(await exists(t.storage, '/legacy.bin'), false);
  });

  it('refuses shell, exec and port forwarding (SFTP only)', async () => {
    const base = ['-p', String(port), '-i', keys.key, ...sshOptions(['IdentitiesOnly=yes', 'BatchMode=yes'])];
    const exec = await run('ssh', [...base, 'alice@127.0.0.1', 'cat /etc/passwd'], { timeoutMs: 20_000 });
    assert.notEqual(exec.code, 0);
    assert.doesNotMatch(exec.stdout, /root:/);
    const shell = await run('ssh', [...base, '-T', 'alice@127.0.0.1'], { timeoutMs: 20_000 });
    assert.notEqual(shell.code, 0);
    const forward = await run('ssh', [...base, '-N', '-o', 'ExitOnForwardFailure=yes', '-R', '0:127.0.0.1:9', 'alice@127.0.0.1'], { timeoutMs: 20_000 });
    assert.notEqual(forward.code, 0, describeRun(forward));
    const refused = new Set(t.logs.filter((l) => l.event === 'sftp.refused-request').map((l) => l.request));
    for (const what of ['exec', 'shell', 'tcpip-forward']) assert.ok(refused.has(what), `${what} refused and logged (${[...refused].join(', ')})`);
  });

  it('curl sftp:// (libssh2) with a password: upload, download with sha256, listing', { skip: CURL_MISSING() ?? false }, async () => {
    const src = path.join(local, 'curl up.bin');
    const digest = await writeRandomFile(src, 2 * 1024 * 1024);
    const url = `sftp://127.0.0.1:${port}/~/`;
    const auth = ['-s', '-S', '--insecure', '-u', `alice:${PASSWORD}`];
    const up = await run('curl', [...auth, '-T', src, `${url}curl%20up.bin`], { timeoutMs: 30_000 });
    assert.equal(up.code, 0, describeRun(up));
    const out = path.join(local, 'curl-back.bin');
    const down = await run('curl', [...auth, '-o', out, `${url}curl%20up.bin`], { timeoutMs: 30_000 });
    assert.equal(down.code, 0, describeRun(down));
    assert.equal(await sha256File(out), digest);
    const list = await run('curl', [...auth, url], { timeoutMs: 30_000 });
    assert.match(list.stdout, /curl up\.bin/);
  });

  it('rclone sftp: copy both ways with sha256, modification time kept, listing', { skip: unavailableReason('rclone', ['version']) ?? false }, async () => {
    const src = path.join(local, 'rclone up.bin');
    const digest = await writeRandomFile(src, 1024 * 1024 + 9);
    const obscured = await run('rclone', ['obscure', PASSWORD]);
    const remote = ['--sftp-host', '127.0.0.1', '--sftp-port', String(port), '--sftp-user', 'alice', '--sftp-pass', obscured.stdout.trim(), '--sftp-shell-type', 'none', '--config', '/dev/null'];
    const up = await run('rclone', ['copyto', src, ':sftp:/rclone/up.bin', ...remote], { timeoutMs: 30_000 });
    assert.equal(up.code, 0, describeRun(up));
    const back = path.join(local, 'rclone-back.bin');
    const down = await run('rclone', ['copyto', ':sftp:/rclone/up.bin', back, ...remote], { timeoutMs: 30_000 });
    assert.equal(down.code, 0, describeRun(down));
    assert.equal(await sha256File(back), digest);
    assert.equal(Math.floor((await t.storage.stat('/rclone/up.bin')).modifiedAt.getTime() / 1000), Math.floor((await stat(src)).mtimeMs / 1000));
  });

  it('lftp sftp://: put and get with sha256, listing', { skip: LFTP_MISSING() ?? false }, async () => {
    const src = path.join(local, 'lftp up.bin');
    const digest = await writeRandomFile(src, 1024 * 1024 + 1);
    const back = path.join(local, 'lftp-back.bin');
    const script = `set sftp:auto-confirm yes; set net:max-retries 1; put "${src}" -o "lftp up.bin"; get "lftp up.bin" -o "${back}"; cls -1; bye`;
    const r = await run('lftp', ['-u', `alice,${PASSWORD}`, '-e', script, `sftp://127.0.0.1:${port}`], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await sha256File(back), digest);
    assert.match(r.stdout, /lftp up\.bin/);
  });

  it('paramiko: v3 rename refuses an existing target, posix-rename replaces, links refused, confinement, bounded handles', { skip: PARAMIKO_MISSING() ?? false }, async () => {
    await seedFile(t.storage, '/a.txt', 'A');
    await seedFile(t.storage, '/b.txt', 'B');
    const program = `
def code(f):
    try:
        f()
        return "ok"
    except IOError as e:
        return type(e).__name__ + ":" + str(e)
print("rename", code(lambda: s.rename("a.txt", "b.txt")))
print("posix", code(lambda: s.posix_rename("a.txt", "b.txt")))
print("symlink", code(lambda: s.symlink("/etc/passwd", "link")))
print("readlink", code(lambda: s.readlink("b.txt")))
print("escape", code(lambda: s.stat("../../../../etc/passwd")))
print("realpath", s.normalize("../../.."))
handles = []
def many():
    for i in range(20):
        handles.append(s.open("b.txt", "r"))
print("handles", code(many), len(handles))
for h in handles: h.close()
with s.open("pm.bin", "w") as f:
    f.write(b"x" * 100000)
print("size", s.stat("pm.bin").st_size)
s.utime("pm.bin", (1000000000, 1000000000))
print("mtime", s.stat("pm.bin").st_mtime)
`;
    const r = await paramiko(program, { PORT: String(port), USER: 'alice', PASSWORD });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /^rename (IOError|OSError):.*Failure/m);
    assert.match(r.stdout, /^posix ok$/m);
    assert.equal(await readText(t.storage, '/b.txt'), 'A');
    assert.match(r.stdout, /^symlink (IOError|OSError):.*Operation unsupported/m);
    assert.match(r.stdout, /^readlink (IOError|OSError|FileNotFoundError)/m);
    assert.match(r.stdout, /^escape FileNotFoundError/m);
    assert.match(r.stdout, /^realpath \/$/m);
    assert.match(r.stdout, /^handles (IOError|OSError):.*Too many open handles.* 8$/m);
    assert.match(r.stdout, /^size 100000$/m);
    assert.match(r.stdout, /^mtime 1000000000$/m);
    assert.equal((await t.storage.stat('/pm.bin')).modifiedAt.getTime(), 1e12);
  });

  it('paramiko: truncate by path and by handle (cut and extend), "x" refuses an existing file and creates a new one, "name/" is not a file', { skip: PARAMIKO_MISSING() ?? false }, async () => {
    await seedFile(t.storage, '/trunc.txt', '0123456789');
    const program = `
def code(f):
    try:
        v = f()
        return "ok" if v is None else "ok " + str(v)
    except IOError as e:
        return type(e).__name__ + ":" + str(e)
s.truncate("trunc.txt", 4)
print("path", s.stat("trunc.txt").st_size)
with s.open("trunc.txt", "r+") as f:
    f.write(b"AB")
    f.truncate(3)
print("handle", s.stat("trunc.txt").st_size)
s.truncate("trunc.txt", 6)
print("extend", s.stat("trunc.txt").st_size)
print("xold", code(lambda: s.open("trunc.txt", "x")))
print("xnew", code(lambda: s.open("fresh.txt", "x").close()))
print("slash", code(lambda: s.open("trunc.txt/", "r")))
print("dir", code(lambda: s.truncate("/", 0)))
`;
    const r = await paramiko(program, { PORT: String(port), USER: 'alice', PASSWORD });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /^path 4$/m);
    assert.match(r.stdout, /^handle 3$/m);
    assert.match(r.stdout, /^extend 6$/m);
    assert.deepEqual(await readAll(t.storage, '/trunc.txt'), Buffer.from('AB2\0\0\0', 'binary'));
    assert.match(r.stdout, /^xold (IOError|OSError):.*Failure/m);
    assert.match(r.stdout, /^xnew ok$/m);
    assert.equal((await t.storage.stat('/fresh.txt')).size, 0);
    assert.match(r.stdout, /^slash FileNotFoundError/m);
    assert.match(r.stdout, /^dir (IOError|OSError)/m);
  });

  it('a read-only user: downloads work, every change is refused with Permission denied', async () => {
    await seedFile(t.storage, '/ro.txt', await readAll(t.storage, '/b.txt'));
    const askpass = await keys.askpass('reader-password');
    const r = await sftpWithPassword(port, 'reader', askpass, [`get ro.txt "${path.join(local, 'ro.txt')}"`, `put "${path.join(local, 'ro.txt')}" new.txt`, 'mkdir d', 'rm ro.txt', 'rename ro.txt x.txt']);
    assert.equal(await readFile(path.join(local, 'ro.txt'), 'utf8'), 'A');
    const denials = r.stderr.match(/Permission denied/g) ?? [];
    assert.ok(denials.length >= 4, describeRun(r));
    await t.storage.stat('/ro.txt');
    assert.equal(await exists(t.storage, '/new.txt'), false);
  });

  it('wrong key and wrong password are refused and scored by the defender', async () => {
    const from = ['BindAddress=127.0.0.2'];
    const wrongKey = await sftpBatch(port, 'alice', keys.otherKey, ['pwd'], { extra: from });
    assert.notEqual(wrongKey.code, 0);
    const wrongPassword = await sftpWithPassword(port, 'alice', await keys.askpass('nope'), ['pwd'], { extra: from });
    assert.doesNotMatch(wrongPassword.stdout, /Remote working directory/);
    const scored = t.logs.filter((l) => l.event === 'defender.event' && l.address === '127.0.0.2' && l.reason === 'login-failed');
    assert.ok(scored.length >= 2, `scored: ${scored.length}`);
    const failures = t.logs.filter((l) => l.event === 'login' && l.result === 'failed' && l.remote === '127.0.0.2').map((l) => l.reason);
    assert.ok(failures.includes('bad-key') && failures.includes('bad-password'), failures.join(', '));
  });
});
