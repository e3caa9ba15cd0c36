/**
 * @module test/integration/doctor-sftp.test
 * `kftpd doctor --sftp`: two real kftpd servers with SFTP on behind a tiny TCP round-robin
 * balancer. With different host keys the doctor reports SFTP_HOST_KEY_MISMATCH listing both
 * replicas' fingerprints (and the CLI exits 1); with the same keys (one Secret) it reports
 * SFTP_HOST_KEYS_OK and no failure; a replica missing a key type is a mismatch for that type;
 * nothing listening is SFTP_CONNECT_FAILED.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runDoctor } from '../../src/cli/commands/doctor.js';
import type { DoctorReport } from '../../src/doctor/diagnose.js';
import { checkSftpHostKeys, sampleHostKeys } from '../../src/doctor/ssh-host-key-probe.js';
import { describeKey, generateHostKeys, type HostKey } from '../../src/sftp/host-keys.js';
import { makeTempDir, removeDir } from '../helpers/integration.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Balancer {
  readonly port: number;
  /** Backend index of every accepted connection, in order. */
  readonly picks: number[];
  close(): Promise<void>;
}

/** A TCP round-robin over `ports` on 127.0.0.1: each new connection goes to the next backend. */
async function roundRobin(ports: readonly number[]): Promise<Balancer> {
  const picks: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const index = picks.length % ports.length;
    picks.push(index);
    const upstream = net.connect(ports[index] ?? 0, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    picks,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function cli(args: string[]): Promise<{ code: number; report: DoctorReport }> {
  let out = '';
  const code = await runDoctor([...args, '--json'], { stdout: (s) => (out += s), stderr: () => undefined, readStdin: () => Promise.resolve(''), env: {} });
  return { code, report: JSON.parse(out) as DoctorReport };
}

describe('kftpd doctor --sftp: host keys through the balancer', { timeout: 120_000 }, () => {
  let dir: string;
  let keysA: HostKey[];
  let keysB: HostKey[];
  const servers: TestServer[] = [];
  const balancers: Balancer[] = [];

  const sftpServer = async (hostKeyFiles: string[]): Promise<TestServer> => {
    const t = await startTestServer({ config: { sftp: { enabled: true, port: 0, hostKeyFiles } } });
    servers.push(t);
    return t;
  };
  const behindBalancer = async (...replicas: TestServer[]): Promise<Balancer> => {
    const balancer = await roundRobin(replicas.map((t) => t.server.sftpAddress()?.port ?? 0));
    balancers.push(balancer);
    return balancer;
  };

  before(async () => {
    dir = await makeTempDir('kftpd-doctor-sftp-');
    keysA = (await generateHostKeys(path.join(dir, 'a'), 'refuse')).keys;
    keysB = (await generateHostKeys(path.join(dir, 'b'), 'refuse')).keys;
  });

  after(async () => {
    await Promise.all(balancers.map((b) => b.close()));
    await Promise.all(servers.map((t) => t.close()));
    await removeDir(dir);
  });

  it('two replicas with different host keys: SFTP_HOST_KEY_MISMATCH with both fingerprints of every key type; the CLI exits 1', async () => {
    const balancer = await behindBalancer(await sftpServer(keysA.map((k) => k.file)), await sftpServer(keysB.map((k) => k.file)));
    const found = await checkSftpHostKeys({ host: '127.0.0.1', port: balancer.port, connections: 6 });
    const mismatch = found.find((f) => f.code === 'SFTP_HOST_KEY_MISMATCH');
    assert.ok(mismatch, JSON.stringify(found, null, 1));
    assert.equal(mismatch.severity, 'fail');
    assert.ok(mismatch.message.startsWith(`SFTP 127.0.0.1:${balancer.port}: `), mismatch.message);
    for (const key of [...keysA, ...keysB]) assert.ok(mismatch.message.includes(`${key.fingerprint} (3 of 6 connections)`), `${key.type} ${key.fingerprint} in ${mismatch.message}`);
    assert.match(mismatch.message, /ssh-ed25519: .*ecdsa-sha2-nistp256: .*rsa-sha2-512: /);
    assert.match(mismatch.hint ?? '', /kftpd sftp host-keys generate/);
    assert.ok(!found.some((f) => f.code === 'SFTP_HOST_KEYS_OK'));
    assert.ok(balancer.picks.includes(0) && balancer.picks.includes(1), 'both replicas were reached');

    // Through the CLI, next to the FTP checks of one replica: exit 1, the finding in the report.
    const ftp = servers[0] as TestServer;
    const run = await cli(['--external', `127.0.0.1:${ftp.port}`, '--tls', 'none', '--user', ftp.user, '--password', ftp.password, '--probes', '2', '--sessions', '1', '--sftp', String(balancer.port), '--sftp-connections', '4']);
    assert.equal(run.code, 1);
    assert.ok(run.report.findings.some((f) => f.code === 'SFTP_HOST_KEY_MISMATCH'), JSON.stringify(run.report.findings, null, 1));
    assert.ok(run.report.findings.some((f) => f.code === 'LOGIN_OK'));
  });

  it('two replicas with the same keys (one Secret): SFTP_HOST_KEYS_OK naming each key, no failure', async () => {
    const files = keysA.map((k) => k.file);
    const balancer = await behindBalancer(await sftpServer(files), await sftpServer(files));
    const found = await checkSftpHostKeys({ host: '127.0.0.1', port: balancer.port, connections: 6 });
    assert.deepEqual(found.map((f) => f.code), ['SFTP_HOST_KEYS_OK'], JSON.stringify(found, null, 1));
    for (const key of keysA) assert.ok(found[0]?.message.includes(key.fingerprint), key.type);
    assert.match(found[0]?.message ?? '', /18 connections presented the same host keys/);
    assert.ok(balancer.picks.includes(0) && balancer.picks.includes(1), 'both replicas were reached');
  });

  it('a replica without one of the key types is a mismatch for that type only', async () => {
    const ed25519 = keysA.find((k) => k.type === 'ssh-ed25519') as HostKey;
    // The same ed25519 key, read back from its file: only the ecdsa and rsa keys are missing.
    assert.equal(describeKey(ed25519.file, await readFile(ed25519.file)).fingerprint, ed25519.fingerprint);
    const balancer = await behindBalancer(await sftpServer(keysA.map((k) => k.file)), await sftpServer([ed25519.file]));
    const samples = await sampleHostKeys({ host: '127.0.0.1', port: balancer.port, connections: 4 });
    assert.equal(samples.filter((s) => s.algorithm === 'ssh-ed25519' && s.fingerprint === ed25519.fingerprint).length, 4);
    const found = await checkSftpHostKeys({ host: '127.0.0.1', port: balancer.port, connections: 4 });
    const mismatch = found.find((f) => f.code === 'SFTP_HOST_KEY_MISMATCH');
    assert.ok(mismatch, JSON.stringify(found, null, 1));
    assert.doesNotMatch(mismatch.message, /ssh-ed25519:/);
    assert.match(mismatch.message, /ecdsa-sha2-nistp256: SHA256:\S+ \(2 of 4 connections\), no key of this type \(2 of 4 connections\)/);
  });

  it('nothing listening: SFTP_CONNECT_FAILED', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const found = await checkSftpHostKeys({ host: '127.0.0.1', port, connections: 2, timeoutMs: 2000 });
    assert.deepEqual(found.map((f) => f.code), ['SFTP_CONNECT_FAILED']);
    assert.match(found[0]?.message ?? '', /ECONNREFUSED/);
  });
});
