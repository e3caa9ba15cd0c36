/**
 * @module test/integration/basic-ftp
 * The real server driven by basic-ftp (Node), looped over {plain, explicit TLS, implicit TLS}
 * on one server (test/helpers/client-suite). Plain: login, listings (MLSD, LIST, NLST, MLST),
 * uploads and downloads with sha256 checks (64 MiB, 0 bytes, awkward names), resume in both
 * directions (REST+RETR, APPE), file management, PASV and EPSV, TYPE A conversion.
 * TLS (server certificate verified against the test CA, default "enforced" data-channel
 * session reuse): explicit (`secure: true`) and implicit (`secure: 'implicit'`) on TLS 1.2 and
 * TLS 1.3, EPSV and PASV: uploads, downloads, resumes both ways and listings with sha256
 * checks; a server certificate from another CA is refused (explicit).
 * basic-ftp has no active mode; PORT/EPRT are covered by the other clients.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { Client, FileInfo, FTPError, enterPassiveModeIPv4, enterPassiveModeIPv6 } from 'basic-ftp';
import { AWKWARD_NAMES, memorySink, MiB, randomBuffer, sha256, sha256File } from '../helpers/integration.js';
import { implicitPort, metricValue } from '../helpers/ftps-support.js';
import { TRANSPORTS, TRANSPORT_TITLES, assertClientLogs, commandsSeen, useClientFixture, type Transport } from '../helpers/client-suite.js';
import { exists, makeDirectories, readAll, readText, seedFile } from '../helpers/storage.js';

const sink = memorySink;

describe('basic-ftp client', () => {
  const clients: Client[] = [];
  // Registered before the fixture's hooks so the clients are gone before the server closes.
  after(() => {
    for (const c of clients) c.close();
  });
  const f = useClientFixture({ name: 'basic-ftp', bigFile: true, manyFiles: true, payloadBytes: 2 * MiB + 99 });

  async function connect(transport: Transport, passive: 'epsv' | 'pasv' = 'epsv', version?: tls.SecureVersion): Promise<Client> {
    const t = f.t;
    const client = new Client(transport === 'plain' ? 15_000 : 10_000);
    clients.push(client);
    await client.access({
      host: t.host,
      port: transport === 'implicit' ? implicitPort(t) : t.port,
      user: t.user,
      password: t.password,
      ...(transport === 'plain'
        ? {}
        : { secure: transport === 'implicit' ? ('implicit' as const) : true, secureOptions: { ca: f.pki.caPem, ...(version ? { minVersion: version, maxVersion: version } : {}) } }),
    });
    client.prepareTransfer = passive === 'epsv' ? enterPassiveModeIPv6 : enterPassiveModeIPv4;
    return client;
  }

  for (const transport of TRANSPORTS) {
    describe(TRANSPORT_TITLES[transport], () => {
      if (transport === 'plain') plainCases();
      else tlsCases(transport);
    });
  }

  /** Plain FTP only: the full feature round (the TLS rounds below repeat the transfer core). */
  function plainCases(): void {
    it('logs in with the right password and is refused with 530 otherwise', async () => {
      const client = await connect('plain');
      assert.equal(await client.pwd(), '/');
      const bad = new Client(5000);
      clients.push(bad);
      await assert.rejects(
        bad.access({ host: f.t.host, port: f.t.port, user: f.t.user, password: 'not-the-password' }),
        (error: unknown) => error instanceof FTPError && error.code === 530,
      );
      const unknown = new Client(5000);
      clients.push(unknown);
      await assert.rejects(
        unknown.access({ host: f.t.host, port: f.t.port, user: 'mallory', password: 'x' }),
        (error: unknown) => error instanceof FTPError && error.code === 530,
      );
    });

    it('uploads 64 MiB over PASV and downloads it over EPSV with identical sha256', async () => {
      const pasvBefore = commandsSeen(f.t, 'PASV');
      const epsvBefore = commandsSeen(f.t, 'EPSV');
      const up = await connect('plain', 'pasv');
      await up.uploadFrom(f.bigPath, 'big.bin');
      assert.equal(sha256(await readAll(f.t.storage, '/big.bin')), f.bigSha);
      assert.equal(await up.size('big.bin'), 64 * MiB);
      assert.ok(commandsSeen(f.t, 'PASV') > pasvBefore, 'PASV was used');

      const down = await connect('plain', 'epsv');
      const target = path.join(f.local, 'big.down');
      await down.downloadTo(target, 'big.bin');
      assert.equal(await sha256File(target), f.bigSha);
      assert.ok(commandsSeen(f.t, 'EPSV') > epsvBefore, 'EPSV was used');
    });

    it('resumes a download with REST and an upload with APPE', async () => {
      const client = await connect('plain');
      const data = randomBuffer(3 * MiB + 123);
      await seedFile(f.t.storage, '/resume-src.bin', data);

      const partial = path.join(f.local, 'resume-down.bin');
      await writeFile(partial, data.subarray(0, 1_000_000));
      await client.downloadTo(partial, 'resume-src.bin', 1_000_000);
      assert.equal(sha256(await readFile(partial)), sha256(data));
      assert.ok(f.t.logs.some((r) => r.event === 'transfer' && r.command === 'RETR' && r.offset === 1_000_000));

      const localFull = path.join(f.local, 'resume-up.bin');
      await writeFile(localFull, data);
      await seedFile(f.t.storage, '/resume-up.bin', data.subarray(0, 2_000_000));
      await client.appendFrom(createReadStream(localFull, { start: 2_000_000 }), 'resume-up.bin');
      assert.equal(sha256(await readAll(f.t.storage, '/resume-up.bin')), sha256(data));
    });

    it('lists a directory of 1,000 entries completely with MLSD, LIST and NLST', async () => {
      const client = await connect('plain');
      client.availableListCommands = ['MLSD'];
      const mlsd = await client.list('many');
      assert.deepEqual(mlsd.map((f) => f.name).sort(), f.manyNames);
      assert.ok(mlsd.every((f) => f.isFile && f.size === 10), 'sizes from MLSD facts');

      client.availableListCommands = ['LIST'];
      const list = await client.list('many');
      assert.deepEqual(list.map((f) => f.name).sort(), f.manyNames);
      assert.ok(list.every((f) => f.size === 10));

      client.availableListCommands = ['NLST'];
      client.parseList = (raw) =>
        raw
          .split(/\r?\n/)
          .filter((line) => line !== '')
          .map((line) => new FileInfo(line));
      const nlst = await client.list('many');
      assert.deepEqual(nlst.map((f) => f.name).sort(), f.manyNames);
    });

    it('reads MLST, SIZE and MDTM facts; MFMT sets the time', async () => {
      const client = await connect('plain');
      await seedFile(f.t.storage, '/facts.txt', 'hello facts');
      const mfmt = await client.send('MFMT 20210304050607 facts.txt');
      assert.equal(mfmt.code, 213);
      assert.equal((await client.lastMod('facts.txt')).toISOString(), '2021-03-04T05:06:07.000Z');
      assert.equal(await client.size('facts.txt'), 11);
      const mlst = await client.send('MLST facts.txt');
      assert.equal(mlst.code, 250);
      assert.match(mlst.message, /type=file;/);
      assert.match(mlst.message, /size=11;/);
      assert.match(mlst.message, /modify=20210304050607;/);
      await assert.rejects(client.size('nope.txt'), (error: unknown) => error instanceof FTPError && error.code === 550);
    });

    it('makes, enters, renames and removes directories and files', async () => {
      const client = await connect('plain');
      await client.ensureDir('tree/deeper dir/ünï');
      assert.equal(await client.pwd(), '/tree/deeper dir/ünï');
      assert.equal((await f.t.storage.stat('/tree/deeper dir/ünï')).type, 'directory');
      await client.uploadFrom(Readable.from([Buffer.from('leaf')]), 'leaf.txt');
      await client.cdup();
      assert.equal(await client.pwd(), '/tree/deeper dir');
      await client.rename('ünï', 'renamed dir');
      assert.equal(await readText(f.t.storage, '/tree/deeper dir/renamed dir/leaf.txt'), 'leaf');
      await client.cd('/');
      await client.rename('tree/deeper dir/renamed dir/leaf.txt', 'tree/leaf moved.txt');
      assert.equal(await readText(f.t.storage, '/tree/leaf moved.txt'), 'leaf');
      await assert.rejects(client.removeEmptyDir('tree'), (error: unknown) => error instanceof FTPError && error.code === 550);
      await client.remove('tree/leaf moved.txt');
      await client.removeEmptyDir('tree/deeper dir/renamed dir');
      await client.removeDir('tree');
      assert.equal(await exists(f.t.storage, '/tree'), false);
      await assert.rejects(client.remove('tree/none.txt'), (error: unknown) => error instanceof FTPError && error.code === 550);
    });

    it('handles names with spaces, quotes, UTF-8 and a leading dash', async () => {
      const client = await connect('plain');
      await client.ensureDir('/awkward');
      await client.cd('/awkward');
      for (const name of AWKWARD_NAMES) {
        const content = Buffer.from(`content of ${name}`, 'utf8');
        await client.uploadFrom(Readable.from([content]), name);
        assert.equal(sha256(await readAll(f.t.storage, `/awkward/${name}`)), sha256(content), name);
        const out = sink();
        await client.downloadTo(out.stream, name);
        assert.equal(sha256(out.data()), sha256(content), name);
        assert.equal(await client.size(name), content.length);
      }
      client.availableListCommands = ['MLSD'];
      assert.deepEqual((await client.list()).map((f) => f.name).sort(), [...AWKWARD_NAMES].sort());
      client.availableListCommands = ['LIST'];
      assert.deepEqual((await client.list()).map((f) => f.name).sort(), [...AWKWARD_NAMES].sort());
      await client.rename(AWKWARD_NAMES[0] ?? '', 'ðöç "2".txt');
      assert.equal(await readText(f.t.storage, '/awkward/ðöç "2".txt'), `content of ${AWKWARD_NAMES[0] ?? ''}`);
      for (const name of ['ðöç "2".txt', ...AWKWARD_NAMES.slice(1)]) await client.remove(name);
      await client.cd('/');
      await client.removeEmptyDir('awkward');
    });

    it('transfers a 0-byte file both ways', async () => {
      const client = await connect('plain');
      await client.uploadFrom(Readable.from([]), 'zero.bin');
      assert.equal((await f.t.storage.stat('/zero.bin')).size, 0);
      const out = sink();
      await client.downloadTo(out.stream, 'zero.bin');
      assert.equal(out.data().length, 0);
      assert.equal(await client.size('zero.bin'), 0);
    });

    it('converts line endings in TYPE A and keeps bytes exact in TYPE I', async () => {
      const client = await connect('plain');
      await seedFile(f.t.storage, '/text-lf.txt', 'one\ntwo\nthree\n');
      assert.equal((await client.send('TYPE A')).code, 200);
      const ascii = sink();
      await client.downloadTo(ascii.stream, 'text-lf.txt');
      assert.equal(ascii.data().toString(), 'one\r\ntwo\r\nthree\r\n');
      await client.uploadFrom(Readable.from([Buffer.from('x\r\ny\r\n')]), 'text-crlf.txt');
      assert.equal(await readText(f.t.storage, '/text-crlf.txt'), 'x\ny\n');
      assert.equal((await client.send('TYPE I')).code, 200);
      const binary = sink();
      await client.downloadTo(binary.stream, 'text-lf.txt');
      assert.equal(binary.data().toString(), 'one\ntwo\nthree\n');
    });

    it('downloads a file that was truncated on disk mid-session without hanging', async () => {
      const client = await connect('plain');
      await writeFile(path.join(f.t.root, 'shrink.bin'), randomBuffer(1000));
      assert.equal(await client.size('shrink.bin'), 1000);
      await truncate(path.join(f.t.root, 'shrink.bin'), 10);
      const out = sink();
      await client.downloadTo(out.stream, 'shrink.bin');
      assert.equal(out.data().length, 10);
    });

    it('keeps a session usable across many sequential transfers (no leaked passive ports)', async () => {
      const client = await connect('plain');
      await makeDirectories(f.t.storage, '/seq');
      for (let i = 0; i < 40; i++) {
        const body = Buffer.from(`file ${i}`);
        await client.uploadFrom(Readable.from([body]), `seq/${i}.txt`);
        const out = sink();
        await client.downloadTo(out.stream, `seq/${i}.txt`);
        assert.equal(out.data().toString(), `file ${i}`);
      }
      assert.equal(f.t.server.passivePortsInUse, 0);
    });

    it('logged transfer records for this client and never the password', async () => {
      assertClientLogs(f.t);
    });
  }

  /** Explicit and implicit TLS on TLS 1.2 and 1.3 (explicit over EPSV, implicit over PASV). */
  function tlsCases(transport: 'explicit' | 'implicit'): void {
    function protPCount(): number {
      return f.t.logs.filter((r) => r.event === 'command' && r.verb === 'PROT' && r.arg === 'P').length;
    }

    function refusals(): Promise<number> {
      return metricValue(f.t, 'kftpd_tls_data_refused_total', 'reason="not-resumed"');
    }

    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      it(`${transport} ${version}: upload, download, resume both ways and list with sha256 intact`, async () => {
        const payload = await readFile(f.payloadPath);
        const before = await refusals();
        const protP = protPCount();
        const client = await connect(transport, transport === 'explicit' ? 'epsv' : 'pasv', version);
        assert.equal(protPCount(), protP + 1, 'basic-ftp did not send PROT P');
        const name = `${transport}-${version}.bin`;

        await client.uploadFrom(f.payloadPath, name);
        assert.equal(sha256(await readAll(f.t.storage, `/${name}`)), sha256(payload));

        const down = sink();
        await client.downloadTo(down.stream, name);
        assert.equal(sha256(down.data()), sha256(payload));

        const tail = sink();
        await client.downloadTo(tail.stream, name, 1_500_000);
        assert.equal(sha256(tail.data()), sha256(payload.subarray(1_500_000)));

        const partialName = `partial-${transport}-${version}.bin`;
        await client.uploadFrom(Readable.from([payload.subarray(0, MiB)]), partialName);
        await client.appendFrom(createReadStream(f.payloadPath, { start: MiB }), partialName);
        assert.equal(sha256(await readAll(f.t.storage, `/${partialName}`)), sha256(payload));

        const names = (await client.list()).map((entry) => entry.name);
        assert.ok(names.includes(name) && names.includes(partialName), names.join(', '));
        client.close();
        assert.equal(await refusals(), before, 'basic-ftp\'s data connections were refused as not resumed');
      });
    }

    // Mode guard: the rogue-CA refusal is an AUTH TLS case (explicit only).
    if (transport !== 'explicit') return;
    it('refuses a server certificate from another CA before sending the password', async () => {
      const client = new Client(5000);
      clients.push(client);
      const logins = commandsSeen(f.t, 'PASS');
      await assert.rejects(
        client.access({ host: '127.0.0.1', port: f.t.port, user: f.t.user, password: f.t.password, secure: true, secureOptions: { ca: await readFile(f.pki.rogueCaFile, 'utf8') } }),
        /certificate/i,
      );
      assert.equal(commandsSeen(f.t, 'PASS'), logins);
    });
  }
});
