/**
 * @module test/integration/security
 * Access control against the real server: path confinement (.., symlinks out of the root),
 * data-connection hijacking from another address, the FTP bounce attack (PORT/EPRT to a
 * third party or a privileged port), read-only users and anonymous access.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { connectSocket, makeTempDir, removeDir, sha256, waitClosed } from '../helpers/integration.js';
import { assertTransferOk, collect, expectCode, rawDownload, rawUpload } from '../helpers/raw-transfer.js';
import { exists, makeDirectories, seedFile } from '../helpers/storage.js';

const ALICE = { name: 'alice', password: 'alice-pass-123' };
const READER = { name: 'reader', password: 'reader-pass-456', permissions: ['read-only'] };

/** A TCP listener on 127.0.0.1 that accepts one connection (the server's active data socket). */
async function listenOnce(): Promise<{ port: number; connection: Promise<net.Socket>; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  let timer: NodeJS.Timeout | undefined;
  const connection = new Promise<net.Socket>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('no active data connection within 10 s')), 10_000);
    server.once('connection', (socket) => {
      clearTimeout(timer);
      resolve(socket);
    });
  });
  connection.catch(() => undefined);
  return {
    port: address.port,
    connection,
    close: () => {
      clearTimeout(timer);
      server.close();
    },
  };
}

describe('security', () => {
  let t: TestServer;
  let outside: string;
  const clients: RawClient[] = [];

  before(async () => {
    t = await startTestServer({
      users: [ALICE, READER],
      config: { active: { enabled: true }, passive: { acceptTimeoutMs: 1500 } },
    });
    outside = await makeTempDir('outside');
    await writeFile(path.join(outside, 'secret.txt'), 'top secret');
    await seedFile(t.storage, '/public.txt', 'public data');
    await symlink(path.join(outside, 'secret.txt'), path.join(t.root, 'secret-link.txt'));
    await symlink(outside, path.join(t.root, 'outside-dir'));
    await makeDirectories(t.storage, '/inner');
    await seedFile(t.storage, '/inner/ok.txt', 'inside');
    await symlink(path.join(t.root, 'inner', 'ok.txt'), path.join(t.root, 'inside-link.txt'));
  });

  after(async () => {
    for (const c of clients) c.close();
    await t.close();
    await removeDir(outside);
  });

  async function login(user = ALICE): Promise<RawClient> {
    const c = await RawClient.connect(t.port, t.host);
    clients.push(c);
    await c.login(user.name, user.password);
    return c;
  }

  describe('path confinement', () => {
    it('CWD ../../.. stays at "/"', async () => {
      const c = await login();
      assert.equal((await c.send('CWD ../../..')).code, 250);
      assert.equal((await c.send('PWD')).text, '257 "/" is the current directory.');
      assert.equal((await c.send('CWD inner/../../../..')).code, 250);
      assert.equal((await c.send('PWD')).text, '257 "/" is the current directory.');
      assert.equal((await c.send('CDUP')).code, 250);
      assert.equal((await c.send('PWD')).text, '257 "/" is the current directory.');
    });

    it('RETR ../../etc/passwd is 550 and never reaches the host file system', async () => {
      const c = await login();
      const r1 = await rawDownload(c, 'RETR ../../etc/passwd');
      assert.equal(r1.first.code, 550, r1.first.text);
      const r2 = await rawDownload(c, 'RETR /../../../../../etc/passwd');
      assert.equal(r2.first.code, 550, r2.first.text);
      assert.equal((await c.send('SIZE ../../../../etc/passwd')).code, 550);
      assert.equal((await c.send('CWD /../../etc')).code, 550);
      // Still answers, and confined paths still resolve inside the root.
      const ok = await rawDownload(c, 'RETR ../../public.txt');
      assertTransferOk(ok, 'RETR ../../public.txt');
      assert.equal(ok.data.toString(), 'public data');
    });

    it('refuses a symlink inside the root that points outside it (file and directory)', async () => {
      const c = await login();
      const retr = await rawDownload(c, 'RETR secret-link.txt');
      assert.equal(retr.first.code, 550, retr.first.text);
      assert.ok(!retr.data.includes('top secret'));
      assert.equal((await c.send('SIZE secret-link.txt')).code, 550);
      assert.equal((await c.send('MDTM secret-link.txt')).code, 550);
      assert.equal((await c.send('CWD outside-dir')).code, 550);
      assert.equal((await c.send('PWD')).text, '257 "/" is the current directory.');
      const list = await rawDownload(c, 'LIST outside-dir');
      assert.notEqual(list.final?.code, 226, 'listing through the link must fail');
      assert.ok(!list.data.includes('secret.txt'));
      const get = await rawDownload(c, 'RETR outside-dir/secret.txt');
      assert.equal(get.first.code, 550, get.first.text);
      // Writing through the links must not create or change anything outside.
      const put = await rawUpload(c, 'STOR outside-dir/planted.txt', Buffer.from('planted'));
      assert.ok(put.first.code >= 500, `STOR through link: ${put.first.text}`);
      const over = await rawUpload(c, 'STOR secret-link.txt', Buffer.from('overwritten'));
      assert.ok(over.first.code >= 500, `STOR onto link: ${over.first.text}`);
      assert.equal((await c.send('MKD outside-dir/newdir')).code >= 500, true);
      assert.equal((await c.send('RNFR secret-link.txt')).code, 550);
      assert.equal((await c.send('DELE outside-dir/secret.txt')).code, 550);
      assert.deepEqual((await readdir(outside)).sort(), ['secret.txt']);
      assert.equal(await readFile(path.join(outside, 'secret.txt'), 'utf8'), 'top secret');
      // Listing the root still works and does not list what is behind the directory link.
      const nlst = await rawDownload(c, 'NLST');
      assertTransferOk(nlst, 'NLST /');
      assert.ok(!nlst.data.toString().split('\r\n').includes('secret.txt'));
    });

    it('serves a symlink that stays inside the root', async () => {
      const c = await login();
      const r = await rawDownload(c, 'RETR inside-link.txt');
      assertTransferOk(r, 'RETR inside-link.txt');
      assert.equal(r.data.toString(), 'inside');
    });
  });

  describe('data connection hijacking', () => {
    /** Null when this host can use 127.0.0.2 as a source address (Linux: all of 127/8 is local). */
    let secondLoopback: string | null = null;
    before(async () => {
      const probe = net.createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          probe.once('error', reject);
          probe.listen({ host: '127.0.0.2', port: 0 }, resolve);
        });
      } catch (error) {
        secondLoopback = `127.0.0.2 not usable here: ${(error as Error).message}`;
      } finally {
        probe.close();
      }
    });

    it('closes a passive data connection from a different source address; the transfer then times out with 425', async (ctx) => {
      if (secondLoopback) return ctx.skip(secondLoopback);
      const c = await login();
      const epsv = await expectCode(c, 'EPSV', 229);
      const port = Number(/\|\|\|(\d+)\|/.exec(epsv.text)?.[1]);
      const foreign = await connectSocket(port, '127.0.0.1', { localAddress: '127.0.0.2' });
      const foreignData = collect(foreign, 5000);
      await waitClosed(foreign, 3000);
      assert.equal((await foreignData).length, 0);
      const started = Date.now();
      const first = await c.send('RETR public.txt', 5000);
      const final = first.code === 150 ? await c.read(5000) : first;
      assert.equal(final.code, 425, final.text);
      assert.ok(Date.now() - started < 4000, 'bounded by passive.acceptTimeoutMs');
      assert.equal((await c.send('NOOP')).code, 200);
    });

    it('keeps waiting for the real client after refusing a foreign peer', async (ctx) => {
      if (secondLoopback) return ctx.skip(secondLoopback);
      const c = await login();
      const epsv = await expectCode(c, 'EPSV', 229);
      const port = Number(/\|\|\|(\d+)\|/.exec(epsv.text)?.[1]);
      const foreign = await connectSocket(port, '127.0.0.1', { localAddress: '127.0.0.2' });
      await waitClosed(foreign, 3000);
      const data = await connectSocket(port, '127.0.0.1');
      const bytes = collect(data);
      await expectCode(c, 'RETR public.txt', 150);
      assert.equal((await c.read(5000)).code, 226);
      assert.equal((await bytes).toString(), 'public data');
    });
  });

  describe('active mode (FTP bounce protection)', () => {
    it('refuses PORT/EPRT to another address or a port below 1024 with 501', async () => {
      const c = await login();
      assert.equal((await c.send('PORT 127,0,0,2,200,10')).code, 501);
      assert.equal((await c.send('PORT 10,0,0,1,200,10')).code, 501);
      assert.equal((await c.send('PORT 127,0,0,1,0,21')).code, 501);
      assert.equal((await c.send('PORT 127,0,0,1,3,255')).code, 501);
      assert.equal((await c.send('EPRT |1|127.0.0.2|51000|')).code, 501);
      assert.equal((await c.send('EPRT |1|127.0.0.1|80|')).code, 501);
      assert.equal((await c.send('EPRT |1|192.0.2.1|51000|')).code, 501);
      assert.equal((await c.send('EPRT |3|127.0.0.1|51000|')).code, 522);
      assert.equal((await c.send('PORT 1,2,3')).code, 501);
      // A refused PORT leaves no endpoint behind: a transfer now has no data connection.
      const first = await c.send('RETR public.txt');
      const final = first.code === 150 ? await c.read() : first;
      assert.equal(final.code, 425, final.text);
    });

    it('connects back for PORT and EPRT to the client itself on a port >= 1024', async () => {
      const c = await login();
      for (const verb of ['PORT', 'EPRT'] as const) {
        const listener = await listenOnce();
        try {
          const arg =
            verb === 'PORT'
              ? `127,0,0,1,${listener.port >> 8},${listener.port & 0xff}`
              : `|1|127.0.0.1|${listener.port}|`;
          await expectCode(c, `${verb} ${arg}`, 200);
          await expectCode(c, 'RETR public.txt', 150);
          const socket = await listener.connection;
          assert.equal(socket.remoteAddress, '127.0.0.1');
          const data = await collect(socket);
          assert.equal((await c.read(5000)).code, 226);
          assert.equal(data.toString(), 'public data', verb);
        } finally {
          listener.close();
        }
      }
      const feat = await c.send('FEAT');
      assert.match(feat.text, /^ EPRT$/m);
      // RFC 2428 §4: after EPSV ALL only EPSV may set up data connections.
      await expectCode(c, 'EPSV ALL', 200);
      await expectCode(c, 'PORT 127,0,0,1,200,10', 503);
      await expectCode(c, 'EPRT |1|127.0.0.1|51210|', 503);
      await expectCode(c, 'PASV', 503);
      await expectCode(c, 'EPSV', 229);
    });
  });

  describe('active mode failures', () => {
    it('answers 425 when nothing listens on the PORT target, and the session continues', async () => {
      const listener = await listenOnce();
      const port = listener.port;
      listener.close();
      const c = await login();
      await expectCode(c, `PORT 127,0,0,1,${port >> 8},${port & 0xff}`, 200);
      const first = await c.send('RETR public.txt', 15_000);
      const final = first.code === 150 ? await c.read(15_000) : first;
      assert.equal(final.code, 425, final.text);
      assert.equal((await c.send('NOOP')).code, 200);
    });
  });

  describe('read-only user', () => {
    it('may list and download but gets 550 for every change', async () => {
      const c = await login(READER);
      const r = await rawDownload(c, 'RETR public.txt');
      assertTransferOk(r, 'reader RETR');
      assert.equal(r.data.toString(), 'public data');
      const l = await rawDownload(c, 'NLST');
      assertTransferOk(l, 'reader NLST');
      assert.match(l.data.toString(), /public\.txt/);
      const stor = await rawUpload(c, 'STOR ro-new.txt', Buffer.from('nope'));
      assert.equal(stor.first.code, 550, stor.first.text);
      const over = await rawUpload(c, 'STOR public.txt', Buffer.from('nope'));
      assert.equal(over.first.code, 550, over.first.text);
      const appe = await rawUpload(c, 'APPE public.txt', Buffer.from('nope'));
      assert.equal(appe.first.code, 550, appe.first.text);
      const stou = await rawUpload(c, 'STOU', Buffer.from('nope'));
      assert.equal(stou.first.code, 550, stou.first.text);
      assert.equal((await c.send('DELE public.txt')).code, 550);
      assert.equal((await c.send('MKD ro-dir')).code, 550);
      assert.equal((await c.send('RMD inner')).code, 550);
      assert.equal((await c.send('RNFR public.txt')).code, 550);
      assert.equal((await c.send('MFMT 20200101000000 public.txt')).code, 550);
      assert.equal(await exists(t.storage, '/ro-new.txt'), false);
      assert.equal(await exists(t.storage, '/ro-dir'), false);
      assert.equal((await t.storage.stat('/public.txt')).size, 'public data'.length);
      const mlst = await c.send('MLST public.txt');
      assert.match(mlst.lines[1] ?? '', /perm=r;/, 'MLST perm shows read-only');
    });
  });

  describe('anonymous access', () => {
    it('is refused by default with 530', async () => {
      const c = await RawClient.connect(t.port, t.host);
      clients.push(c);
      await c.read();
      assert.equal((await c.send('USER anonymous')).code, 331);
      assert.equal((await c.send('PASS guest@example.com')).code, 530);
      assert.equal((await c.send('USER ftp')).code, 331);
      assert.equal((await c.send('PASS guest@example.com')).code, 530);
      assert.equal((await c.send('PWD')).code, 530);
    });

    it('when enabled, logs in read-only', async () => {
      const anon = await startTestServer({ config: { anonymous: { enabled: true } } });
      try {
        await seedFile(anon.storage, '/readme.txt', 'hello anonymous');
        const c = await RawClient.connect(anon.port, anon.host);
        clients.push(c);
        await c.login('anonymous', 'guest@example.com');
        const r = await rawDownload(c, 'RETR readme.txt');
        assertTransferOk(r, 'anonymous RETR');
        assert.equal(sha256(r.data), sha256('hello anonymous'));
        const stor = await rawUpload(c, 'STOR upload.txt', Buffer.from('x'));
        assert.equal(stor.first.code, 550, stor.first.text);
        assert.equal((await c.send('MKD pub')).code, 550);
        assert.equal((await c.send('DELE readme.txt')).code, 550);
        assert.equal((await c.send('RNFR readme.txt')).code, 550);
        assert.equal(await exists(anon.storage, '/upload.txt'), false);
        // The real user still works on the same server.
        const a = await RawClient.connect(anon.port, anon.host);
        clients.push(a);
        await a.login(anon.user, anon.password);
        assert.equal((await a.send('MKD pub')).code, 257);
      } finally {
        await anon.close();
      }
    });
  });
});
