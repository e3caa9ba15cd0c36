/**
 * @module test/integration/doctor.test
 * `kftpd doctor` against real in-process kftpd servers: healthy plain FTP and FTPS with
 * enforced TLS session reuse (all OK, exit 0), and one broken set-up per finding: a private
 * passive.address, a port offset nothing listens behind, a "balancer" that accepts data
 * connections and drops them, PROXY required but not sent, a PROXY header sent to a server that
 * does not read it, and a wrong password. Every assertion names the finding code.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runDoctor } from '../../src/cli/commands/doctor.js';
import { diagnose, type DoctorReport } from '../../src/doctor/diagnose.js';
import type { FindingCode } from '../../src/doctor/findings.js';
import { makeTempDir, removeDir } from '../helpers/integration.js';
import { startFtpsServer } from '../helpers/ftps-support.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; report: DoctorReport; stderr: string }> {
  let out = '';
  let err = '';
  const code = await runDoctor([...args, '--json'], {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    readStdin: () => Promise.resolve(''),
    env,
  });
  return { code, report: (out === '' ? { findings: [] } : JSON.parse(out)) as DoctorReport, stderr: err };
}

function codes(report: DoctorReport, severity?: 'ok' | 'warn' | 'fail'): FindingCode[] {
  return report.findings.filter((f) => severity === undefined || f.severity === severity).map((f) => f.code);
}

function show(report: DoctorReport): string {
  return JSON.stringify(report.findings, null, 1);
}

/** Listens on `count` consecutive ports, accepting and at once closing every connection (a balancer with no live backend). */
async function droppingListeners(count: number): Promise<{ base: number; close: () => void }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 40_000 + Math.floor(Math.random() * 20_000);
    const servers: net.Server[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const server = net.createServer((socket) => socket.destroy());
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(base + i, '127.0.0.1', () => resolve());
        });
        servers.push(server);
      }
      return { base, close: () => servers.forEach((s) => s.close()) };
    } catch {
      servers.forEach((s) => s.close());
    }
  }
  throw new Error('no free port pair');
}

describe('kftpd doctor', { timeout: 120_000 }, () => {
  let dir: string;
  let pki: TestPki;
  const servers: TestServer[] = [];
  const start = async (config: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> => {
    const t = await startTestServer(config);
    servers.push(t);
    return t;
  };

  before(async () => {
    dir = await makeTempDir('kftpd-doctor-');
    pki = await createTestPki(path.join(dir, 'pki'));
  });
  after(async () => {
    await Promise.all(servers.map((t) => t.close()));
    await removeDir(dir);
  });

  it('healthy plain FTP: every check OK, exit 0', async () => {
    const t = await start();
    const { code, report } = await cli(['--external', `${t.host}:${t.port}`, '--tls', 'none', '--user', t.user, '--password', t.password, '--timeout', '3000']);
    assert.deepEqual(codes(report, 'fail'), [], show(report));
    assert.deepEqual(codes(report, 'warn'), [], show(report));
    assert.equal(code, 0);
    for (const expected of ['CONTROL_OK', 'LOGIN_OK', 'REPLICA_OK', 'PASV_OK', 'EPSV_OK'] as const) assert.ok(codes(report).includes(expected), `${expected}: ${show(report)}`);
    assert.equal(report.probes.length, 6);
    assert.ok(report.probes.every((p) => p.outcome === 'ok' && p.replica === 0));
  });

  it('healthy FTPS with enforced reuse and tls required: every check OK, data TLS resumed, password from the environment', async () => {
    const t = await startFtpsServer(pki, { config: { tls: { control: 'required', data: 'required', sessionReuse: 'enforced' } } });
    servers.push(t);
    const { code, report } = await cli(
      ['--external', `${t.host}:${t.port}`, '--tls', 'explicit', '--ca', pki.caFile, '--user', t.user, '--timeout', '3000', '--probes', '4', '--sessions', '2'],
      { KFTPD_DOCTOR_PASSWORD: t.password },
    );
    assert.deepEqual(codes(report, 'fail'), [], show(report));
    assert.equal(code, 0);
    assert.ok(codes(report).includes('TLS_OK'), show(report));
    assert.equal(report.probes.length, 4);
    assert.ok(report.probes.every((p) => p.outcome === 'ok' && p.tlsResumed === true), JSON.stringify(report.probes));
  });

  it('an untrusted certificate: TLS_CERT_UNTRUSTED, exit 1', async () => {
    const t = await startFtpsServer(pki);
    servers.push(t);
    const { code, report } = await cli(['--external', `${t.host}:${t.port}`, '--tls', 'explicit', '--user', t.user, '--password', t.password, '--timeout', '3000']);
    assert.ok(codes(report, 'fail').includes('TLS_CERT_UNTRUSTED'), show(report));
    assert.equal(code, 1);
  });

  it('passive.address a private address other than the one dialled: PASV_ADDRESS_PRIVATE fails, EPSV still works', async () => {
    const t = await start({ config: { passive: { address: '10.255.255.1' } } });
    const { code, report } = await cli(['--external', `${t.host}:${t.port}`, '--tls', 'none', '--user', t.user, '--password', t.password, '--timeout', '1500', '--probes', '2', '--sessions', '1']);
    assert.ok(codes(report, 'fail').includes('PASV_ADDRESS_PRIVATE'), show(report));
    assert.ok(codes(report, 'ok').includes('EPSV_OK'), show(report));
    assert.equal(code, 1);
  });

  it('a port offset nothing listens behind: DATA_PORT_REFUSED', async () => {
    const decoy = await droppingListeners(1);
    decoy.close(); // a free port: nothing listens there now
    const t = await start({ config: { passive: { portMin: decoy.base - 500, portMax: decoy.base - 499, portOffset: 500 } } });
    const { code, report } = await cli(['--external', `${t.host}:${t.port}`, '--tls', 'none', '--user', t.user, '--password', t.password, '--timeout', '1500', '--probes', '2', '--sessions', '1']);
    assert.ok(codes(report, 'fail').includes('DATA_PORT_REFUSED'), show(report));
    assert.ok(!codes(report).includes('PORT_OUTSIDE_SLICE'), 'the announced port is in the announced slice');
    assert.equal(code, 1);
  });

  it('data connections accepted and dropped before reaching the session: DATA_MISROUTED, the session survives (ABOR)', async () => {
    const decoy = await droppingListeners(2);
    try {
      const t = await start({ config: { passive: { portMin: decoy.base - 700, portMax: decoy.base - 699, portOffset: 700 } } });
      const report = await diagnose({ host: t.host, port: t.port, tls: 'none', user: t.user, password: t.password, timeoutMs: 3000, settleMs: 300, probes: 2, sessions: 1 });
      assert.ok(codes(report, 'fail').includes('DATA_MISROUTED'), show(report));
      assert.deepEqual(
        report.probes.map((p) => p.outcome),
        ['dropped', 'dropped'],
        'both probes ran on the same session (it survived the first drop)',
      );
    } finally {
      decoy.close();
    }
  });

  it('PROXY required on the control listener but not sent: PROXY_HEADER_MISSING (trusted peer after the header timeout, untrusted at once)', async () => {
    const trusted = await start({ config: { proxy: { control: 'required', trustedCidrs: ['127.0.0.1/32'], headerTimeoutMs: 400 } } });
    const first = await cli(['--external', `${trusted.host}:${trusted.port}`, '--tls', 'none', '--timeout', '3000']);
    assert.deepEqual(codes(first.report, 'fail'), ['PROXY_HEADER_MISSING'], show(first.report));
    assert.equal(first.code, 1);
    const untrusted = await start({ config: { proxy: { control: 'required', trustedCidrs: ['192.0.2.1/32'] } } });
    const second = await cli(['--external', `${untrusted.host}:${untrusted.port}`, '--tls', 'none', '--timeout', '3000']);
    assert.deepEqual(codes(second.report, 'fail'), ['PROXY_HEADER_MISSING'], show(second.report));
  });

  it('a balancer sending a PROXY header to a server that does not read it: PROXY_HEADER_UNEXPECTED', async () => {
    const t = await start();
    const balancer = net.createServer((client) => {
      const upstream = net.connect({ host: t.host, port: t.port }, () => {
        upstream.write(`PROXY TCP4 ${client.remoteAddress ?? '127.0.0.1'} 127.0.0.1 ${client.remotePort ?? 1} ${t.port}\r\n`);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => balancer.listen(0, '127.0.0.1', resolve));
    try {
      const port = (balancer.address() as net.AddressInfo).port;
      const { code, report } = await cli(['--external', `127.0.0.1:${port}`, '--tls', 'none', '--user', t.user, '--password', t.password, '--timeout', '3000']);
      assert.ok(codes(report, 'fail').includes('PROXY_HEADER_UNEXPECTED'), show(report));
      assert.equal(code, 1);
    } finally {
      balancer.close();
    }
  });

  it('a wrong password: LOGIN_FAILED, exit 1; anonymous refused names the options', async () => {
    const t = await start();
    const { code, report } = await cli(['--external', `${t.host}:${t.port}`, '--tls', 'none', '--user', t.user, '--password', 'wrong', '--timeout', '3000']);
    assert.deepEqual(codes(report, 'fail'), ['LOGIN_FAILED'], show(report));
    assert.equal(code, 1);
    const anonymous = await cli(['--external', `${t.host}:${t.port}`, '--tls', 'none', '--timeout', '3000']);
    const finding = anonymous.report.findings.find((f) => f.code === 'LOGIN_FAILED');
    assert.match(finding?.hint ?? '', /--user/);
  });

  it('usage errors exit 2', async () => {
    assert.equal((await cli([])).code, 2);
    assert.equal((await cli(['--external', 'no-port'])).code, 2);
    assert.equal((await cli(['--external', 'h:21', '--tls', 'bogus'])).code, 2);
  });
});
