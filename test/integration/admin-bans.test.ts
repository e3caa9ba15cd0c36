/**
 * @module test/integration/admin-bans
 * Listing, adding and lifting bans of a running server: the admin listener's /bans endpoints
 * (404 without admin.tokenFile, 401 without or with a wrong token, 403 when the token file
 * cannot be read) and the `kftpd bans list|lift|add` CLI against it, over real sockets.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RawClient, greetingCode } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TOKEN = 'k'.repeat(20) + '-admin-token';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function request(base: string, method: string, urlPath: string, token?: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}${urlPath}`, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

describe('admin /bans and kftpd bans', () => {
  let dir: string;
  let tokenFile: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-bans-'));
    tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('without admin.tokenFile the endpoints do not exist (404), even with a token', async () => {
    const t = await startTestServer({ config: { admin: { enabled: true, port: 0 } } });
    try {
      const base = `http://127.0.0.1:${t.server.adminAddress()?.port}`;
      assert.equal((await request(base, 'GET', '/bans')).status, 404);
      assert.equal((await request(base, 'GET', '/bans', TOKEN)).status, 404);
      assert.equal((await request(base, 'DELETE', '/bans/127.0.0.2', TOKEN)).status, 404);
      const listed = await cli(['bans', 'list', '--admin', base, '--token-file', tokenFile]);
      assert.equal(listed.code, 1);
      assert.match(listed.stderr, /set admin.tokenFile/);
    } finally {
      await t.close();
    }
  });

  it('requires the bearer token; lists, adds and lifts bans; a lifted address connects again', async () => {
    const t = await startTestServer({
      config: {
        admin: { enabled: true, port: 0, tokenFile },
        defender: { safeList: ['127.0.0.1'], threshold: 4, scores: { loginFailed: 2 } },
      },
    });
    try {
      const base = `http://127.0.0.1:${t.server.adminAddress()?.port}`;
      assert.equal((await request(base, 'GET', '/bans')).status, 401);
      assert.equal((await request(base, 'GET', '/bans', 'wrong-token-wrong-token')).status, 401);
      assert.equal((await request(base, 'DELETE', '/bans/127.0.0.2')).status, 401);
      assert.equal((await request(base, 'POST', '/bans', undefined, { address: '127.0.0.2' })).status, 401);
      assert.ok(t.logs.some((r) => r.event === 'admin.denied' && r.reason === 'missing'));
      assert.ok(!JSON.stringify(t.logs).includes(TOKEN), 'the token never reaches the log');
      assert.deepEqual(await request(base, 'GET', '/bans', TOKEN), { status: 200, body: { bans: [] } });

      // Two failed logins from 127.0.0.2 reach the threshold (4 points).
      const client = await RawClient.connect(t.port, t.host, '127.0.0.2');
      await client.read();
      await client.send('USER alice');
      assert.equal((await client.send('PASS wrong')).code, 530);
      await client.send('USER alice');
      const closing = await client.send('PASS wrong');
      assert.equal(closing.code, 421, closing.text);
      client.close();
      assert.equal(await greetingCode(t.port, '127.0.0.2'), 421);

      const listed = await cli(['bans', 'list', '--admin', base, '--token-file', tokenFile]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^ADDRESS\s+UNTIL\s+REMAINING\s+OFFENCES\s+REASON$/m);
      assert.match(listed.stdout, /^127\.0\.0\.2\s+\S+\s+\d+s\s+1\s+login-failed$/m);
      const json = await cli(['bans', 'list', '--json', '--admin', base], { KFTPD_ADMIN_TOKEN_FILE: tokenFile });
      assert.equal(json.code, 0, json.stderr);
      const bans = JSON.parse(json.stdout) as { address: string; offences: number; manual: boolean }[];
      assert.deepEqual(bans.map((b) => [b.address, b.offences, b.manual]), [['127.0.0.2', 1, false]]);

      // Ban by hand (CLI), then through the API with a safe address (refused).
      const added = await cli(['bans', 'add', '127.0.0.3', '--duration-ms', '60000', '--reason', 'abuse report', '--admin', base], { KFTPD_ADMIN_TOKEN: TOKEN });
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /banned 127\.0\.0\.3 until/);
      assert.equal(await greetingCode(t.port, '127.0.0.3'), 421);
      assert.deepEqual(await request(base, 'POST', '/bans', TOKEN, { address: '127.0.0.1' }), { status: 409, body: { error: 'KFTPD_BAN_SAFE_ADDRESS' } });
      assert.deepEqual(await request(base, 'POST', '/bans', TOKEN, { address: 'nope' }), { status: 400, body: { error: 'KFTPD_BAN_INVALID_ADDRESS' } });

      // Lift both: through the CLI and through the API.
      const lifted = await cli(['bans', 'lift', '127.0.0.2', '--admin', base, '--token-file', tokenFile]);
      assert.equal(lifted.code, 0, lifted.stderr);
      assert.match(lifted.stdout, /lifted the ban of 127\.0\.0\.2/);
      assert.deepEqual(await request(base, 'DELETE', `/bans/${encodeURIComponent('127.0.0.3')}`, TOKEN), { status: 200, body: { lifted: '127.0.0.3' } });
      assert.deepEqual(await request(base, 'DELETE', '/bans/127.0.0.3', TOKEN), { status: 404, body: { error: 'KFTPD_BAN_NOT_FOUND' } });
      const again = await cli(['bans', 'lift', '127.0.0.2', '--admin', base, '--token-file', tokenFile]);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /127\.0\.0\.2 is not banned/);
      assert.equal(await greetingCode(t.port, '127.0.0.2'), 220);
      assert.equal(await greetingCode(t.port, '127.0.0.3'), 220);
      assert.ok(t.logs.some((r) => r.event === 'defender.unban' && r.address === '127.0.0.2' && r.reason === 'lifted'));
      assert.ok(t.logs.some((r) => r.event === 'admin.lift' && r.address === '127.0.0.2'));
      assert.match(await t.server.metrics.registry.metrics(), /^kftpd_defender_banned_addresses 0$/m);

      // A wrong token through the CLI.
      const wrong = await cli(['bans', 'list', '--admin', base], { KFTPD_ADMIN_TOKEN: 'wrong-token-wrong-token' });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /token was refused/);
      assert.ok(!wrong.stderr.includes('wrong-token-wrong-token'));
    } finally {
      await t.close();
    }
  });

  it('an unreadable token file fails closed (403)', async () => {
    const t = await startTestServer({ config: { admin: { enabled: true, port: 0, tokenFile: path.join(dir, 'missing') } } });
    try {
      const base = `http://127.0.0.1:${t.server.adminAddress()?.port}`;
      assert.equal((await request(base, 'GET', '/bans', TOKEN)).status, 403);
      assert.equal((await request(base, 'GET', '/bans')).status, 403);
    } finally {
      await t.close();
    }
  });

  it('bans usage errors exit 2', async () => {
    assert.equal((await cli(['bans'])).code, 2);
    assert.equal((await cli(['bans', 'lift'])).code, 2);
    const noToken = await cli(['bans', 'list', '--admin', 'http://127.0.0.1:1']);
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /no admin token/);
  });
});
