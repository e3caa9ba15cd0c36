/**
 * The SFTP workloads (metric `sftp`), run against kftpd's SSH listener and OpenSSH's
 * internal-sftp with the same clients and the same ed25519 key:
 * - single streams: OpenSSH's own `sftp -b` client (C; with limits@openssh.com it sends 255 KiB
 *   requests, 64 outstanding), one process per transfer, so the load generator's Node process
 *   is not the bottleneck; timed from its batch echo of the measured command to the echo of the
 *   next one (sftp line-buffers its output), after a 16 MiB warm-up in the same session;
 * - short sessions: the `ssh2` npm client in the driver's process (one process cannot spawn
 *   200 ssh processes a second on one core): connect, key login, SFTP subsystem, read the 64 KiB
 *   file, close.
 */
import { spawn } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import ssh2 from 'ssh2';
import { withTimeout } from './ftp-client.mjs';
import { sessionLoad } from './load.mjs';
import { treeCpuSeconds } from './proc.mjs';

const HOST = '127.0.0.1';
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves when 127.0.0.1:port sends an SSH identification line (RFC 4253 §4.2). */
export function sshBanner(port, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let text = '';
    const timer = setTimeout(() => finish(new Error('no SSH banner')), timeoutMs);
    const finish = (error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (/^SSH-2\.0-/m.test(text)) finish();
    });
    socket.on('error', finish);
  });
}

/** Waits (bounded) until the SSH listener on `port` sends its banner. */
export async function waitSshBanner(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await sshBanner(port);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/** OpenSSH client options shared by every run: key login only, no known-hosts bookkeeping. */
function sftpArgs(target, cipher) {
  return [
    '-b', '-',
    '-P', String(target.sftpPort),
    '-i', target.keys.privateFile,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-F', '/dev/null',
    ...(cipher ? ['-c', cipher] : []),
    `${target.user}@${HOST}`,
  ];
}

/**
 * One SFTP download (get of big.bin) or upload (put of it to `remotePath`) of `bytes` with
 * OpenSSH's sftp, after a 16 MiB warm-up of the same direction in the same session.
 * Returns { seconds, bytes, cpu, clientCpu } (cpu: the server tree's over the timed span).
 */
export async function sftpStream(target, { direction, bytes, cipher, remotePath, localDir, srvDir }) {
  const down = path.join(localDir, `big-${process.pid}.down`);
  const warm = path.join(localDir, `warm-${process.pid}.down`);
  const measured = direction === 'get' ? `get big.bin ${down}` : `put ${path.join(srvDir, 'big.bin')} ${remotePath}`;
  const batch = [direction === 'get' ? `get warm.bin ${warm}` : `put ${path.join(srvDir, 'warm.bin')} ${remotePath}`, measured, 'pwd', 'bye', ''].join('\n');
  const child = spawn('sftp', sftpArgs(target, cipher), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let buffered = '';
  let start = null;
  let end = null;
  child.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.stdout.on('data', (d) => {
    buffered += d.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (start === null && line.startsWith(`sftp> ${measured.split(' ')[0]} ${measured.split(' ')[1]}`)) {
        start = { t: now(), cpu: treeCpuSeconds(target.pid).seconds };
      } else if (start !== null && end === null && line.startsWith('sftp> pwd')) {
        end = { t: now(), cpu: treeCpuSeconds(target.pid).seconds };
      }
    }
  });
  child.stdin.end(batch);
  const code = await withTimeout(new Promise((resolve) => child.once('close', (c) => resolve(c))), 600_000, 'sftp batch').catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });
  try {
    if (code !== 0 || start === null || end === null) throw new Error(`sftp ${direction} exited ${code}: ${stderr.trim().split('\n').slice(-2).join(' / ')}`);
    const got = direction === 'get' ? statSync(down).size : bytes;
    if (got !== bytes) throw new Error(`sftp get: ${got} bytes instead of ${bytes}`);
    // The sftp line of the measured command is printed before it runs; a run this short means
    // the output was not line-buffered and the timing is meaningless.
    const seconds = (end.t - start.t) / 1000;
    if (seconds < 0.01) throw new Error('sftp batch output not line-buffered: cannot time the transfer');
    return { seconds, bytes, cpu: end.cpu - start.cpu };
  } finally {
    rmSync(down, { force: true });
    rmSync(warm, { force: true });
  }
}

/** A session waiting this long for any step has failed. */
const SESSION_TIMEOUT_MS = 15_000;

function oneSession(target, fileBytes) {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const timer = setTimeout(() => done(new Error('session timeout')), SESSION_TIMEOUT_MS);
    let finished = false;
    const done = (error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (error) {
        client.destroy();
        reject(error);
      } else resolve();
    };
    client.on('error', done);
    client.on('ready', () => {
      client.sftp((error, sftp) => {
        if (error) return done(error);
        sftp.readFile('s64k.bin', (readError, data) => {
          if (readError) return done(readError);
          if (data.length !== fileBytes) return done(new Error(`read ${data.length} bytes`));
          client.once('close', () => done());
          client.end();
        });
      });
    });
    client.connect({
      host: HOST,
      port: target.sftpPort,
      username: target.user,
      privateKey: target.keys.privateKey,
      hostVerifier: () => true,
      readyTimeout: SESSION_TIMEOUT_MS,
    });
  });
}

/**
 * `clients` concurrent clients each running `perClient` short SFTP sessions one after another
 * (connect, key login, SFTP, read 64 KiB, close), through the FTP metric's driver (load.mjs).
 */
export async function sftpSessions(target, { clients, perClient, deadlineMs, rampMs = 1000, fileBytes = 65536 }) {
  return sessionLoad(target, { clients, perClient, deadlineMs, rampMs }, () => oneSession(target, fileBytes));
}
