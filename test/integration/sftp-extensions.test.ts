/**
 * @module test/integration/sftp-extensions.test
 * statvfs@openssh.com, fstatvfs@openssh.com and hardlink@openssh.com: offered in VERSION only
 * when the user's storage can do them (local: yes; memory: no). OpenSSH's sftp `df`, `df -h`
 * and `ln` (a hard link: `ln` without -s) against kftpd, the refusals of `ln` (target exists,
 * a directory, no permission, a path or link leading out of the home), and the packets
 * themselves from the ssh2 client (reply layout of OpenSSH's PROTOCOL §4.4).
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { MemoryStorageProvider } from '../../src/storage/memory/memory-storage.js';
import { describeRun, removeDir } from '../helpers/integration.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { OPENSSH_MISSING, makeKeys, sftpBatch, type SshKeys } from '../helpers/sftp.js';
import { readText, seedFile } from '../helpers/storage.js';

const skip = OPENSSH_MISSING();
const PASSWORD = 'secret-password';

/** A raw SFTP channel: INIT sent, VERSION's extensions read. */
async function rawSftp(port: number, user: string, password: string): Promise<{ client: ssh2.Client; extensions: Map<string, string>; request: (packet: Buffer) => Promise<Buffer> }> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.on('ready', () => resolve()).on('error', reject);
    client.connect({ host: '127.0.0.1', port, username: user, password, readyTimeout: 10_000 });
  });
  const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) => client.subsys('sftp', (e, c) => (e ? reject(e) : resolve(c))));
  let buffered = Buffer.alloc(0);
  const waiting: ((packet: Buffer) => void)[] = [];
  channel.on('data', (d: Buffer) => {
    buffered = Buffer.concat([buffered, d]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
      const packet = buffered.subarray(4, 4 + buffered.readUInt32BE(0));
      buffered = buffered.subarray(4 + packet.length);
      waiting.shift()?.(packet);
    }
  });
  const request = (packet: Buffer): Promise<Buffer> =>
    new Promise((resolve) => {
      waiting.push(resolve);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(packet.length);
      channel.write(Buffer.concat([length, packet]));
    });
  const version = await request(Buffer.from([1, 0, 0, 0, 3]));
  assert.equal(version[0], 2, 'VERSION');
  const extensions = new Map<string, string>();
  for (let at = 5; at < version.length; ) {
    const nameLength = version.readUInt32BE(at);
    const name = version.subarray(at + 4, at + 4 + nameLength).toString();
    at += 4 + nameLength;
    const dataLength = version.readUInt32BE(at);
    extensions.set(name, version.subarray(at + 4, at + 4 + dataLength).toString());
    at += 4 + dataLength;
  }
  return { client, extensions, request };
}

function str(value: string | Buffer): Buffer {
  const b = typeof value === 'string' ? Buffer.from(value) : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(b.length);
  return Buffer.concat([length, b]);
}

/** SSH_FXP_EXTENDED (200) with id, name and body fields. */
function extended(id: number, name: string, ...fields: Buffer[]): Buffer {
  const head = Buffer.alloc(5);
  head[0] = 200;
  head.writeUInt32BE(id, 1);
  return Buffer.concat([head, str(name), ...fields]);
}

function statusOf(reply: Buffer): number {
  assert.equal(reply[0], 101, `expected STATUS, got type ${reply[0]}`);
  return reply.readUInt32BE(5);
}

describe('SFTP statvfs and hardlink extensions', { skip: skip ?? false }, () => {
  let t: TestServer;
  let keys: SshKeys;
  let port: number;
  let home: string;

  before(async () => {
    keys = await makeKeys();
    t = await startTestServer({
      config: { sftp: { enabled: true, port: 0 } },
      users: [
        { name: 'alice', password: PASSWORD, home: '/alice', publicKeys: [keys.publicLine] },
        { name: 'reader', password: 'reader-password', home: '/alice', permissions: ['read-only'], publicKeys: [keys.publicLine] },
      ],
    });
    port = t.server.sftpAddress()?.port ?? 0;
    home = path.join(t.root, 'alice');
    await seedFile(t.storage, '/alice/a.txt', Buffer.from('alpha'));
    await seedFile(t.storage, '/alice/taken.txt', Buffer.from('taken'));
    await seedFile(t.storage, '/outside.txt', Buffer.from('outside'));
    await fsp.mkdir(path.join(home, 'dir'));
    // A link planted on the host that leads out of the home.
    await fsp.symlink(t.root, path.join(home, 'escape'));
  });

  after(async () => {
    await t?.close();
    await removeDir(keys.dir);
  });

  it('OpenSSH sftp df and df -h report the file system under the home', async () => {
    const r = await sftpBatch(port, 'alice', keys.key, ['df', 'df -h']);
    assert.equal(r.code, 0, describeRun(r));
    const fs = await fsp.statfs(home);
    // sftp.c do_df: Size = f_frsize * f_blocks / 1024 (KiB).
    const sizeKiB = Math.floor((fs.bsize * fs.blocks) / 1024);
    assert.match(r.stdout, /Size\s+Used\s+Avail\s+\(root\)\s+%Capacity/, describeRun(r));
    assert.match(r.stdout, new RegExp(`^\\s*${sizeKiB}\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+%`, 'm'), describeRun(r));
    // -h: human-readable sizes ("252GB", "23.7GB"): Size, Used, Avail, (root), %Capacity.
    assert.match(r.stdout, /^(\s+[\d.]+[KMGTPE]?B){4}\s+\d+%$/m, describeRun(r));
  });

  it('OpenSSH sftp ln makes a hard link inside the home', async () => {
    const r = await sftpBatch(port, 'alice', keys.key, ['ln a.txt b.txt']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await readText(t.storage, '/alice/b.txt'), 'alpha');
    const [a, b] = await Promise.all([fsp.stat(path.join(home, 'a.txt')), fsp.stat(path.join(home, 'b.txt'))]);
    assert.equal(a.ino, b.ino, 'the same inode: a hard link, not a copy');
    assert.ok(t.logs.some((l) => l['event'] === 'sftp.request-failed') === false);
  });

  it('refuses ln onto an existing name, of a directory, without permission, and out of the home', async () => {
    const r = await sftpBatch(port, 'alice', keys.key, ['-ln a.txt taken.txt', '-ln dir dir2', '-ln escape/outside.txt stolen.txt', '-ln a.txt escape/planted.txt', '-ln ../outside.txt c.txt', 'ln a.txt ../../climbed.txt']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await readText(t.storage, '/alice/taken.txt'), 'taken');
    await assert.rejects(fsp.lstat(path.join(home, 'dir2')));
    await assert.rejects(fsp.lstat(path.join(home, 'stolen.txt')));
    await assert.rejects(fsp.lstat(path.join(t.root, 'planted.txt')));
    await assert.rejects(fsp.lstat(path.join(home, 'c.txt')));
    // `..` stops at the home: the link lands in it, never above it.
    await assert.rejects(fsp.lstat(path.join(t.root, 'climbed.txt')));
    assert.equal((await fsp.stat(path.join(home, 'climbed.txt'))).ino, (await fsp.stat(path.join(home, 'a.txt'))).ino);
    assert.equal((r.stderr.match(/Permission denied/g) ?? []).length, 2, describeRun(r));
    assert.equal((r.stderr.match(/Failure/g) ?? []).length, 2, describeRun(r));
    assert.match(r.stderr, /No such file/, describeRun(r));
    const reader = await sftpBatch(port, 'reader', keys.key, ['-ln a.txt r.txt', 'df']);
    assert.equal(reader.code, 0, describeRun(reader));
    assert.match(reader.stderr, /Permission denied/, describeRun(reader));
    await assert.rejects(fsp.lstat(path.join(home, 'r.txt')));
  });

  it('packets: VERSION offers the extensions, statvfs/fstatvfs reply with 11 uint64s, errors are statuses', async () => {
    const { client, extensions, request } = await rawSftp(port, 'alice', PASSWORD);
    try {
      assert.equal(extensions.get('statvfs@openssh.com'), '2');
      assert.equal(extensions.get('fstatvfs@openssh.com'), '2');
      assert.equal(extensions.get('hardlink@openssh.com'), '1');
      const reply = await request(extended(9, 'statvfs@openssh.com', str('/')));
      assert.equal(reply[0], 201, 'EXTENDED_REPLY');
      assert.equal(reply.readUInt32BE(1), 9);
      assert.equal(reply.length, 5 + 11 * 8);
      const field = (i: number): number => Number(reply.readBigUInt64BE(5 + 8 * i));
      const fs = await fsp.statfs(home);
      assert.equal(field(0), fs.bsize, 'f_bsize');
      assert.equal(field(1), fs.bsize, 'f_frsize');
      assert.equal(field(2), fs.blocks, 'f_blocks');
      assert.equal(field(5), fs.files, 'f_files');
      assert.equal(field(9), 0x2, 'f_flag: ST_NOSUID, writable');
      assert.equal(field(10), 255, 'f_namemax');
      // fstatvfs on an open directory handle (OPENDIR, type 11).
      const opendir = Buffer.concat([Buffer.from([11, 0, 0, 0, 10]), str('/dir')]);
      const handleReply = await request(opendir);
      assert.equal(handleReply[0], 102, 'HANDLE');
      const handle = handleReply.subarray(9, 9 + handleReply.readUInt32BE(5));
      const fstat = await request(extended(11, 'fstatvfs@openssh.com', str(handle)));
      assert.equal(fstat[0], 201);
      assert.equal(Number(fstat.readBigUInt64BE(5 + 16)), fs.blocks);
      assert.equal(statusOf(await request(extended(12, 'fstatvfs@openssh.com', str('nohandle')))), 4, 'SSH_FX_FAILURE');
      assert.equal(statusOf(await request(extended(13, 'statvfs@openssh.com', str('/missing')))), 2, 'SSH_FX_NO_SUCH_FILE');
      assert.equal(statusOf(await request(extended(14, 'statvfs@openssh.com', Buffer.from([0, 0])))), 5, 'SSH_FX_BAD_MESSAGE');
      assert.equal(statusOf(await request(extended(15, 'statvfs@openssh.com', str('/escape')))), 3, 'a link out of the home: SSH_FX_PERMISSION_DENIED');
      assert.equal(statusOf(await request(extended(16, 'hardlink@openssh.com', str('/a.txt'), str('/pkt.txt')))), 0);
      assert.equal(await readText(t.storage, '/alice/pkt.txt'), 'alpha');
      assert.equal(statusOf(await request(extended(17, 'hardlink@openssh.com', str('/a.txt'), str('/pkt.txt')))), 4, 'target exists');
    } finally {
      client.end();
    }
  });
});

describe('SFTP extensions on storage without them (memory)', { skip: skip ?? false }, () => {
  it('statvfs and hardlink are not offered; OpenSSH sftp says so; the requests get SSH_FX_OP_UNSUPPORTED', async () => {
    const keys = await makeKeys();
    const t = await startTestServer({
      config: { sftp: { enabled: true, port: 0 } },
      users: [{ name: 'alice', password: PASSWORD, publicKeys: [keys.publicLine] }],
      storage: () => new MemoryStorageProvider(),
    });
    try {
      const port = t.server.sftpAddress()?.port ?? 0;
      await seedFile(t.storage, '/a.txt', Buffer.from('alpha'));
      const r = await sftpBatch(port, 'alice', keys.key, ['-df', '-ln a.txt b.txt']);
      assert.match(r.stderr, /does not support statvfs@openssh\.com/, describeRun(r));
      assert.match(r.stderr, /does not support hardlink@openssh\.com/, describeRun(r));
      const { client, extensions, request } = await rawSftp(port, 'alice', PASSWORD);
      try {
        assert.equal(extensions.has('statvfs@openssh.com'), false);
        assert.equal(extensions.has('fstatvfs@openssh.com'), false);
        assert.equal(extensions.has('hardlink@openssh.com'), false);
        assert.equal(extensions.get('posix-rename@openssh.com'), '1');
        assert.equal(statusOf(await request(extended(3, 'statvfs@openssh.com', str('/')))), 8);
        assert.equal(statusOf(await request(extended(4, 'hardlink@openssh.com', str('/a.txt'), str('/b.txt')))), 8);
      } finally {
        client.end();
      }
    } finally {
      await t.close();
      await removeDir(keys.dir);
    }
  });
});
