/**
 * @module test/integration/users
 * Users against the real server: per-user homes (each user confined to its own subtree,
 * even through symlinks pointing elsewhere inside the storage root) and live reloading of
 * the users file (added user, changed password, disabled user).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/auth/password-hash.js';
import { upsertUserInFile } from '../../src/auth/users-file.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/integration.js';
import { assertTransferOk, rawDownload, rawUpload } from '../helpers/raw-transfer.js';

const CAROL = { name: 'carol', password: 'carol-pw-1', home: '/homes/carol' };
const DAVE = { name: 'dave', password: 'dave-pw-2', home: '/homes/dave' };
const ADMIN = { name: 'admin', password: 'admin-pw-3' };

describe('users', () => {
  let t: TestServer;
  const clients: RawClient[] = [];

  before(async () => {
    t = await startTestServer({ users: [ADMIN, CAROL, DAVE] });
    await mkdir(path.join(t.root, 'homes', 'carol'), { recursive: true });
    await mkdir(path.join(t.root, 'homes', 'dave'), { recursive: true });
    await writeFile(path.join(t.root, 'homes', 'dave', 'dave-secret.txt'), 'dave only');
    await writeFile(path.join(t.root, 'root-file.txt'), 'admin only');
    await writeFile(path.join(t.root, 'homes', 'carol', 'mine.txt'), 'carol file');
    await symlink(path.join(t.root, 'homes', 'dave'), path.join(t.root, 'homes', 'carol', 'to-dave'));
    await symlink(path.join(t.root, 'root-file.txt'), path.join(t.root, 'homes', 'carol', 'to-root-file.txt'));
  });

  after(async () => {
    for (const c of clients) c.close();
    await t.close();
  });

  async function connect(): Promise<RawClient> {
    const c = await RawClient.connect(t.port, t.host);
    clients.push(c);
    return c;
  }

  async function tryLogin(name: string, password: string): Promise<number> {
    const c = await connect();
    await c.read();
    await c.send(`USER ${name}`);
    const code = (await c.send(`PASS ${password}`)).code;
    c.close();
    return code;
  }

  it('confines a user to its home: "/" is the home, other homes and the root are unreachable', async () => {
    const c = await connect();
    await c.login(CAROL.name, CAROL.password);
    assert.equal((await c.send('PWD')).text, '257 "/" is the current directory.');
    const mine = await rawDownload(c, 'RETR /mine.txt');
    assertTransferOk(mine, 'RETR own file');
    assert.equal(mine.data.toString(), 'carol file');
    assert.equal((await c.send('CWD ..')).code, 250);
    assert.equal((await c.send('PWD')).text, '257 "/" is the current directory.');
    const nlst = await rawDownload(c, 'NLST ..');
    assertTransferOk(nlst, 'NLST ..');
    assert.ok(nlst.data.toString().split('\r\n').includes('mine.txt'), 'NLST .. lists the home itself');
    for (const p of ['../dave/dave-secret.txt', '../../root-file.txt', '/homes/dave/dave-secret.txt', 'to-dave/dave-secret.txt', 'to-root-file.txt']) {
      const r = await rawDownload(c, `RETR ${p}`);
      assert.equal(r.first.code, 550, `RETR ${p}: ${r.first.text}`);
    }
    assert.equal((await c.send('CWD to-dave')).code, 550);
    const stor = await rawUpload(c, 'STOR to-dave/planted.txt', Buffer.from('x'));
    assert.ok(stor.first.code >= 500, `STOR through a link to another home: ${stor.first.text}`);
    const up = await rawUpload(c, 'STOR new.txt', Buffer.from('carol upload'));
    assertTransferOk(up, 'STOR in home');
    assert.equal(await readFile(path.join(t.root, 'homes', 'carol', 'new.txt'), 'utf8'), 'carol upload');
    await assert.rejects(readFile(path.join(t.root, 'homes', 'dave', 'planted.txt')));
  });

  it('a user with home "/" sees every home', async () => {
    const c = await connect();
    await c.login(ADMIN.name, ADMIN.password);
    const r = await rawDownload(c, 'RETR /homes/dave/dave-secret.txt');
    assertTransferOk(r, 'admin RETR');
    assert.equal(r.data.toString(), 'dave only');
  });

  it('picks up users-file changes without a restart: new user, new password, disabled user', async () => {
    assert.equal(await tryLogin('erin', 'erin-pw'), 530);
    await upsertUserInFile(t.usersFile, { name: 'erin', passwordHash: await hashPassword('erin-pw', { logN: 10 }), home: '/' });
    await waitFor(async () => (await tryLogin('erin', 'erin-pw')) === 230, 5000, 'new user accepted');

    await upsertUserInFile(t.usersFile, { name: 'dave', passwordHash: await hashPassword('dave-new-pw', { logN: 10 }) });
    await waitFor(async () => (await tryLogin('dave', 'dave-new-pw')) === 230, 5000, 'new password accepted');
    assert.equal(await tryLogin('dave', DAVE.password), 530, 'the old password is refused');

    await upsertUserInFile(t.usersFile, { name: 'erin', passwordHash: await hashPassword('erin-pw', { logN: 10 }), enabled: false });
    await waitFor(async () => (await tryLogin('erin', 'erin-pw')) === 530, 5000, 'disabled user refused');
    assert.ok(t.logs.some((r) => r.event === 'users.reloaded'));
  });
});
