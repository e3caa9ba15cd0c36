/**
 * @module test/integration/ftps-basic-ftp
 * The real server driven by basic-ftp (Node) over FTPS, the server certificate verified
 * against the test CA, under the default "enforced" data-channel session reuse: explicit
 * (`secure: true`) and implicit (`secure: 'implicit'`) on TLS 1.2 and TLS 1.3, EPSV and PASV.
 * Uploads, downloads, resumes both ways (downloadTo with startAt: REST+RETR; appendFrom:
 * APPE) with sha256 checks, and listings; a server certificate from another CA is refused.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import type tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Client, enterPassiveModeIPv4, enterPassiveModeIPv6 } from 'basic-ftp';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { TestServer } from '../helpers/server.js';
import { MiB, makeTempDir, randomBuffer, removeDir, sha256, sha256File } from '../helpers/integration.js';
import { ALICE, implicitPort, metricValue, startFtpsServer } from '../helpers/ftps-support.js';

function sink(): { stream: Writable; data: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { stream, data: () => Buffer.concat(chunks) };
}

describe('basic-ftp over FTPS (sessionReuse enforced)', () => {
  let dir: string;
  let pki: TestPki;
  let t: TestServer;
  let payload: Buffer;
  const clients: Client[] = [];

  before(async () => {
    dir = await makeTempDir('ftps-basic-ftp');
    pki = await createTestPki(path.join(dir, 'pki'));
    t = await startFtpsServer(pki, { config: { tls: { implicit: { enabled: true, port: 0 } } } });
    payload = randomBuffer(2 * MiB + 99);
    await writeFile(path.join(dir, 'payload.bin'), payload);
  });

  after(async () => {
    for (const client of clients) client.close();
    await t.close();
    await removeDir(dir);
  });

  async function connect(mode: 'explicit' | 'implicit', version: tls.SecureVersion, passive: 'epsv' | 'pasv' = 'epsv'): Promise<Client> {
    const client = new Client(10_000);
    clients.push(client);
    await client.access({
      host: '127.0.0.1',
      port: mode === 'implicit' ? implicitPort(t) : t.port,
      user: ALICE.name,
      password: ALICE.password,
      secure: mode === 'implicit' ? 'implicit' : true,
      secureOptions: { ca: pki.caPem, minVersion: version, maxVersion: version },
    });
    client.prepareTransfer = passive === 'epsv' ? enterPassiveModeIPv6 : enterPassiveModeIPv4;
    return client;
  }

  function protPCount(): number {
    return t.logs.filter((r) => r.event === 'command' && r.verb === 'PROT' && r.arg === 'P').length;
  }

  function refusals(): Promise<number> {
    return metricValue(t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"');
  }

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    for (const mode of ['explicit', 'implicit'] as const) {
      it(`${mode} ${version}: upload, download, resume both ways and list with sha256 intact`, async () => {
        const before = await refusals();
        const protP = protPCount();
        const client = await connect(mode, version, mode === 'explicit' ? 'epsv' : 'pasv');
        assert.equal(protPCount(), protP + 1, 'basic-ftp did not send PROT P');
        const name = `${mode}-${version}.bin`;
        const remote = path.join(t.root, name);

        await client.uploadFrom(path.join(dir, 'payload.bin'), name);
        assert.equal(await sha256File(remote), sha256(payload));

        const down = sink();
        await client.downloadTo(down.stream, name);
        assert.equal(sha256(down.data()), sha256(payload));

        const tail = sink();
        await client.downloadTo(tail.stream, name, 1_500_000);
        assert.equal(sha256(tail.data()), sha256(payload.subarray(1_500_000)));

        const partialName = `partial-${mode}-${version}.bin`;
        await client.uploadFrom(Readable.from([payload.subarray(0, MiB)]), partialName);
        await client.appendFrom(createReadStream(path.join(dir, 'payload.bin'), { start: MiB }), partialName);
        assert.equal(sha256(await readFile(path.join(t.root, partialName))), sha256(payload));

        const names = (await client.list()).map((entry) => entry.name);
        assert.ok(names.includes(name) && names.includes(partialName), names.join(', '));
        client.close();
        assert.equal(await refusals(), before, 'basic-ftp\'s data connections were refused as not resumed');
      });
    }
  }

  it('refuses a server certificate from another CA before sending the password', async () => {
    const client = new Client(5000);
    clients.push(client);
    const logins = t.logs.filter((r) => r.event === 'command' && r.verb === 'PASS').length;
    await assert.rejects(
      client.access({ host: '127.0.0.1', port: t.port, user: ALICE.name, password: ALICE.password, secure: true, secureOptions: { ca: await readFile(pki.rogueCaFile, 'utf8') } }),
      /certificate/i,
    );
    assert.equal(t.logs.filter((r) => r.event === 'command' && r.verb === 'PASS').length, logins);
  });
});
