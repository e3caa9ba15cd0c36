#!/usr/bin/env node
/**
 * kftpd side-by-side benchmark driver.
 *
 *   node bench/run.mjs [--quick] [--only=stream,ftps,small,sessions,idle,sftp]
 *                      [--servers=kftpd,kftpd-hash,kftpd+redis,vsftpd,pure-ftpd,proftpd,pyftpdlib,ftp-srv,ceiling,openssh]
 *                      [--rounds=N] [--json out.json] [--build] [--keep]
 *
 * Starts each server on loopback, one after another (server pinned to core 0, this process,
 * the load generator, to core 1), round-robin across rounds, and prints one Markdown table
 * (medians over rounds) plus JSON. A full run (no --quick, --only, --servers or --rounds) also
 * writes bench/results/latest.json and latest.md.
 * See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BenchEnv, BENCH_DIR, PASSWORD, REPO_DIR, USER } from './lib/env.mjs';
import { ceilingTransfer, idleSessions, reuseProbe, shortSessions, smallFiles, streamTransfer } from './lib/load.mjs';
import { calibratedLogN } from './lib/hash-cost.mjs';
import { sftpSessions, sftpStream } from './lib/sftp-load.mjs';
import { coreBusy, coreTimes, loadAverage, machineInfo, openFileLimit, treeCpuSeconds } from './lib/proc.mjs';
import { markdownTable, median } from './lib/stats.mjs';
import ceiling from './servers/ceiling.mjs';
import ftpSrv from './servers/ftp-srv.mjs';
import kftpd from './servers/kftpd.mjs';
import kftpdHash from './servers/kftpd-hash.mjs';
import kftpdRedis from './servers/kftpd-redis.mjs';
import openssh from './servers/openssh.mjs';
import proftpd from './servers/proftpd.mjs';
import pureFtpd from './servers/pure-ftpd.mjs';
import pyftpdlib from './servers/pyftpdlib.mjs';
import vsftpd from './servers/vsftpd.mjs';

const ADAPTERS = [kftpd, kftpdHash, kftpdRedis, vsftpd, pureFtpd, proftpd, pyftpdlib, ftpSrv, ceiling, openssh];
const METRICS = ['stream', 'ftps', 'small', 'sessions', 'idle', 'sftp'];
/** The ciphers of the SFTP stream rows: OpenSSH's default first choice, and AES-GCM (AES-NI). */
const SFTP_CIPHERS = [
  ['chacha', 'chacha20-poly1305@openssh.com'],
  ['gcm', 'aes128-gcm@openssh.com'],
];
const GiB = 2 ** 30;
const MiB = 2 ** 20;

const PROFILES = {
  quick: {
    rounds: 1, bigBytes: 256 * MiB, smallCount: 500, smallDeadlineMs: 5_000, concurrency: [100], sessionsDeadlineMs: 30_000,
    idle: [2000], idleRounds: 1, idleDeadlineMs: 45_000, sftpClients: 100, sftpPerClient: 5,
  },
  full: {
    rounds: 3, bigBytes: GiB, smallCount: 2000, smallDeadlineMs: 15_000, concurrency: [100, 500], sessionsDeadlineMs: 30_000,
    idle: [2000, 10000], idleRounds: 1, idleDeadlineMs: 80_000, sftpClients: 100, sftpPerClient: 10,
  },
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stderr.write(`${line}\n`);

function usage(message) {
  if (message) log(`run.mjs: ${message}`);
  log('usage: node bench/run.mjs [--quick] [--only=' + METRICS.join(',') + '] [--servers=' + ADAPTERS.map((a) => a.name).join(',') + ']');
  log('                          [--rounds=N] [--json out.json] [--build] [--keep]');
  process.exit(message ? 2 : 0);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        quick: { type: 'boolean' },
        only: { type: 'string' },
        servers: { type: 'string' },
        rounds: { type: 'string' },
        json: { type: 'string' },
        build: { type: 'boolean' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    usage(error.message);
  }
  if (parsed.help) usage();
  const list = (value, all, what) => {
    if (!value) return all;
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    for (const item of items) if (!all.includes(item)) usage(`unknown ${what} "${item}" (one of ${all.join(', ')})`);
    return all.filter((x) => items.includes(x));
  };
  const profile = { ...(parsed.quick ? PROFILES.quick : PROFILES.full) };
  if (parsed.rounds !== undefined) {
    profile.rounds = Number(parsed.rounds);
    if (!Number.isInteger(profile.rounds) || profile.rounds < 1 || profile.rounds > 9) usage('--rounds must be 1..9');
  }
  return {
    quick: Boolean(parsed.quick),
    metrics: list(parsed.only, METRICS, 'metric'),
    servers: list(parsed.servers, ADAPTERS.map((a) => a.name), 'server'),
    partial: Boolean(parsed.only || parsed.servers || parsed.rounds),
    json: parsed.json,
    build: Boolean(parsed.build),
    keep: Boolean(parsed.keep),
    profile,
  };
}

/** Pins this process (the load generator) to core 1 and raises its open-file limit. */
function prepareClientProcess(env) {
  const notes = [];
  if (env.pinServer) {
    const r = spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
    notes.push(r.status === 0 ? 'server on CPU 0, load generator on CPU 1 (taskset)' : 'taskset failed: no pinning');
    if (r.status !== 0) env.pinServer = false;
  } else notes.push('no pinning (taskset missing or fewer than 2 cores)');
  const { soft, hard } = openFileLimit();
  if (soft < hard) spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`], { stdio: 'ignore' });
  notes.push(`open files limit ${openFileLimit().soft} (servers inherit it)`);
  return notes;
}

function ensureBuild(force) {
  const main = path.join(REPO_DIR, 'dist', 'src', 'cli', 'main.js');
  if (existsSync(main) && !force) return;
  log('building kftpd (npm run build)…');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) log('npm run build failed; kftpd will be skipped if dist/ is missing');
}

// ---------------------------------------------------------------------------------------------
// Rows of the table: key, label, unit, which way is better, and the ratio's base.

function rowDefinitions(opts) {
  const { profile, metrics } = opts;
  const size = profile.bigBytes >= GiB ? `${profile.bigBytes / GiB} GiB` : `${profile.bigBytes / MiB} MiB`;
  const rows = [];
  if (metrics.includes('stream')) {
    rows.push({ section: `1. single stream, ${size}, plain` });
    for (const dir of ['RETR', 'STOR']) {
      rows.push({ key: `stream.${dir}.mbps`, label: `${dir} MB/s`, better: 'higher', base: 'ceiling' });
      rows.push({ key: `stream.${dir}.cpu`, label: `${dir} server CPU s/GiB`, better: 'lower', base: 'ceiling' });
    }
  }
  if (metrics.includes('ftps')) {
    rows.push({ section: `1+5. single stream, ${size}, explicit FTPS (TLS 1.3, PROT P, data session resumed)` });
    for (const dir of ['RETR', 'STOR']) {
      rows.push({ key: `ftps.${dir}.mbps`, label: `${dir} MB/s`, better: 'higher', base: 'ceiling' });
      rows.push({ key: `ftps.${dir}.cpu`, label: `${dir} server CPU s/GiB`, better: 'lower', base: 'ceiling' });
    }
    rows.push({ key: 'ftps.resumed', label: 'data TLS resumed', better: null, base: null });
    rows.push({ key: 'ftps.enforced', label: 'non-resumed data TLS', better: null, base: null });
  }
  if (metrics.includes('small')) {
    rows.push({ section: `2. one session, ${profile.smallCount} files of 4 KiB` });
    rows.push({ key: 'small.stor.fps', label: 'STOR files/s', better: 'higher', base: 'best-ref' });
    rows.push({ key: 'small.retr.fps', label: 'RETR files/s', better: 'higher', base: 'best-ref' });
    rows.push({ key: 'small.cpu', label: 'server CPU ms/file', better: 'lower', base: 'best-ref' });
    rows.push({ key: 'small.done', label: `files done in ${profile.smallDeadlineMs / 1000} s per phase`, better: null, base: null });
  }
  if (metrics.includes('sessions')) {
    for (const c of profile.concurrency) {
      rows.push({ section: `3. ${c} concurrent clients × 10 short sessions (login, LIST, RETR 64 KiB, QUIT)` });
      rows.push({ key: `sessions.c${c}.rate`, label: 'sessions/s', better: 'higher', base: 'best-ref' });
      rows.push({ key: `sessions.c${c}.p50`, label: 'p50 latency ms', better: 'lower', base: 'best-ref' });
      rows.push({ key: `sessions.c${c}.p99`, label: 'p99 latency ms', better: 'lower', base: 'best-ref' });
      rows.push({ key: `sessions.c${c}.fail`, label: 'failed sessions', better: 'lower', base: null, integer: true });
      rows.push({ key: `sessions.c${c}.done`, label: 'sessions completed in time', better: null, base: null });
      rows.push({ key: `sessions.c${c}.cpu`, label: 'server CPU ms/session', better: 'lower', base: 'best-ref' });
    }
  }
  if (metrics.includes('sftp')) {
    for (const [key, cipher] of SFTP_CIPHERS) {
      rows.push({ section: `6. SFTP single stream, ${size}, OpenSSH sftp client, ${cipher}` });
      for (const dir of ['get', 'put']) {
        rows.push({ key: `sftp.${key}.${dir}.mbps`, label: `${dir} MB/s`, better: 'higher', base: 'best-ref' });
        rows.push({ key: `sftp.${key}.${dir}.cpu`, label: `${dir} server CPU s/GiB`, better: 'lower', base: 'best-ref' });
      }
    }
    rows.push({ section: `7. SFTP: ${profile.sftpClients} concurrent clients × ${profile.sftpPerClient} short sessions (ssh2 client: key login, SFTP, read 64 KiB, close)` });
    rows.push({ key: 'sftp.sessions.rate', label: 'sessions/s', better: 'higher', base: 'best-ref' });
    rows.push({ key: 'sftp.sessions.p50', label: 'p50 latency ms', better: 'lower', base: 'best-ref' });
    rows.push({ key: 'sftp.sessions.p99', label: 'p99 latency ms', better: 'lower', base: 'best-ref' });
    rows.push({ key: 'sftp.sessions.fail', label: 'failed sessions', better: 'lower', base: null, integer: true });
    rows.push({ key: 'sftp.sessions.cpu', label: 'server CPU ms/session', better: 'lower', base: 'best-ref' });
    rows.push({ key: 'sftp.sessions.per-cpu', label: 'sessions per server CPU s', better: 'higher', base: 'best-ref' });
  }
  if (metrics.includes('idle')) {
    for (const n of profile.idle) {
      rows.push({ section: `4. ${n.toLocaleString('en-US')} idle logged-in sessions (${profile.idleRounds === 1 ? 'one round' : `${profile.idleRounds} rounds`})` });
      rows.push({ key: `idle.n${n}.kib`, label: 'memory KiB/session (PSS)', better: 'lower', base: 'best-ref' });
      rows.push({ key: `idle.n${n}.held`, label: 'sessions held', better: null, base: null });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Results: per metric key and server, one value per round (+ details for the JSON).

class Results {
  constructor() {
    this.values = new Map(); // key -> server -> [values]
    this.details = {}; // server -> key -> [detail per round]
    this.errors = {}; // server -> [messages]
  }

  add(server, key, value, detail) {
    if (!this.values.has(key)) this.values.set(key, new Map());
    const m = this.values.get(key);
    if (!m.has(server)) m.set(server, []);
    m.get(server).push(value);
    if (detail !== undefined) ((this.details[server] ??= {})[key] ??= []).push(detail);
  }

  error(server, what, error) {
    const message = `${what}: ${error?.message ?? error}`;
    (this.errors[server] ??= []).push(message);
    log(`  ! ${server} ${message}`);
  }

  /** Median over rounds of numbers; for strings, the most frequent. */
  summary(key, server) {
    const v = this.values.get(key)?.get(server);
    if (!v || v.length === 0) return null;
    if (v.every((x) => typeof x === 'number' || x === null)) return median(v);
    const counts = new Map();
    for (const x of v) counts.set(x, (counts.get(x) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
  }

  rounds(key, server) {
    return this.values.get(key)?.get(server) ?? [];
  }
}

/** CPU accounting of the measured windows: how busy each core was, and by whom. */
class LoadMeter {
  constructor() {
    this.seconds = 0;
    this.busy = [0, 0];
    this.server = 0;
    this.client = 0;
  }

  async measure(serverPid, fn) {
    const t0 = performance.now();
    const c0 = coreTimes();
    const s0 = treeCpuSeconds(serverPid).seconds;
    const u0 = process.cpuUsage();
    try {
      return await fn();
    } finally {
      const seconds = (performance.now() - t0) / 1000;
      const busy = coreBusy(c0, coreTimes());
      const u = process.cpuUsage(u0);
      this.seconds += seconds;
      busy.forEach((b, i) => (this.busy[i] = (this.busy[i] ?? 0) + b * seconds));
      this.server += treeCpuSeconds(serverPid).seconds - s0;
      this.client += (u.user + u.system) / 1e6;
    }
  }

  summary() {
    const pct = (x) => Math.round((x / Math.max(this.seconds, 1e-9)) * 1000) / 10;
    return {
      measuredSeconds: Math.round(this.seconds),
      coreBusyPercent: this.busy.map(pct),
      serverCpuPercent: pct(this.server),
      clientCpuPercent: pct(this.client),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Running one server through the selected metrics.

async function runServer(adapter, ports, env, opts, results, meter, round) {
  const name = adapter.name;
  const { profile, metrics } = opts;
  const isCeiling = adapter.role === 'ceiling';
  const target = (instance) => ({
    ...instance,
    port: ports.port,
    user: USER,
    password: PASSWORD,
    ca: env.ca,
    name,
    clientOptions: adapter.clientOptions ?? {},
    sftpPort: ports.sftpPort,
    keys: env.sshKeys(),
  });
  // An adapter may run only some metrics (kftpd+redis: the short sessions; openssh: SFTP);
  // the SFTP rows run on the servers that speak it.
  const runs = (m) => (m === 'sftp' ? Boolean(adapter.sftp) : !adapter.metrics || adapter.metrics.includes(m));
  const first = metrics.filter((m) => m !== 'idle' && runs(m) && (!isCeiling || m !== 'sftp'));
  const say = (line) => log(`  ${name.padEnd(10)} ${line}`);

  if (first.length > 0) {
    let instance;
    try {
      instance = await adapter.start(env, ports);
    } catch (error) {
      results.error(name, 'start', error);
    }
    if (instance) {
      const t = target(instance);
      // The ceiling answers the FTP loads (small files, short sessions) on a port of their own.
      const ftp = isCeiling ? { ...t, port: instance.ftpPort } : t;
      const dir = env.uploadDir(name);
      try {
        for (const metric of first) {
          if (metric === 'stream' || metric === 'ftps') {
            const secure = metric === 'ftps';
            for (const direction of ['RETR', 'STOR']) {
              try {
                const run = isCeiling ? ceilingTransfer : streamTransfer;
                const r = await meter.measure(instance.pid, () =>
                  run(t, { direction, bytes: env.bigBytes, secure, remotePath: `${dir}/big.bin` }),
                );
                const mbps = r.bytes / r.seconds / 1e6;
                const cpu = r.cpu / (r.bytes / GiB);
                results.add(name, `${metric}.${direction}.mbps`, mbps, { seconds: r.seconds, cpu: r.cpu, tls: r.tls });
                results.add(name, `${metric}.${direction}.cpu`, cpu);
                if (secure && !isCeiling) results.add(name, 'ftps.resumed', r.resumed ? 'yes' : 'no');
                say(`${metric} ${direction}: ${mbps.toFixed(0)} MB/s, CPU ${cpu.toFixed(2)} s/GiB${secure && !isCeiling ? `, resumed ${r.resumed}` : ''}`);
              } catch (error) {
                results.error(name, `${metric} ${direction}`, error);
              } finally {
                spawnSync('rm', ['-f', path.join(env.srvDir, dir, 'big.bin')]);
              }
            }
            if (secure && !isCeiling && round === 0) {
              try {
                const enforced = await reuseProbe(t);
                results.add(name, 'ftps.enforced', enforced === 'enforced' ? 'refused' : 'accepted');
                say(`ftps data TLS without resumption: ${enforced}`);
              } catch (error) {
                results.error(name, 'ftps reuse probe', error);
              }
            }
          } else if (metric === 'small') {
            try {
              const r = await meter.measure(instance.pid, () =>
                smallFiles(ftp, { count: profile.smallCount, size: 4096, dir, phaseDeadlineMs: profile.smallDeadlineMs }),
              );
              const files = r.stored + r.retrieved;
              results.add(name, 'small.stor.fps', r.stored / r.storeSeconds, r);
              results.add(name, 'small.retr.fps', r.retrieved / r.retrSeconds);
              results.add(name, 'small.cpu', (r.cpu * 1000) / files);
              results.add(name, 'small.done', r.stored === r.count && r.retrieved === r.count ? 'all' : `${r.stored}+${r.retrieved}`);
              say(`small: STOR ${(r.stored / r.storeSeconds).toFixed(0)}/s, RETR ${(r.retrieved / r.retrSeconds).toFixed(0)}/s, CPU ${((r.cpu * 1000) / files).toFixed(2)} ms/file${r.stored < r.count || r.retrieved < r.count ? ` (deadline: ${r.stored} stored, ${r.retrieved} retrieved)` : ''}`);
            } catch (error) {
              results.error(name, 'small files', error);
            }
          } else if (metric === 'sessions') {
            for (const c of profile.concurrency) {
              try {
                const r = await meter.measure(instance.pid, () =>
                  shortSessions(ftp, { clients: c, perClient: 10, deadlineMs: profile.sessionsDeadlineMs }),
                );
                const k = `sessions.c${c}`;
                results.add(name, `${k}.rate`, r.rate, { seconds: r.seconds, sessions: r.sessions, errors: r.errors });
                results.add(name, `${k}.p50`, r.p50);
                results.add(name, `${k}.p99`, r.p99);
                results.add(name, `${k}.fail`, r.failures);
                results.add(name, `${k}.done`, `${r.sessions}/${c * 10}`);
                results.add(name, `${k}.cpu`, r.sessions > 0 ? (r.cpu * 1000) / r.sessions : null);
                say(`sessions C=${c}: ${r.rate.toFixed(0)}/s, p50 ${r.p50?.toFixed(1)} ms, p99 ${r.p99?.toFixed(1)} ms, ${r.failures} failed${r.skipped ? `, ${r.skipped} not run (deadline)` : ''}${r.failures ? ` ${JSON.stringify(r.errors)}` : ''}`);
              } catch (error) {
                results.error(name, `sessions C=${c}`, error);
              }
              await sleep(1000); // let TIME_WAIT and exiting session processes settle
            }
          } else if (metric === 'sftp') {
            await runSftp(t, env, profile, dir, results, meter, say);
          }
        }
      } finally {
        await instance.stop();
        spawnSync('rm', ['-rf', path.join(env.srvDir, dir)]);
      }
    }
  }

  if (metrics.includes('idle') && runs('idle') && !isCeiling && round < profile.idleRounds) {
    for (const n of profile.idle) {
      let instance;
      try {
        instance = await adapter.start(env, ports);
      } catch (error) {
        results.error(name, `start (idle ${n})`, error);
        continue;
      }
      try {
        const r = await meter.measure(instance.pid, () => idleSessions(target(instance), { count: n, deadlineMs: profile.idleDeadlineMs }));
        results.add(name, `idle.n${n}.kib`, r.opened > 0 ? r.kibPerSession : null, r);
        results.add(name, `idle.n${n}.held`, `${r.held}/${n}${r.stoppedEarly ? '*' : ''}`);
        say(`idle ${n}: held ${r.held}/${n}, ${r.kibPerSession?.toFixed(1)} KiB/session PSS (${r.rssKibPerSession?.toFixed(1)} RSS), ${r.processes} processes, opened in ${r.openSeconds.toFixed(1)} s${r.stoppedEarly ? `, stopped: ${r.stoppedEarly}` : ''}${r.failed ? ` ${JSON.stringify(r.errors)}` : ''}`);
      } catch (error) {
        results.error(name, `idle ${n}`, error);
      } finally {
        await instance.stop();
      }
      await sleep(1000);
    }
  }
}

/** The SFTP rows of one server: streams (both ciphers, both directions), then the short sessions. */
async function runSftp(t, env, profile, dir, results, meter, say) {
  const name = t.name;
  const localDir = path.join(env.workDir, 'sftp-client');
  mkdirSync(localDir, { recursive: true });
  for (const [key, cipher] of SFTP_CIPHERS) {
    for (const direction of ['get', 'put']) {
      try {
        const r = await meter.measure(t.pid, () =>
          sftpStream(t, { direction, bytes: env.bigBytes, cipher, remotePath: `${dir}/big.bin`, localDir, srvDir: env.srvDir }),
        );
        const mbps = r.bytes / r.seconds / 1e6;
        const cpu = r.cpu / (r.bytes / GiB);
        results.add(name, `sftp.${key}.${direction}.mbps`, mbps, { seconds: r.seconds, cpu: r.cpu, cipher });
        results.add(name, `sftp.${key}.${direction}.cpu`, cpu);
        say(`sftp ${key} ${direction}: ${mbps.toFixed(0)} MB/s, CPU ${cpu.toFixed(2)} s/GiB`);
      } catch (error) {
        results.error(name, `sftp ${key} ${direction}`, error);
      } finally {
        spawnSync('rm', ['-f', path.join(env.srvDir, dir, 'big.bin')]);
      }
    }
  }
  try {
    const r = await meter.measure(t.pid, () =>
      sftpSessions(t, { clients: profile.sftpClients, perClient: profile.sftpPerClient, deadlineMs: profile.sessionsDeadlineMs }),
    );
    results.add(name, 'sftp.sessions.rate', r.rate, { seconds: r.seconds, sessions: r.sessions, errors: r.errors, clientCpu: r.clientCpu });
    results.add(name, 'sftp.sessions.p50', r.p50);
    results.add(name, 'sftp.sessions.p99', r.p99);
    results.add(name, 'sftp.sessions.fail', r.failures);
    results.add(name, 'sftp.sessions.cpu', r.sessions > 0 ? (r.cpu * 1000) / r.sessions : null);
    results.add(name, 'sftp.sessions.per-cpu', r.cpu > 0 ? r.sessions / r.cpu : null);
    say(`sftp sessions C=${profile.sftpClients}: ${r.rate.toFixed(0)}/s, p50 ${r.p50?.toFixed(1)} ms, p99 ${r.p99?.toFixed(1)} ms, ${r.failures} failed, server CPU ${((r.cpu * 1000) / Math.max(r.sessions, 1)).toFixed(2)} ms/session, client CPU ${((r.clientCpu * 1000) / Math.max(r.sessions, 1)).toFixed(2)} ms/session${r.failures ? ` ${JSON.stringify(r.errors)}` : ''}`);
  } catch (error) {
    results.error(name, 'sftp sessions', error);
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = options();
  const started = new Date();
  const env = new BenchEnv({ quick: opts.quick, log });
  const setupNotes = prepareClientProcess(env);
  const cleanup = () => {
    env.killAll();
    if (!opts.keep) env.cleanup();
  };
  process.on('exit', () => env.killAll());
  process.on('SIGINT', () => {
    log('interrupted: stopping servers');
    cleanup();
    process.exit(130);
  });

  if (opts.servers.some((s) => s.startsWith('kftpd'))) ensureBuild(opts.build);
  const fdLimit = openFileLimit().soft;
  const needFds = Math.max(...opts.profile.idle) + 1000;
  if (opts.metrics.includes('idle') && fdLimit < needFds) {
    opts.profile.idle = opts.profile.idle.map((n) => Math.min(n, fdLimit - 1000));
    setupNotes.push(`idle session counts capped to ${opts.profile.idle.join(', ')} by the open-files limit`);
  }

  log(`kftpd bench: ${opts.quick ? 'quick' : 'full'} run, ${opts.profile.rounds} round(s), metrics ${opts.metrics.join(',')}`);
  log(`cache ${env.cacheDir}, work ${env.workDir}`);
  for (const n of setupNotes) log(`  ${n}`);
  env.setup();
  env.createServedFiles(opts.profile.bigBytes);

  // Prepare the servers: fetch, check, version. Skip (with the reason) what cannot run.
  const servers = {};
  const active = [];
  for (const adapter of ADAPTERS.filter((a) => opts.servers.includes(a.name))) {
    try {
      const { version } = await adapter.prepare(env);
      servers[adapter.name] = { role: adapter.role, version, status: 'ok', reuse: adapter.reuse, loginCost: typeof adapter.loginCost === 'function' ? adapter.loginCost() : adapter.loginCost };
      active.push(adapter);
      log(`  ready    ${adapter.name} ${version}`);
    } catch (error) {
      servers[adapter.name] = { role: adapter.role, status: 'skipped', reason: error.message, reuse: adapter.reuse };
      log(`  SKIPPED  ${adapter.name}: ${error.message}`);
    }
  }
  const ports = new Map(ADAPTERS.map((a, i) => [a.name, { port: 9100 + i, pasvMin: 10000 + i * 3000, pasvMax: 10000 + i * 3000 + 2999, sftpPort: 9200 + i }]));

  // How busy is the machine before we start?
  const load = { loadavgBefore: loadAverage() };
  const c0 = coreTimes();
  await sleep(2000);
  load.idleBeforePercent = coreBusy(c0, coreTimes()).map((b) => Math.round((1 - b) * 1000) / 10);
  log(`machine before the run: loadavg ${load.loadavgBefore.join(' ')}, idle per core ${load.idleBeforePercent.join('% ')}%`);

  const results = new Results();
  const meter = new LoadMeter();
  const runC0 = coreTimes();
  try {
    for (let round = 0; round < opts.profile.rounds; round++) {
      const order = active.map((_, i) => active[(i + round) % active.length]);
      log(`round ${round + 1}/${opts.profile.rounds}: ${order.map((a) => a.name).join(', ')}`);
      for (const adapter of order) await runServer(adapter, ports.get(adapter.name), env, opts, results, meter, round);
    }
  } finally {
    cleanup();
  }
  load.idleDuringPercent = coreBusy(runC0, coreTimes()).map((b) => Math.round((1 - b) * 1000) / 10);
  load.loadavgAfter = loadAverage();
  load.measured = meter.summary();

  // Table and JSON.
  const columns = ADAPTERS.map((a) => a.name).filter((n) => servers[n]?.status === 'ok');
  const references = columns.filter((n) => servers[n].role === 'reference');
  const rows = rowDefinitions(opts).map((row) =>
    row.section ? row : { ...row, values: Object.fromEntries(columns.map((s) => [s, results.summary(row.key, s)])) },
  );
  const titles = { ceiling: 'node ceiling' };
  const table = markdownTable(rows, columns, { subject: 'kftpd', ceiling: 'ceiling', references, titles });
  const finished = new Date();
  const machine = machineInfo();
  const loadLine =
    `loadavg ${load.loadavgBefore.join(' ')} before, ${load.loadavgAfter.join(' ')} after; idle before the run ${load.idleBeforePercent.map((x, i) => `cpu${i} ${x}%`).join(', ')}; ` +
    `during the ${load.measured.measuredSeconds} s measured: cores busy ${load.measured.coreBusyPercent.map((x, i) => `cpu${i} ${x}%`).join(', ')}, ` +
    `of which server ${load.measured.serverCpuPercent}% and load generator ${load.measured.clientCpuPercent}% of one core`;
  const notes = [];
  for (const [name, s] of Object.entries(servers)) if (s.status !== 'ok') notes.push(`${name} skipped: ${s.reason}`);
  // The cost of sharing protection state through Redis (issue 15; target: under 10 % fewer sessions/s).
  for (const c of opts.metrics.includes('sessions') ? opts.profile.concurrency : []) {
    const alone = results.summary(`sessions.c${c}.rate`, 'kftpd');
    const shared = results.summary(`sessions.c${c}.rate`, 'kftpd+redis');
    if (typeof alone === 'number' && typeof shared === 'number' && alone > 0) {
      notes.push(`cluster store cost at C=${c}: kftpd+redis ${shared.toFixed(0)} sessions/s vs kftpd ${alone.toFixed(0)} (${(((shared - alone) / alone) * 100).toFixed(1)} %)`);
    }
  }
  // The hash's share of a short session: kftpd hashes once per user and run (verification
  // cache), kftpd-hash on every login like the references (issue 14).
  for (const c of opts.metrics.includes('sessions') ? opts.profile.concurrency : []) {
    const cached = results.summary(`sessions.c${c}.cpu`, 'kftpd');
    const hashed = results.summary(`sessions.c${c}.cpu`, 'kftpd-hash');
    if (typeof cached === 'number' && typeof hashed === 'number' && hashed > 0) {
      notes.push(`password hash share at C=${c}: kftpd-hash ${hashed.toFixed(2)} ms CPU/session vs kftpd ${cached.toFixed(2)} (the hash: ${(hashed - cached).toFixed(2)} ms, ${(((hashed - cached) / hashed) * 100).toFixed(0)} % of a session at equal login cost)`);
    }
  }
  // How far the runtime itself gets (issue 14): kftpd against the Node ceiling, and the ceiling
  // with the references' password check added, against the best reference.
  const num = (key, server) => {
    const v = results.summary(key, server);
    return typeof v === 'number' ? v : null;
  };
  if (opts.metrics.includes('small') && num('small.cpu', 'ceiling') !== null && num('small.cpu', 'kftpd') !== null) {
    const r = (k) => (num(k, 'kftpd') ?? 0) / (num(k, 'ceiling') ?? 1);
    notes.push(`small files, kftpd ÷ Node ceiling: STOR ${r('small.stor.fps').toFixed(2)}× and RETR ${r('small.retr.fps').toFixed(2)}× the files/s, ${r('small.cpu').toFixed(2)}× the CPU per file`);
  }
  if (opts.metrics.includes('sessions')) {
    const sha = calibratedLogN().sha512Ms;
    for (const c of opts.profile.concurrency) {
      const ceilingCpu = num(`sessions.c${c}.cpu`, 'ceiling');
      const best = references.map((name) => ({ name, rate: num(`sessions.c${c}.rate`, name), cpu: num(`sessions.c${c}.cpu`, name) })).filter((x) => x.rate !== null && x.cpu !== null).sort((a, b) => (b.rate ?? 0) - (a.rate ?? 0))[0];
      if (ceilingCpu === null || sha === null || !best?.cpu) continue;
      const floor = ceilingCpu + sha;
      notes.push(`Node ceiling at equal login cost, C=${c} (computed): ${ceilingCpu.toFixed(2)} ms of CPU per session + one SHA-512-crypt check (${sha.toFixed(2)} ms) = ${floor.toFixed(2)} ms, against ${best.name}'s ${best.cpu.toFixed(2)} ms: ${(best.cpu / floor).toFixed(2)}× its sessions per CPU second`);
    }
  }
  if (opts.metrics.includes('sessions')) {
    const c = calibratedLogN();
    notes.push(`one password check on this machine (CPU, median of 3 × 100): scrypt N=2^${c.logN} r=8 p=1 ${c.scryptMs.toFixed(2)} ms (the N closest to SHA-512-crypt, used for kftpd's bench user), SHA-512-crypt 5,000 rounds ${c.sha512Ms === null ? 'not measured (no python3 crypt)' : `${c.sha512Ms.toFixed(2)} ms`}`);
    for (const name of columns) if (servers[name]?.loginCost) notes.push(`login cost, ${name}: ${servers[name].loginCost}`);
  }
  for (const [name, list] of Object.entries(results.errors)) for (const e of list.slice(0, 5)) notes.push(`${name}: ${e}`);
  const held = Object.entries(results.details).flatMap(([name, d]) =>
    Object.entries(d)
      .filter(([k]) => k.startsWith('idle.'))
      .flatMap(([k, rs]) => rs.filter((r) => r.stoppedEarly).map((r) => `${name} ${k}: stopped early (${r.stoppedEarly})`)),
  );
  notes.push(...held);

  const header = [
    `# kftpd benchmark — ${opts.quick ? 'quick' : 'full'} run, ${started.toISOString()}`,
    '',
    `Machine: ${machine.nproc} × ${machine.model}, ${machine.memoryGiB} GiB, ${machine.kernel}, Node ${machine.node}. ${setupNotes.join('; ')}.`,
    `Load: ${loadLine}.`,
    `Medians over ${opts.profile.rounds} round(s); ratios in parentheses are to the Node ceiling [÷ceiling] or to the best reference server [÷best ref]; ↑/↓: higher/lower is better; best FTP server in bold.`,
    '',
    `Servers: ${columns.map((n) => `${n} ${servers[n].version}`).join(', ')}.`,
    '',
  ].join('\n');
  const md = `${header}\n${table}\n${notes.length ? `\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}`;
  process.stdout.write(`\n${md}\n`);

  const json = {
    schema: 1,
    date: started.toISOString(),
    durationSeconds: Math.round((finished - started) / 1000),
    mode: opts.quick ? 'quick' : 'full',
    rounds: opts.profile.rounds,
    selection: { metrics: opts.metrics, servers: opts.servers },
    profile: opts.profile,
    machine: { ...machine, hostname: os.hostname() },
    setup: setupNotes,
    load,
    servers,
    metrics: Object.fromEntries(
      rows.filter((r) => !r.section).map((r) => [
        r.key,
        { label: r.label, better: r.better, base: r.base, values: r.values, rounds: Object.fromEntries(columns.map((s) => [s, results.rounds(r.key, s)])) },
      ]),
    ),
    details: results.details,
    errors: results.errors,
    notes,
    table: md,
  };
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(json, null, 2)}\n`);
  if (!opts.quick && !opts.partial) {
    const dir = path.join(BENCH_DIR, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
    writeFileSync(path.join(dir, 'latest.md'), md);
    log(`wrote ${path.relative(process.cwd(), dir)}/latest.json and latest.md`);
  }
  log(`done in ${json.durationSeconds} s`);
}

process.on('uncaughtException', (error) => {
  log(`run.mjs: uncaught ${error.stack ?? error}`);
  process.exit(1); // the 'exit' handler stops every server
});

main().catch((error) => {
  log(`run.mjs: ${error.stack ?? error}`);
  process.exit(1);
});
