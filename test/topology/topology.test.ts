/**
 * @module test/topology/topology.test
 * "Prove it on a real topology": a client host, an HAProxy (TCP mode, PROXY v2) balancer host
 * and three kftpd replicas, each in its own network namespace, sharing one storage directory
 * (see README.md beside this file). Root only; skipped unless KFTPD_TOPOLOGY=1.
 * The tests run in order on one topology: parallel clients, a replica killed mid-upload, a
 * rolling restart under load of short sessions, a long batch and a parked session on a
 * draining replica, the real client address in every replica's logs, kftpd doctor, then
 * password guessing banned across the replicas through their shared Redis.
 */
import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import { after, before, describe, it, type TestContext } from 'node:test';
import { MiB, PYTHON_FTPLIB_MISSING, describeRun, sha256File, writeRandomFile, type RunResult } from '../helpers/integration.js';
import {
  ADMIN_PORT,
  ADMIN_TOKEN,
  KFTPD_MAIN,
  READINESS_DELAY_MS,
  SFTP_PORT,
  USER,
  DRAIN_TIMEOUT_MS,
  DRAIN_IDLE_MS,
  announcedPorts,
  curlArgs,
  ftpUrlAt,
  pool,
  replicaOfPort,
  replyCodes,
  sftpArgs,
  type LogRecord,
  type Replica,
} from './cluster.js';
import { Topology, sftpSkipReason, topologySkipReason } from './fixture.js';
import type { DoctorReport } from '../../src/doctor/diagnose.js';
import { BROKEN_VIP, BrokenBalancer, NO_PROXY_PORT } from './broken-balancer.js';
import { ADDR } from './netns.js';

const skip = topologySkipReason();
const sftpSkip = skip ?? sftpSkipReason();

/** Events that must never appear: a data connection reaching the wrong replica, or a bad PROXY header. */
const FORBIDDEN_EVENTS = ['passive.foreign-peer', 'proxy.refused', 'passive.accept-failed', 'tls.data-not-resumed', 'control.accept-failed'];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function eventsOf(replica: Replica, event: string): LogRecord[] {
  return replica.logs().filter((record) => record.event === event);
}

/** The replicas whose logs hold a finished transfer of `path` in `direction`, with the records. */
function transfersOf(topo: Topology, path: string, direction: 'upload' | 'download'): { replica: number; record: LogRecord }[] {
  const found: { replica: number; record: LogRecord }[] = [];
  for (const replica of topo.replicas) {
    for (const record of eventsOf(replica, 'transfer')) {
      if (record.path === path && record.direction === direction) found.push({ replica: replica.index, record });
    }
  }
  return found;
}

function forbiddenEvents(topo: Topology): string[] {
  const out: string[] = [];
  for (const replica of topo.replicas) {
    for (const record of replica.logs()) {
      if (typeof record.event === 'string' && FORBIDDEN_EVENTS.includes(record.event)) out.push(`replica ${replica.index}: ${JSON.stringify(record)}`);
    }
  }
  return out;
}

function tail(result: RunResult): string {
  return describeRun(result).slice(-2500);
}

describe('kftpd behind HAProxy (TCP, PROXY v2) with three replicas', { timeout: 300_000 }, () => {
  const topo = new Topology();
  const keep = process.env.KFTPD_TOPOLOGY_KEEP === '1';

  before(async () => {
    if (!skip) await topo.setUp();
  });
  after(async () => {
    if (skip) return;
    await topo.tearDown(keep);
    if (keep) console.log(`topology files kept in ${topo.dir}`);
  });

  const guard = (t: TestContext): boolean => {
    if (skip) {
      t.skip(skip);
      return false;
    }
    return true;
  };

  const curl = (extra: readonly string[], timeoutMs = 60_000): Promise<RunResult> =>
    topo.net.exec('client', 'curl', curlArgs(topo.pki.caFile, extra), { timeoutMs });

  /** OpenSSH sftp on the client host running `commands` as a batch (the host keys checked strictly). */
  const sftp = async (name: string, commands: readonly string[], extra: readonly string[] = [], timeoutMs = 60_000): Promise<RunResult> => {
    const batch = topo.clientFile(`${name}.batch`);
    await writeFile(batch, `${commands.join('\n')}\n`);
    try {
      return await topo.net.exec('client', 'sftp', sftpArgs({ identity: topo.ssh.identity, knownHosts: topo.ssh.knownHosts, batch, extra }), { timeoutMs });
    } finally {
      await rm(batch, { force: true });
    }
  };

  it('50 parallel FTPS clients: every file intact, every data connection on the replica that announced it, all replicas used', async (t) => {
    if (!guard(t)) return;
    const clients = 50;
    const jobs = Array.from({ length: clients }, (_, i) => ({
      name: `par-${String(i).padStart(2, '0')}.bin`,
      // every fifth client uses implicit FTPS on :990, the others explicit AUTH TLS on :21
      implicit: i % 5 === 4,
      size: 64 * 1024 + i * 13_331,
    }));
    const sums = await Promise.all(jobs.map((job) => writeRandomFile(topo.clientFile(job.name), job.size)));
    const url = (job: (typeof jobs)[number]): string => (job.implicit ? `ftps://${ADDR.vip}:990/${job.name}` : ftpUrlAt(job.name));
    const results = await pool(
      8,
      jobs.map((job) => async () => {
        const up = await curl(['-T', topo.clientFile(job.name), url(job)]);
        assert.equal(up.code, 0, `upload ${job.name}: ${tail(up)}`);
        const down = await curl(['-o', topo.clientFile(`${job.name}.down`), url(job)]);
        assert.equal(down.code, 0, `download ${job.name}: ${tail(down)}`);
        return { up: announcedPorts(up), down: announcedPorts(down) };
      }),
    );
    const failures = results.filter((r) => r.error !== undefined).map((r) => String(r.error));
    assert.deepEqual(failures, [], failures.join('\n\n'));

    const used = new Set<number>();
    for (const [i, job] of jobs.entries()) {
      assert.equal(await sha256File(topo.storageFile(job.name)), sums[i], `${job.name} on the shared storage`);
      assert.equal(await sha256File(topo.clientFile(`${job.name}.down`)), sums[i], `${job.name} downloaded`);
      const ports = results[i]?.value;
      assert.ok(ports);
      for (const [direction, announced] of [
        ['upload', ports.up],
        ['download', ports.down],
      ] as const) {
        assert.equal(announced.length, 1, `${job.name} ${direction}: one passive port announced`);
        const owner = replicaOfPort(announced[0] as number);
        const served = transfersOf(topo, `/${job.name}`, direction);
        assert.equal(served.length, 1, `${job.name} ${direction}: logged by exactly one replica: ${JSON.stringify(served)}`);
        const { replica, record } = served[0] as { replica: number; record: LogRecord };
        assert.equal(record.result, 'ok');
        assert.equal(record.bytes, job.size);
        // The port came from the slice of the replica whose session announced it, and the data
        // connection reached that very replica (else the transfer could not have been logged there).
        assert.equal(owner, replica, `${job.name} ${direction}: port ${String(announced[0])} is in slice ${owner}, served by replica ${replica}`);
        used.add(replica);
      }
    }
    assert.deepEqual([...used].sort(), [0, 1, 2], 'transfers happened on all three replicas');
    const forbidden = forbiddenEvents(topo);
    assert.deepEqual(forbidden, [], forbidden.join('\n'));
  });

  it('SFTP through the balancer (PROXY v2): every replica presents the same host keys, transfers are intact on all three replicas, the replicas see the real client address', async (t) => {
    if (!guard(t)) return;
    if (sftpSkip) {
      t.skip(sftpSkip);
      return;
    }
    await topo.ensureAllReady();
    // ssh-keyscan through the VIP, round robin: every replica answers twice for each key type.
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const scan = await topo.net.exec('client', 'ssh-keyscan', ['-p', String(SFTP_PORT), '-T', '5', '-t', 'ed25519,ecdsa', ADDR.vip], { timeoutMs: 20_000 });
      for (const line of scan.stdout.split('\n')) {
        const fields = line.trim().split(/\s+/);
        if (!line.startsWith('#') && fields.length >= 3) seen.add(`${fields[1]} ${fields[2]}`);
      }
    }
    assert.deepEqual([...seen].sort(), [...topo.ssh.hostPublicKeys].sort(), 'one key per type, the shared one, whichever replica answered');
    const fingerprints = topo.replicas.map((replica) => [...new Set(eventsOf(replica, 'sftp.host-key').map((r) => String(r.fingerprint)))].sort().join(' '));
    assert.equal(new Set(fingerprints).size, 1, `host key fingerprints per replica: ${fingerprints.join(' | ')}`);

    // Nine sessions, three at a time: each uploads a file and downloads it again (sha256 both).
    const jobs = Array.from({ length: 9 }, (_, i) => ({ name: `sftp-par-${i}.bin`, size: 256 * 1024 + i * 7919 }));
    const sums = await Promise.all(jobs.map((job) => writeRandomFile(topo.clientFile(job.name), job.size)));
    const runs = await pool(
      3,
      jobs.map((job) => async () => {
        const result = await sftp(job.name, [`put ${topo.clientFile(job.name)} ${job.name}`, `get ${job.name} ${topo.clientFile(`${job.name}.down`)}`]);
        assert.equal(result.code, 0, `${job.name}: ${tail(result)}`);
      }),
    );
    const failures = runs.filter((r) => r.error !== undefined).map((r) => String(r.error));
    assert.deepEqual(failures, [], failures.join('\n\n'));
    const used = new Set<number>();
    for (const [i, job] of jobs.entries()) {
      assert.equal(await sha256File(topo.storageFile(job.name)), sums[i], `${job.name} on the shared storage`);
      assert.equal(await sha256File(topo.clientFile(`${job.name}.down`)), sums[i], `${job.name} downloaded`);
      for (const direction of ['upload', 'download'] as const) {
        const served = transfersOf(topo, `/${job.name}`, direction);
        assert.equal(served.length, 1, `${job.name} ${direction}: logged by one replica: ${JSON.stringify(served)}`);
        const { replica, record } = served[0] as { replica: number; record: LogRecord };
        assert.equal(record.result, 'ok');
        assert.equal(record.bytes, job.size);
        assert.equal(record.remote, ADDR.client, `${job.name} ${direction}: the client address from PROXY v2`);
        used.add(replica);
      }
    }
    assert.deepEqual([...used].sort(), [0, 1, 2], 'SFTP sessions on all three replicas');
    for (const replica of topo.replicas) {
      const opened = eventsOf(replica, 'session.open').filter((r) => r.protocol === 'sftp');
      assert.ok(opened.length > 0, `replica ${replica.index} had SFTP connections`);
      for (const record of opened) {
        assert.equal(record.remote, ADDR.client, `replica ${replica.index}: ${JSON.stringify(record)}`);
        assert.equal(record.via, ADDR.lbInside);
      }
    }
    const forbidden = forbiddenEvents(topo);
    assert.deepEqual(forbidden, [], forbidden.join('\n'));
  });

  it('a replica killed with SIGKILL mid-upload: the client resumes through the balancer on another replica, byte-identical', async (t) => {
    if (!guard(t)) return;
    await topo.ensureAllReady();
    const name = 'killed-upload.bin';
    const size = 8 * MiB;
    const source = topo.clientFile(name);
    const sum = await writeRandomFile(source, size);
    // 1 MiB/s: the upload takes ~8 s, so it is surely running when the replica dies.
    const first = curl(['--limit-rate', '1M', '-T', source, ftpUrlAt(name)], 60_000);

    // Find the replica serving it (its STOR is logged) and wait until some data is on disk.
    let victim: Replica | undefined;
    for (let i = 0; i < 200 && victim === undefined; i++) {
      victim = topo.replicas.find((replica) => eventsOf(replica, 'command').some((r) => r.verb === 'STOR' && r.arg === name));
      if (victim === undefined) await sleep(50);
    }
    assert.ok(victim, 'some replica received the STOR');
    for (let i = 0; i < 200; i++) {
      const onDisk = await stat(topo.storageFile(name)).then((s) => s.size, () => 0);
      if (onDisk >= MiB) break;
      await sleep(50);
    }
    assert.ok(victim.signal('SIGKILL'), 'replica killed');
    await victim.waitExit(5000);
    const failed = await first;
    assert.notEqual(failed.code, 0, `the interrupted upload must fail: ${tail(failed)}`);
    const partial = (await stat(topo.storageFile(name))).size;
    assert.ok(partial > 0 && partial < size, `a partial file is left (${partial} bytes)`);

    // Retry with resume (curl -C - asks SIZE and sends APPE from there), bounded.
    let resumed: RunResult | undefined;
    for (let attempt = 0; attempt < 6; attempt++) {
      resumed = await curl(['-C', '-', '-T', source, ftpUrlAt(name)], 60_000);
      if (resumed.code === 0) break;
      await sleep(500);
    }
    assert.ok(resumed);
    assert.equal(resumed.code, 0, `resumed upload: ${tail(resumed)}`);
    assert.equal(await sha256File(topo.storageFile(name)), sum, 'the resumed file is byte-identical');

    const appends = transfersOf(topo, `/${name}`, 'upload').filter(({ record }) => record.result === 'ok');
    assert.equal(appends.length, 1, JSON.stringify(appends));
    const { replica, record } = appends[0] as { replica: number; record: LogRecord };
    assert.notEqual(replica, victim.index, 'resumed on another replica');
    assert.equal(record.command, 'APPE');
    assert.ok((record.bytes as number) < size, `only the rest was sent (${String(record.bytes)} bytes)`);
    assert.equal((record.bytes as number) + partial, size);

    await victim.start();
  });

  it('rolling restart under load: 10 clients looping "connect, STOR 2 MiB, RETR it, QUIT" and 3 SFTP clients looping "put 2 MiB, get it", three replicas restarted in turn: /readyz fails before the listeners close, 0 failed transfers, 0 corrupted files', async (t) => {
    if (!guard(t)) return;
    await topo.ensureAllReady();
    await sleep(1000); // HAProxy: rise 2 x 250 ms after the restart in the previous test

    const failed: string[] = [];
    const corrupted: string[] = [];
    let sessions = 0;
    let transfers = 0;
    let stop = false;

    // One short session per loop: curl connects through the balancer, STORs a 2 MiB file,
    // RETRs it on the same control connection, QUITs. A draining replica must let every such
    // session finish (it is busy) instead of sending 421 between the STOR and the RETR.
    // Eight clients run at 512 KiB/s (a session lasts ~8 s, so the ones on a replica are
    // mid-session when its listeners close, readinessDelayMs after SIGTERM); two at full
    // speed (connection churn through the balancer while replicas come and go).
    // TLS 1.2: curl (7.88, OpenSSL) uses a TLS 1.3 ticket once and never reads an upload's
    // data connection (where kftpd would hand it a fresh one), so the RETR after the STOR has
    // no ticket left to offer (curl issue #4654; docs/ftps.md).
    const looper = async (w: number): Promise<void> => {
      const rate = w < 8 ? ['--limit-rate', '512K'] : [];
      for (let n = 0; !stop && n < 500; n++) {
        const name = `loop-${w}-${String(n).padStart(3, '0')}.bin`;
        const source = topo.clientFile(name);
        const target = topo.clientFile(`${name}.down`);
        const sum = await writeRandomFile(source, 2 * MiB + w * 4099 + n);
        // curl pairs each -o with the URLs in order: the first (the upload's reply body, none
        // for FTP) goes to /dev/null, the second receives the download.
        const result = await curl([...rate, '--tls-max', '1.2', '--fail-early', '-T', source, '-o', '/dev/null', ftpUrlAt(name), '-o', target, ftpUrlAt(name)], 60_000);
        sessions++;
        const done = replyCodes(result).filter((code) => code === 226).length;
        transfers += done;
        if (result.code !== 0 || done !== 2) {
          failed.push(`${name}: ${2 - done} of 2 transfers failed, replies ${replyCodes(result).join(' ')}: ${tail(result)}`);
          continue;
        }
        const [stored, fetched] = await Promise.all([sha256File(topo.storageFile(name)), sha256File(target)]);
        if (stored !== sum || fetched !== sum) corrupted.push(`${name}: stored ${stored === sum ? 'ok' : 'CORRUPT'}, downloaded ${fetched === sum ? 'ok' : 'CORRUPT'}`);
        // Keep the disk small: ~2,000 files of 2 MiB would pass by otherwise.
        await Promise.all([rm(source), rm(target), rm(topo.storageFile(name))]);
      }
    };

    // Three SFTP clients loop "connect, put 2 MiB, get it, bye" (OpenSSH sftp at 4 Mbit/s, a
    // session lasts ~8 s) with the host keys checked strictly: a draining replica finishes
    // their running requests, and whichever replica serves the next session has the same key.
    const sftpFailed: string[] = [];
    let sftpSessions = 0;
    const sftpLooper = async (w: number): Promise<void> => {
      for (let n = 0; !stop && n < 500; n++) {
        const name = `sftp-loop-${w}-${String(n).padStart(3, '0')}.bin`;
        const source = topo.clientFile(name);
        const target = topo.clientFile(`${name}.down`);
        const sum = await writeRandomFile(source, 2 * MiB + w * 4099 + n);
        const result = await sftp(name, [`put ${source} ${name}`, `get ${name} ${target}`], ['-l', '4096']);
        sftpSessions++;
        if (result.code !== 0) {
          sftpFailed.push(`${name}: ${tail(result)}`);
          continue;
        }
        const [stored, fetched] = await Promise.all([sha256File(topo.storageFile(name)), sha256File(target)]);
        if (stored !== sum || fetched !== sum) corrupted.push(`${name}: stored ${stored === sum ? 'ok' : 'CORRUPT'}, downloaded ${fetched === sum ? 'ok' : 'CORRUPT'}`);
        await Promise.all([rm(source), rm(target), rm(topo.storageFile(name))]);
      }
    };

    const load = Promise.all([...Array.from({ length: 10 }, (_, w) => looper(w)), ...(sftpSkip ? [] : Array.from({ length: 3 }, (_, w) => sftpLooper(w)))]);
    const drains: { replica: number; readyFailedAt: number; listenerClosedAt: number; signalledAt: number; exitedAt: number }[] = [];
    try {
      // Until every client is in its loop (a file written, curl connected): the first drain then
      // meets rate-limited sessions in the middle of their transfers, like the others.
      await sleep(5000);
      for (const replica of topo.replicas) {
        const listening = async (): Promise<boolean> => {
          const ss = await topo.net.exec(replica.host, 'ss', ['-Hltn', 'sport = :21'], { timeoutMs: 5000 });
          return ss.stdout.trim() !== '';
        };
        assert.equal((await replica.readyz()).status, 200);
        assert.ok(await listening());
        const signalledAt = Date.now();
        assert.ok(replica.signal('SIGTERM'));
        let readyFailedAt = 0;
        let listenerClosedAt = 0;
        // Poll readiness (from the balancer host) and the control listener (inside the replica).
        for (let i = 0; i < 400 && Date.now() - signalledAt < 15_000 && listenerClosedAt === 0; i++) {
          const [ready, open] = await Promise.all([replica.readyz(), listening()]);
          const now = Date.now();
          if (readyFailedAt === 0 && ready.status !== 200) {
            readyFailedAt = now;
            assert.equal(ready.status, 503, `readyz while draining: ${ready.status} ${ready.body}`);
            assert.match(ready.body, /not-draining/);
          }
          if (!open) listenerClosedAt = now;
          else await sleep(20);
        }
        await replica.waitExit(DRAIN_TIMEOUT_MS + 10_000);
        drains.push({ replica: replica.index, readyFailedAt, listenerClosedAt, signalledAt, exitedAt: Date.now() });
        assert.equal(replica.child?.exitCode, 0, 'a drained replica exits 0');
        await replica.start();
        await sleep(1000); // until HAProxy sees it ready again (rise 2 x 250 ms)
      }
    } finally {
      stop = true;
      await load;
    }

    for (const drain of drains) {
      assert.ok(drain.readyFailedAt > 0, `replica ${drain.replica}: /readyz never failed`);
      assert.ok(drain.listenerClosedAt > 0, `replica ${drain.replica}: listener never closed`);
      assert.ok(
        drain.readyFailedAt < drain.listenerClosedAt,
        `replica ${drain.replica}: /readyz must fail (${drain.readyFailedAt - drain.signalledAt} ms) before the listener closes (${drain.listenerClosedAt - drain.signalledAt} ms)`,
      );
      assert.ok(drain.listenerClosedAt - drain.readyFailedAt >= READINESS_DELAY_MS / 2, `replica ${drain.replica}: listeners stayed open about readinessDelayMs`);
    }
    // The drains had work to do: sessions that were in the middle of their STOR/RETR when
    // their replica's listeners closed, and finished there.
    let sftpServedWhileDraining = 0;
    const servedWhileDraining = drains.map((drain) => {
      const replica = topo.replicas[drain.replica] as Replica;
      const draining = eventsOf(replica, 'server.draining').find((r) => Date.parse(String(r.time)) >= drain.signalledAt - 1000);
      const listenersClosed = draining ? Date.parse(String(draining.time)) + READINESS_DELAY_MS : Number.POSITIVE_INFINITY;
      const ended = eventsOf(replica, 'transfer').filter((r) => {
        const at = Date.parse(String(r.time));
        return at > listenersClosed && at <= drain.exitedAt;
      });
      sftpServedWhileDraining += ended.filter((r) => String(r.path).startsWith('/sftp-loop-')).length;
      return ended.filter((r) => String(r.path).startsWith('/loop-')).length;
    });
    assert.ok(
      servedWhileDraining.reduce((a, b) => a + b, 0) >= 3,
      `too few transfers ended on a replica after its listeners closed (${servedWhileDraining.join(', ')}): the drain was not exercised`,
    );
    assert.deepEqual(failed, [], `no failed transfer (${failed.length} of ${sessions} sessions failed)`);
    assert.deepEqual(sftpFailed, [], `no failed SFTP session (${sftpFailed.length} of ${sftpSessions} failed)`);
    if (!sftpSkip) assert.ok(sftpSessions >= 6, `enough SFTP sessions during the restarts (${sftpSessions})`);
    assert.deepEqual(corrupted, [], 'no corrupted file');
    assert.ok(sessions >= 30, `enough work done during the restarts (${sessions} sessions)`);
    for (const replica of topo.replicas) {
      assert.ok(eventsOf(replica, 'server.draining').length >= 1, `replica ${replica.index} drained`);
      assert.equal(eventsOf(replica, 'session.drain-deadline').length, 0, `replica ${replica.index}: no transfer cut at the drain deadline`);
    }
    const forbidden = forbiddenEvents(topo);
    assert.deepEqual(forbidden, [], forbidden.join('\n'));
    t.diagnostic(`sessions: ${sessions}, transfers: ${transfers} (2 MiB each), failed: ${failed.length}, corrupted: ${corrupted.length}; SFTP sessions: ${sftpSessions}, failed: ${sftpFailed.length}`);
    t.diagnostic(`transfers that ended on a replica after its listeners closed, per drain: ${servedWhileDraining.join(', ')}; SFTP transfers in all drains: ${sftpServedWhileDraining}`);
    t.diagnostic(
      `drains (ms after SIGTERM, readyz fail / listener closed / exited): ${drains.map((d) => `r${d.replica} ${d.readyFailedAt - d.signalledAt}/${d.listenerClosedAt - d.signalledAt}/${d.exitedAt - d.signalledAt}`).join(', ')}`,
    );
  });

  it(
    'a long batch on one control connection of a draining replica: served while busy after the listeners close, 421 at a command boundary from half the drain time on, no transfer cut',
    async (t) => {
      if (!guard(t)) return;
      await topo.ensureAllReady();
      await sleep(1000);
      // 36 files of 512 KiB at 1 MiB/s: ~18 s, longer than readinessDelayMs + drainTimeoutMs / 2.
      const batch = Array.from({ length: 36 }, (_, k) => `drain-batch-${String(k).padStart(2, '0')}.bin`);
      const sums = await Promise.all(batch.map((name, k) => writeRandomFile(topo.clientFile(name), 512 * 1024 + k)));
      const rate = ['--limit-rate', '1M', '--tls-max', '1.2', '--fail-early'];
      const ups = batch.flatMap((name) => ['-T', topo.clientFile(name), ftpUrlAt(name)]);
      const running = curl([...rate, ...ups], 120_000);
      let victim: Replica | undefined;
      for (let i = 0; i < 200 && victim === undefined; i++) {
        victim = topo.replicas.find((replica) => eventsOf(replica, 'command').some((r) => r.verb === 'STOR' && r.arg === batch[0]));
        if (victim === undefined) await sleep(50);
      }
      assert.ok(victim, 'some replica received the first STOR');
      let first: RunResult;
      let listenersClosed = 0;
      let served: LogRecord[] = [];
      try {
        assert.ok(victim.signal('SIGTERM'));
        await victim.waitExit(DRAIN_TIMEOUT_MS + 10_000);
        first = await running;
        const draining = eventsOf(victim, 'server.draining').at(-1);
        assert.ok(draining);
        listenersClosed = Date.parse(String(draining.time)) + READINESS_DELAY_MS;
        served = eventsOf(victim, 'transfer').filter((r) => batch.includes(String(r.path).slice(1)));
        // The client resumes whatever is missing, through the balancer (bounded).
        let retry: RunResult | undefined;
        for (let attempt = 0; attempt < 6; attempt++) {
          retry = await curl([...rate, '-C', '-', ...ups], 120_000);
          if (retry.code === 0) break;
          await sleep(500);
        }
        assert.equal(retry?.code, 0, retry && tail(retry));
        for (const [k, name] of batch.entries()) assert.equal(await sha256File(topo.storageFile(name)), sums[k], name);
      } finally {
        if (!victim.running) await victim.start();
      }
      const startedAt = (r: LogRecord): number => Date.parse(String(r.time)) - Number(r.durationMs);
      const show = (r: LogRecord): string => `${String(r.path)} ${String(r.result)} started ${new Date(startedAt(r)).toISOString()} (${String(r.durationMs)} ms)`;
      // Served while busy: transfers kept starting after the listeners had closed.
      assert.ok(
        served.some((r) => startedAt(r) > listenersClosed + 1000),
        `no transfer started after the listeners closed: ${served.map(show).join(', ')}`,
      );
      // From half the drain time on, nothing new starts: 421 after the running transfer.
      const halfway = listenersClosed + DRAIN_TIMEOUT_MS / 2;
      assert.deepEqual(
        served.filter((r) => startedAt(r) > halfway + 200).map(show),
        [],
        'no transfer may start once half the drain time has passed',
      );
      // No transfer cut: every transfer of the draining replica ended well.
      assert.deepEqual(served.filter((r) => r.result !== 'ok').map(show), [], 'every transfer on the draining replica completed');
      assert.equal(eventsOf(victim, 'session.drain-deadline').length, 0, 'no session reached the drain deadline');
      assert.ok(served.length < batch.length, `the batch did not all finish on the draining replica (${served.length} of ${batch.length})`);
      assert.ok(replyCodes(first).includes(421), `the batch client was told 421: ${tail(first)}`);
      t.diagnostic(`served by the draining replica: ${served.length} of ${batch.length}; last started ${Math.round((Math.max(...served.map(startedAt)) - listenersClosed) / 100) / 10} s after the listeners closed`);
    },
  );

  it('a parked (idle) session on a draining replica gets 421 within drainIdleMs of the listeners closing', async (t) => {
    if (!guard(t)) return;
    await topo.ensureAllReady();
    await sleep(1000);
    if (PYTHON_FTPLIB_MISSING()) {
      t.skip(PYTHON_FTPLIB_MISSING() ?? '');
      return;
    }
    // Logs in over explicit FTPS, says so, then waits for whatever the server sends next.
    const program = [
      'import ftplib, json, ssl, sys, time',
      'ctx = ssl.create_default_context(cafile=sys.argv[1])',
      'ftp = ftplib.FTP_TLS(context=ctx, timeout=60)',
      'ftp.connect(sys.argv[2], 21)',
      'ftp.login(sys.argv[3], sys.argv[4])',
      'try:',
      '    line = ftp.getline()',
      'except Exception as e:',
      '    line = "error: " + repr(e)',
      'print(json.dumps({"line": line, "at": time.time()}), flush=True)',
    ].join('\n');
    const logins = topo.replicas.map((replica) => eventsOf(replica, 'login').length);
    const parked = topo.net.exec('client', 'python3', ['-c', program, topo.pki.caFile, ADDR.vip, USER.name, USER.password], { timeoutMs: 60_000 });
    let victim: Replica | undefined;
    for (let i = 0; i < 200 && victim === undefined; i++) {
      victim = topo.replicas.find((replica, index) => eventsOf(replica, 'login').length > (logins[index] as number));
      if (victim === undefined) await sleep(50);
    }
    assert.ok(victim, 'the parked session logged in');
    let signalledAt = 0;
    try {
      signalledAt = Date.now();
      assert.ok(victim.signal('SIGTERM'));
      await victim.waitExit(DRAIN_TIMEOUT_MS + 10_000);
      const result = await parked;
      assert.equal(result.code, 0, tail(result));
      const said = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as { line?: string; at?: number };
      assert.match(said.line ?? '', /^421 /, result.stdout);
      const elapsed = (said.at ?? 0) * 1000 - signalledAt;
      // The listeners close readinessDelayMs after SIGTERM; the session, idle since its login,
      // gets 421 within drainIdleMs of that (not at the drain deadline, 20 s later).
      assert.ok(elapsed >= READINESS_DELAY_MS - 100, `421 before the listeners closed (${elapsed} ms after SIGTERM)`);
      assert.ok(elapsed <= READINESS_DELAY_MS + DRAIN_IDLE_MS + 1000, `421 came ${elapsed} ms after SIGTERM, beyond readinessDelayMs + drainIdleMs`);
      t.diagnostic(`421 to the parked session ${elapsed} ms after SIGTERM`);
    } finally {
      if (!victim.running) await victim.start();
    }
  });

  it('logs, xferlog and metrics of every replica show the real client address, never the balancer', async (t) => {
    if (!guard(t)) return;
    await topo.ensureAllReady();
    await sleep(1000); // HAProxy: rise 2 x 250 ms after the last restart
    // A fresh round (metrics restart from zero with a replica): round robin gives every replica two.
    for (let i = 0; i < 6; i++) {
      const name = `addr-${i}.bin`;
      await writeRandomFile(topo.clientFile(name), 32 * 1024);
      const up = await curl(['-T', topo.clientFile(name), ftpUrlAt(name)]);
      assert.equal(up.code, 0, tail(up));
    }
    for (const replica of topo.replicas) {
      const logs = replica.logs();
      const opened = logs.filter((r) => r.event === 'session.open');
      assert.ok(opened.length > 0, `replica ${replica.index} had sessions`);
      for (const record of opened) {
        assert.equal(record.remote, ADDR.client, `replica ${replica.index}: ${JSON.stringify(record)}`);
        assert.equal(record.via, ADDR.lbInside);
      }
      const withRemote = logs.filter((r) => r.remote !== undefined);
      assert.deepEqual(withRemote.filter((r) => r.remote !== ADDR.client).map((r) => JSON.stringify(r)), [], 'no record names another client address');
      const transfers = logs.filter((r) => r.event === 'transfer');
      assert.ok(transfers.length > 0);
      for (const record of transfers) assert.equal(record.remote, ADDR.client);
      const xfer = replica.xferlogLines();
      assert.ok(xfer.length > 0, `replica ${replica.index} wrote xferlog lines`);
      for (const line of xfer) {
        // ctime takes 5 fields; then transfer-time, remote-host
        assert.equal(line.split(/\s+/)[6], ADDR.client, `xferlog: ${line}`);
      }
      const metrics = await replica.admin('/metrics');
      assert.equal(metrics.status, 200);
      assert.doesNotMatch(metrics.body, new RegExp(ADDR.lbInside.replace(/\./g, '\\.')), 'metrics never name the balancer');
      const proxyErrors = metrics.body.split('\n').filter((l) => l.startsWith('kftpd_proxy_protocol_errors_total{') && !l.endsWith(' 0'));
      assert.deepEqual(proxyErrors, [], `replica ${replica.index}: PROXY header errors`);
      assert.match(metrics.body, /^kftpd_logins_total\{protocol="ftp",result="ok"\} [1-9]/m);
    }
  });

  // kftpd doctor: these two run last. The broken balancer's PROXY-less control virtual server
  // makes the replicas log proxy.refused and count PROXY errors, which the tests above forbid.
  const doctor = async (target: string, extra: readonly string[] = []): Promise<{ result: RunResult; report: DoctorReport }> => {
    const result = await topo.net.exec(
      'client',
      process.execPath,
      [KFTPD_MAIN, 'doctor', '--external', target, '--ca', topo.pki.caFile, '--user', USER.name, '--password', USER.password, '--json', ...extra],
      { timeoutMs: 120_000 },
    );
    let report: DoctorReport;
    try {
      report = JSON.parse(result.stdout) as DoctorReport;
    } catch {
      throw new Error(`doctor printed no JSON report: ${tail(result)}`);
    }
    return { result, report };
  };
  const findingCodes = (report: DoctorReport, severity: 'ok' | 'warn' | 'fail'): string[] =>
    report.findings.filter((f) => f.severity === severity).map((f) => f.code);

  it('kftpd doctor through the healthy balancer: all OK, exit 0, every data port in the slice of the replica that answered', async (t) => {
    if (!guard(t)) return;
    await topo.ensureAllReady();
    await sleep(1000); // HAProxy: rise 2 x 250 ms after the last restart
    const { result, report } = await doctor(`${ADDR.vip}:21`);
    const details = JSON.stringify(report.findings, null, 1);
    assert.deepEqual(findingCodes(report, 'fail'), [], details);
    assert.deepEqual(findingCodes(report, 'warn'), [], details);
    assert.equal(result.code, 0, tail(result));
    for (const code of ['CONTROL_OK', 'TLS_OK', 'LOGIN_OK', 'REPLICA_OK', 'PASV_OK', 'EPSV_OK']) assert.ok(findingCodes(report, 'ok').includes(code), `${code}: ${details}`);
    assert.deepEqual(new Set(report.sessions.map((s) => s.replica?.index)), new Set([0, 1, 2]), 'round robin spread the three sessions over the replicas');
    assert.equal(report.probes.length, 6);
    for (const probe of report.probes) {
      assert.equal(probe.outcome, 'ok', JSON.stringify(probe));
      assert.equal(probe.tlsResumed, true, JSON.stringify(probe));
      assert.equal(replicaOfPort(probe.port as number), probe.replica, `port ${String(probe.port)} belongs to replica ${String(probe.replica)}: ${JSON.stringify(probe)}`);
    }
    const forbidden = forbiddenEvents(topo);
    assert.deepEqual(forbidden, [], forbidden.join('\n'));
  });

  it('kftpd doctor through a broken balancer: rotated passive slices give DATA_MISROUTED, a control virtual without PROXY gives PROXY_HEADER_MISSING', async (t) => {
    if (!guard(t)) return;
    await topo.ensureAllReady();
    const broken = new BrokenBalancer(topo.net, topo.dir);
    try {
      await broken.start();
      // Slices rotated: EPSV (the dialled VIP) reaches a replica where nothing listens on the
      // port; PASV still names the healthy VIP, which works but differs from the one dialled.
      // The certificate names the healthy VIP only: the doctor says so...
      const wrongName = await doctor(`${BROKEN_VIP}:21`, ['--sessions', '1']);
      assert.deepEqual(findingCodes(wrongName.report, 'fail'), ['TLS_CERT_UNTRUSTED'], JSON.stringify(wrongName.report.findings, null, 1));
      // ...and is told which name to expect for the rest.
      const misrouted = await doctor(`${BROKEN_VIP}:21`, ['--servername', ADDR.vip]);
      const details = JSON.stringify(misrouted.report.findings, null, 1);
      assert.equal(misrouted.result.code, 1, tail(misrouted.result));
      assert.ok(findingCodes(misrouted.report, 'fail').includes('DATA_MISROUTED'), details);
      assert.ok(findingCodes(misrouted.report, 'warn').includes('PASV_ADDRESS_MISMATCH'), details);
      const epsv = misrouted.report.probes.filter((p) => p.mode === 'EPSV');
      assert.ok(epsv.length > 0 && epsv.every((p) => p.outcome === 'dropped'), JSON.stringify(epsv));
      for (const probe of misrouted.report.probes) assert.equal(replicaOfPort(probe.port as number), probe.replica, 'the replicas still announce their own slices');

      const noProxy = await doctor(`${BROKEN_VIP}:${NO_PROXY_PORT}`, ['--sessions', '1', '--servername', ADDR.vip]);
      assert.equal(noProxy.result.code, 1, tail(noProxy.result));
      assert.deepEqual(findingCodes(noProxy.report, 'fail'), ['PROXY_HEADER_MISSING'], JSON.stringify(noProxy.report.findings, null, 1));
      assert.ok(
        topo.replicas.some((replica) => eventsOf(replica, 'proxy.refused').length > 0),
        'a replica logged proxy.refused for the header-less control connection',
      );
    } finally {
      await broken.stop();
    }
  });

  it('password guessing through the balancer, round robin over the three replicas, is banned at the threshold in total (shared through Redis); a lift on one replica frees all', async (t) => {
    if (!guard(t)) return;
    await topo.ensureAllReady();
    await sleep(1000); // HAProxy: rise 2 x 250 ms after the last restart
    // defender.threshold 20, loginFailed 2: the tenth failure in total bans the client.
    const wrong = (): Promise<RunResult> => curl(['-u', `${USER.name}:wrong-password`, '--max-time', '15', ftpUrlAt('')], 30_000);
    const firstReplies: number[][] = [];
    for (let attempt = 0; attempt < 15; attempt++) {
      const codes = replyCodes(await wrong());
      firstReplies.push(codes);
      if (codes.includes(421)) break;
    }
    const failures = firstReplies.filter((codes) => codes.includes(530)).length;
    assert.equal(failures, 9, `nine 530s, then the tenth failure is answered 421 by the ban: ${JSON.stringify(firstReplies)}`);
    assert.deepEqual(firstReplies.at(-1)?.slice(-1), [421]);
    const failedOn = topo.replicas.filter((replica) => replica.logs().some((r) => r.event === 'login' && r.result === 'failed' && r.remote === ADDR.client));
    assert.equal(failedOn.length, 3, 'the guesses were spread over every replica (each alone far below the threshold)');
    // Every replica has the ban (applied from the store's change feed) and refuses at connect.
    for (const replica of topo.replicas) {
      assert.ok(
        replica.logs().some((r) => r.event === 'defender.ban' && r.address === ADDR.client),
        `replica ${replica.index} applied the ban`,
      );
    }
    for (let i = 0; i < 3; i++) assert.equal(replyCodes(await wrong())[0], 421, 'refused at connect');
    const rejectedOn = topo.replicas.filter((replica) => replica.logs().some((r) => r.event === 'session.rejected' && r.reason === 'banned'));
    assert.ok(rejectedOn.length >= 2, `banned connections refused by ${rejectedOn.length} replicas`);
    // kftpd bans lift through one replica's admin listener frees the client on all three.
    const lift = await topo.net.exec(
      'lb',
      'curl',
      ['-sS', '--max-time', '5', '-X', 'DELETE', '-H', `Authorization: Bearer ${ADMIN_TOKEN}`, '-w', '\n%{http_code}', `http://${ADDR.replicas[1]}:${ADMIN_PORT}/bans/${ADDR.client}`],
      { timeoutMs: 10_000 },
    );
    assert.match(lift.stdout, /\n200$/, tail(lift));
    for (let i = 0; i < 3; i++) {
      const ok = await curl(['--max-time', '15', ftpUrlAt('')], 30_000);
      assert.equal(ok.code, 0, tail(ok));
    }
  });
});
