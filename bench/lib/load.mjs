/**
 * The load generator: the workloads, run from the driver's process (pinned to the client
 * core) against a started server. Each returns raw figures; the driver turns them into rows.
 *
 * A `target` is { port, user, password, ca, pid, name, clientOptions } (pid = the server's root
 * process, for CPU and memory; clientOptions = FtpClient settings a server needs).
 * Every connection comes from 127.0.0.1 without an explicit bind, so the kernel picks source
 * ports per destination (no exhaustion at 10,000 sessions), and no server is tempted into a
 * reverse DNS lookup of an address missing from /etc/hosts.
 */
import tls from 'node:tls';
import { FtpClient, sink, source, tcpConnect, withTimeout } from './ftp-client.mjs';
import { percentile } from './stats.mjs';
import { freePids, memAvailableKiB, treeCpuSeconds, treeMemoryKiB, treePids } from './proc.mjs';

const HOST = '127.0.0.1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

/** Size of warm.bin, the warm-up transfer before each measured one. */
export const WARM_BYTES = 16 << 20;
/** The small-file warm-up's bound per phase. */
const WARM_SMALL_MS = 2_000;

export const CHUNK = (() => {
  const b = Buffer.alloc(256 * 1024);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 11) & 0xff;
  return b;
})();


async function session(target, { secure = false, localAddress, timeoutMs = 60_000 } = {}) {
  const client = await FtpClient.connect({ host: HOST, port: target.port, localAddress, timeoutMs });
  Object.assign(client, target.clientOptions);
  try {
    if (secure) await client.startTls(target.ca);
    await client.login(target.user, target.password);
    await client.cmd('TYPE I', '2');
    return client;
  } catch (error) {
    client.destroy();
    throw error;
  }
}

/** Waits until the server's process tree has no more than `count` processes (bounded). */
export async function settleProcesses(pid, count, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && treePids(pid).length > count) await sleep(100);
}

/**
 * Metric 1/5: one RETR or STOR of `bytes` over one session, plain or FTPS.
 * Timed from the transfer command to the final reply; CPU is the server tree's over that span.
 */
export async function streamTransfer(target, { direction, bytes, secure, remotePath }) {
  const client = await session(target, { secure, timeoutMs: 120_000 });
  try {
    // Warm-up: a short transfer of the same kind (JIT, page cache, TLS resumption path).
    if (direction === 'RETR') await client.download('RETR warm.bin');
    else await client.upload(`STOR ${remotePath}`, WARM_BYTES, CHUNK);
    const cpu0 = treeCpuSeconds(target.pid).seconds;
    const t0 = now();
    const result =
      direction === 'RETR' ? await client.download('RETR big.bin') : await client.upload(`STOR ${remotePath}`, bytes, CHUNK);
    const seconds = (now() - t0) / 1000;
    const cpu = treeCpuSeconds(target.pid).seconds - cpu0;
    if (result.bytes !== bytes) throw new Error(`${direction}: ${result.bytes} bytes instead of ${bytes}`);
    await client.quit().catch(() => {});
    return { seconds, bytes, cpu, resumed: secure ? result.resumed : null, tls: client.tlsInfo ?? null };
  } finally {
    client.destroy();
  }
}

/**
 * Does the server refuse a PROT P data connection that does not resume the control
 * connection's TLS session? Returns 'enforced' (refused) or 'not enforced' (served).
 */
export async function reuseProbe(target) {
  const client = await session(target, { secure: true, timeoutMs: 15_000 });
  client.resumeData = false;
  try {
    await client.download('RETR s64k.bin');
    return 'not enforced';
  } catch {
    return 'enforced';
  } finally {
    client.destroy();
  }
}

/**
 * The same measurement against the Node ceiling server (its own one-line protocol, one
 * transfer per connection), after the same warm-up transfer on a connection of its own.
 */
export async function ceilingTransfer(target, { direction, bytes, secure, remotePath }) {
  const warmPath = direction === 'RETR' ? 'warm.bin' : remotePath;
  await oneCeilingTransfer(target, { direction, bytes: WARM_BYTES, secure, remotePath: warmPath });
  return oneCeilingTransfer(target, { direction, bytes, secure, remotePath: direction === 'RETR' ? 'big.bin' : remotePath });
}

async function oneCeilingTransfer(target, { direction, bytes, secure, remotePath }) {
  const raw = await tcpConnect({ host: HOST, port: secure ? target.tlsPort : target.port });
  const socket = secure ? tls.connect({ socket: raw, ca: target.ca, servername: 'localhost', minVersion: 'TLSv1.3' }) : raw;
  if (secure) await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  try {
    const line = await readLine(socket); // greeting
    if (!line.startsWith('220')) throw new Error(`ceiling greeting: ${line}`);
    const cpu0 = treeCpuSeconds(target.pid).seconds;
    const t0 = now();
    socket.write(`${direction} ${bytes} ${remotePath}\n`);
    let got = bytes;
    if (direction === 'RETR') got = await sink(socket, 600_000);
    else {
      const ack = readLine(socket);
      await source(socket, bytes, CHUNK, 600_000).catch(() => {});
      const reply = await ack;
      if (!reply.startsWith('226')) throw new Error(`ceiling STOR: ${reply}`);
    }
    const seconds = (now() - t0) / 1000;
    const cpu = treeCpuSeconds(target.pid).seconds - cpu0;
    if (got !== bytes) throw new Error(`ceiling ${direction}: ${got} bytes instead of ${bytes}`);
    return { seconds, bytes, cpu, resumed: null };
  } finally {
    socket.destroy();
  }
}

function readLine(socket) {
  return withTimeout(
    new Promise((resolve, reject) => {
      let text = '';
      const onData = (d) => {
        text += d.toString('latin1');
        const nl = text.indexOf('\n');
        if (nl >= 0) {
          socket.removeListener('data', onData);
          resolve(text.slice(0, nl).trim());
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
    }),
    30_000,
    'ceiling line',
  );
}

/**
 * Metric 2: one session stores `count` files of `size` bytes, then retrieves them. Each phase
 * stops at `phaseDeadlineMs` (a slow server is measured on the files done by then).
 * Like the streams' warm-up transfer, the session first stores and retrieves a tenth as many
 * other files, unmeasured (at most WARM_SMALL_MS per phase): a server that has been running
 * is measured, not its first minute (a JIT-compiled server compiles its per-file path then;
 * for the C servers it only fills caches).
 */
export async function smallFiles(target, { count, size, dir, phaseDeadlineMs }) {
  const client = await session(target, { timeoutMs: 30_000 });
  const chunk = CHUNK.subarray(0, size);
  const name = (i) => `${dir}/small/f${String(i).padStart(5, '0')}.bin`;
  try {
    const warm = (i) => `${dir}/small/w${String(i).padStart(5, '0')}.bin`;
    let warmed = 0;
    for (const t = now(); warmed < count / 10 && now() - t < WARM_SMALL_MS; warmed++) await client.upload(`STOR ${warm(warmed)}`, size, chunk);
    for (let i = 0, t = now(); i < warmed && now() - t < WARM_SMALL_MS; i++) await client.download(`RETR ${warm(i)}`);
    const cpu0 = treeCpuSeconds(target.pid).seconds;
    let t0 = now();
    let stored = 0;
    while (stored < count && now() - t0 < phaseDeadlineMs) await client.upload(`STOR ${name(stored++)}`, size, chunk);
    const storeSeconds = (now() - t0) / 1000;
    t0 = now();
    let retrieved = 0;
    while (retrieved < stored && now() - t0 < phaseDeadlineMs) {
      const { bytes } = await client.download(`RETR ${name(retrieved)}`);
      if (bytes !== size) throw new Error(`RETR ${name(retrieved)}: ${bytes} bytes instead of ${size}`);
      retrieved++;
    }
    const retrSeconds = (now() - t0) / 1000;
    const cpu = treeCpuSeconds(target.pid).seconds - cpu0;
    await client.quit().catch(() => {});
    return { count, stored, retrieved, storeSeconds, retrSeconds, cpu };
  } finally {
    client.destroy();
  }
}

/** A short session waiting this long for any reply has failed. */
const SESSION_TIMEOUT_MS = 15_000;

/**
 * Metric 3: `clients` concurrent clients, each running `perClient` short sessions one after
 * another: connect, login, TYPE I, PASV+LIST, PASV+RETR of the 64 KiB file, QUIT.
 * Bounded by `deadlineMs`: sessions not started by then are not run (reported as skipped).
 */
export async function shortSessions(target, { clients, perClient, deadlineMs, rampMs = 1000, fileBytes = 65536 }) {
  return sessionLoad(target, { clients, perClient, deadlineMs, rampMs }, async () => {
    const client = await FtpClient.connect({ host: HOST, port: target.port, timeoutMs: SESSION_TIMEOUT_MS });
    try {
      await client.login(target.user, target.password);
      await client.cmd('TYPE I', '2');
      await client.download('LIST');
      const { bytes } = await client.download('RETR s64k.bin');
      if (bytes !== fileBytes) throw new Error(`RETR: ${bytes} bytes`);
      await client.quit();
    } finally {
      client.destroy();
    }
  });
}

/**
 * The short-session driver the FTP and SFTP metrics share: `clients` concurrent clients, each
 * running `perClient` sessions (`one()`) one after another, started spread over `rampMs`.
 * Bounded by `deadlineMs`: sessions not started by then are not run (reported as skipped).
 * Server CPU is the server tree's; client CPU this process's.
 */
export async function sessionLoad(target, { clients, perClient, deadlineMs, rampMs = 1000 }, one) {
  const latencies = [];
  const errors = new Map();
  let failures = 0;
  let skipped = 0;
  const baseProcs = treePids(target.pid).length;
  const cpu0 = treeCpuSeconds(target.pid).seconds;
  const u0 = process.cpuUsage();
  const t0 = now();
  const deadline = Date.now() + deadlineMs;
  // Clients start spread over `rampMs`, as arrivals would be: a burst of simultaneous SYNs
  // would measure each server's listen backlog (vsftpd's is 32) rather than its throughput.
  const worker = async (w) => {
    await sleep((w * rampMs) / clients);
    for (let i = 0; i < perClient; i++) {
      if (Date.now() > deadline) {
        skipped += perClient - i;
        return;
      }
      const s0 = now();
      try {
        await one();
        latencies.push(now() - s0);
      } catch (error) {
        failures++;
        const key = String(error.message).replace(/\d+/g, 'N').slice(0, 80);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  const seconds = (now() - t0) / 1000;
  const u = process.cpuUsage(u0);
  await settleProcesses(target.pid, baseProcs);
  const cpu = treeCpuSeconds(target.pid).seconds - cpu0;
  return {
    sessions: latencies.length,
    failures,
    skipped,
    seconds,
    rate: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpu,
    clientCpu: (u.user + u.system) / 1e6,
    errors: Object.fromEntries(errors),
  };
}

/**
 * Metric 4: open `count` logged-in sessions (at most `parallel` logins in flight: 32, vsftpd's
 * listen backlog, so no server sees more pending connections than it can queue) and hold
 * them; memory per session is the server tree's PSS growth divided by the sessions held.
 * A NOOP on every session afterwards checks they are all still alive.
 * Stops opening early (and says why) when memory or PIDs run low or the deadline passes.
 */
export async function idleSessions(target, { count, parallel = 32, deadlineMs }) {
  const clients = [];
  const errors = new Map();
  let stoppedEarly = null;
  const note = (error) => {
    const key = String(error.message).replace(/\d+/g, 'N').slice(0, 80);
    errors.set(key, (errors.get(key) ?? 0) + 1);
  };
  // Baseline after a few logins, so lazily initialised server state is not charged to sessions.
  for (let i = 0; i < 5; i++) {
    const c = await session(target).catch(() => null);
    await c?.quit().catch(() => {});
  }
  await settleProcesses(target.pid, 1, 3000);
  await sleep(500);
  const before = treeMemoryKiB(target.pid);
  const deadline = Date.now() + deadlineMs;
  let next = 0;
  let failed = 0;
  const opener = async () => {
    while (next < count && !stoppedEarly) {
      if (Date.now() > deadline) stoppedEarly = `deadline after ${clients.length} sessions`;
      else if (memAvailableKiB() < 2 * 1024 * 1024) stoppedEarly = `memory below 2 GiB after ${clients.length} sessions`;
      else if (freePids() < 1500) stoppedEarly = `fewer than 1500 free PIDs after ${clients.length} sessions`;
      if (stoppedEarly) return;
      const i = next++;
      try {
        const client = await session(target, { timeoutMs: 60_000 });
        client.socket.on('error', () => {});
        clients.push(client);
      } catch (error) {
        failed++;
        note(error);
      }
    }
  };
  const t0 = now();
  await Promise.all(Array.from({ length: parallel }, opener));
  const openSeconds = (now() - t0) / 1000;
  await sleep(1000);
  const after = treeMemoryKiB(target.pid);
  // Are they all still there?
  let held = 0;
  let k = 0;
  const checker = async () => {
    while (k < clients.length) {
      const client = clients[k++];
      try {
        await client.cmd('NOOP', '2');
        held++;
      } catch (error) {
        note(error);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, checker));
  for (const client of clients) client.destroy();
  const opened = clients.length;
  return {
    requested: count,
    opened,
    held,
    failed,
    openSeconds,
    kibPerSession: opened > 0 ? (after.pss - before.pss) / opened : null,
    rssKibPerSession: opened > 0 ? (after.rss - before.rss) / opened : null,
    processes: after.processes,
    stoppedEarly,
    errors: Object.fromEntries(errors),
  };
}
