/**
 * @module test/integration/sftp-random-writes.test
 * SFTP WRITE carries an offset (draft-ietf-secsh-filexfer-02 §6.4), and OpenSSH's sftp-server
 * writes each one where it says, over a file opened without O_TRUNC. Clients rely on it:
 * paramiko's "r+" patches bytes in place, sshfs and multi-part uploaders send writes out of
 * order. Checked on the local adapter in both upload modes and on the memory adapter: the
 * ssh2 client sends writes out of order (pipelined, not waiting for replies) and patches an
 * existing file; paramiko does the same through its file API; sha256 of the result each time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { MemoryStorageProvider } from '../../src/storage/memory/memory-storage.js';
import { describeRun, sha256 } from '../helpers/integration.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { PARAMIKO_MISSING, paramiko } from '../helpers/sftp.js';
import { readAll, seedFile } from '../helpers/storage.js';

const PASSWORD = 'secret-password';
const KiB = 1024;

type Sftp = ssh2.SFTPWrapper;

async function connect(port: number): Promise<{ client: ssh2.Client; sftp: Sftp }> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.on('ready', () => resolve()).on('error', reject);
    client.connect({ host: '127.0.0.1', port, username: 'alice', password: PASSWORD, readyTimeout: 10_000 });
  });
  const sftp = await new Promise<Sftp>((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));
  return { client, sftp };
}

function open(sftp: Sftp, file: string, flags: ssh2.OpenMode): Promise<Buffer> {
  return new Promise((resolve, reject) => sftp.open(file, flags, (e, h) => (e ? reject(e) : resolve(h))));
}

function write(sftp: Sftp, handle: Buffer, data: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => sftp.write(handle, data, 0, data.length, position, (e) => (e ? reject(e) : resolve())));
}

function close(sftp: Sftp, handle: Buffer): Promise<void> {
  return new Promise((resolve, reject) => sftp.close(handle, (e) => (e ? reject(e) : resolve())));
}

const variants: { name: string; options: TestServerOptions; sharedHandles: boolean }[] = [
  { name: 'local storage, resumable uploads', options: {}, sharedHandles: true },
  // Each handle writes its own copy: the last one closed wins (docs/sftp.md).
  { name: 'local storage, atomic uploads', options: { config: { storage: { uploadMode: 'atomic' } } }, sharedHandles: false },
  { name: 'memory storage', options: { storage: () => new MemoryStorageProvider() }, sharedHandles: true },
];

for (const variant of variants) {
  describe(`SFTP positioned writes: ${variant.name}`, () => {
    let t: TestServer;
    let port: number;

    before(async () => {
      t = await startTestServer({
        ...variant.options,
        config: { ...variant.options.config, sftp: { enabled: true, port: 0 } },
        users: [{ name: 'alice', password: PASSWORD }],
      });
      port = t.server.sftpAddress()?.port ?? 0;
      assert.ok(port > 0);
    });

    after(async () => {
      await t?.close();
    });

    it('ssh2 client: 64 pieces of a 2 MiB upload sent in shuffled order, all in flight at once (sha256)', async () => {
      const data = randomBytes(2048 * KiB + 123);
      const piece = 32 * KiB + 1;
      const offsets: number[] = [];
      for (let at = 0; at < data.length; at += piece) offsets.push(at);
      // A fixed shuffle (reverse odd, then even): every write but the first lands away from the last one's end.
      const order = [...offsets.filter((_, i) => i % 2 === 1).reverse(), ...offsets.filter((_, i) => i % 2 === 0)];
      const { client, sftp } = await connect(port);
      try {
        const handle = await open(sftp, 'shuffled.bin', 'w');
        await Promise.all(order.map((at) => write(sftp, handle, data.subarray(at, at + piece), at)));
        await close(sftp, handle);
      } finally {
        client.end();
      }
      assert.equal(sha256(await readAll(t.storage, '/shuffled.bin')), sha256(data));
    });

    it('ssh2 client: open without TRUNC patches bytes in the middle, past the end, and keeps the rest', async () => {
      const original = randomBytes(300 * KiB);
      await seedFile(t.storage, '/patch.bin', original);
      const middle = randomBytes(5000);
      const beyond = Buffer.from('END');
      const { client, sftp } = await connect(port);
      try {
        const handle = await open(sftp, 'patch.bin', 'r+');
        await write(sftp, handle, middle, 100_000);
        await write(sftp, handle, beyond, original.length + 10);
        await write(sftp, handle, Buffer.from('HEAD'), 0);
        await close(sftp, handle);
        // Opened for writing and closed without a write: unchanged.
        await close(sftp, await open(sftp, 'patch.bin', 'r+'));
      } finally {
        client.end();
      }
      const expected = Buffer.concat([original, Buffer.alloc(10), beyond]);
      middle.copy(expected, 100_000);
      expected.write('HEAD', 0);
      assert.equal(sha256(await readAll(t.storage, '/patch.bin')), sha256(expected));
    });

    it('two handles on two connections write the two halves of one file (sha256)', { skip: variant.sharedHandles ? false : 'atomic uploads: each handle has its own copy' }, async () => {
      const data = randomBytes(1024 * KiB);
      const half = data.length / 2;
      const a = await connect(port);
      const b = await connect(port);
      try {
        const first = await open(a.sftp, 'halves.bin', 'w');
        const second = await open(b.sftp, 'halves.bin', 'r+');
        await Promise.all([write(b.sftp, second, data.subarray(half), half), write(a.sftp, first, data.subarray(0, half), 0)]);
        await close(b.sftp, second);
        await close(a.sftp, first);
      } finally {
        a.client.end();
        b.client.end();
      }
      assert.equal(sha256(await readAll(t.storage, '/halves.bin')), sha256(data));
    });

    it('paramiko: "r+" seek-and-write in place, "w" written back to front', { skip: PARAMIKO_MISSING() ?? false }, async () => {
      const original = randomBytes(200 * KiB);
      await seedFile(t.storage, '/inplace.bin', original);
      const program = `
with s.open("inplace.bin", "r+") as f:
    f.seek(1000)
    f.write(b"P" * 70000)
with s.open("backwards.bin", "w") as f:
    f.set_pipelined(True)
    for i in reversed(range(40)):
        f.seek(i * 10000)
        f.write(bytes([65 + i % 26]) * 10000)
print("sizes", s.stat("inplace.bin").st_size, s.stat("backwards.bin").st_size)
`;
      const r = await paramiko(program, { PORT: String(port), USER: 'alice', PASSWORD });
      assert.equal(r.code, 0, describeRun(r));
      assert.match(r.stdout, /^sizes 204800 400000$/m);
      const patched = Buffer.from(original);
      patched.fill('P', 1000, 71_000);
      assert.equal(sha256(await readAll(t.storage, '/inplace.bin')), sha256(patched));
      const backwards = Buffer.concat(Array.from({ length: 40 }, (_, i) => Buffer.alloc(10_000, 65 + (i % 26))));
      assert.equal(sha256(await readAll(t.storage, '/backwards.bin')), sha256(backwards));
    });
  });
}
