/**
 * @module test/integration/held-directories.test
 * A session keeps its home and the directories it works in open between operations
 * (storage/local/dir-handle-cache), from login on. Those fds belong to the session: once the
 * client is gone (FTP QUIT, an FTP connection dropped, an SFTP session closed) the server holds
 * nothing under the storage root any more, well before the shared idle sweep (2 s) would
 * close them, so a volume can be unmounted or a home removed right after its sessions end.
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { CURL_MISSING, describeRun, run } from '../helpers/integration.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** This process's fds that point under `root`. */
function heldUnder(root: string): string[] {
  const held: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target === root || target.startsWith(`${root}/`)) held.push(target);
    } catch {
      // Closed while listing (the readdir's own fd among them).
    }
  }
  return held;
}

/** Waits up to `ms` for the server to hold nothing under the root; returns what it still holds. */
async function heldAfter(root: string, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const held = heldUnder(root);
    if (held.length === 0 || Date.now() > deadline) return held;
    await sleep(20);
  }
}

const LINUX_ONLY = process.platform === 'linux' ? false : 'reads /proc/self/fd';

describe('directories a session holds are given back when it ends', { skip: LINUX_ONLY }, () => {
  let t: TestServer;
  let root: string;

  before(async () => {
    t = await startTestServer({ config: { sftp: { enabled: true, port: 0 } } });
    root = realpathSync(t.root);
    // The test's own view of the root holds the home too: let it go.
    t.storage.release?.();
  });
  after(async () => {
    await t?.close();
  });

  it('FTP: held from login and through a queue of files; none left after QUIT or after a dropped connection', async () => {
    for (const end of ['QUIT', 'drop'] as const) {
      const client = await RawClient.connect(t.port);
      await client.login(t.user, t.password);
      assert.ok(heldUnder(root).length >= 1, 'a logged-in session holds its home');
      assert.equal((await client.send(`MKD q-${end}`)).code, 257);
      assert.equal((await client.send(`SIZE q-${end}/none`)).code, 550);
      if (end === 'QUIT') {
        assert.equal((await client.send('QUIT')).code, 221);
      }
      client.close();
      assert.deepEqual(await heldAfter(root, 500), [], `after ${end}`);
    }
  });

  it('SFTP: none left once the session is closed', { skip: CURL_MISSING() ?? false }, async () => {
    const port = t.server.sftpAddress()?.port ?? 0;
    const listed = await run('curl', ['-s', '-S', '--insecure', '-u', `${t.user}:${t.password}`, `sftp://127.0.0.1:${port}/~/`], { timeoutMs: 30_000 });
    assert.equal(listed.code, 0, describeRun(listed));
    assert.deepEqual(await heldAfter(root, 500), []);
  });
});
