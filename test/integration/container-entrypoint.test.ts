/**
 * @module test/integration/container-entrypoint
 * No container engine runs on our machines, so the image is proven in two parts:
 * 1. the Dockerfile's final ENTRYPOINT/CMD are the command the rendered StatefulSet runs
 *    (CONTAINER_ENTRYPOINT + CONTAINER_ARGS), and the runtime stage runs as the StatefulSet's
 *    non-root user;
 * 2. that very command runs the way a pod runs it: in a private mount/UTS/PID namespace built
 *    with bubblewrap, with a READ-ONLY root filesystem, as uid 10001, the config rendered by
 *    podConfig() mounted at /etc/kftpd/kftpd.yaml, the users and TLS "Secrets" mounted read-only,
 *    writable volumes only at /srv/ftp, /var/lib/kftpd and /var/log/kftpd, and the hostname
 *    of StatefulSet pod 1. A real client (curl, FTPS) then uploads a file, which must land in
 *    the data volume through a passive port of replica 1's slice; SIGTERM drains and exits 0.
 * Part 2 needs root and bwrap (CI has both); it is skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { hashPassword } from '../../src/auth/password-hash.js';
import { configSchema } from '../../src/config/schema.js';
import { CONTAINER_ARGS, CONTAINER_ENTRYPOINT, CONTAINER_PATHS, deployLayout, podConfig } from '../../src/deploy/layout.js';
import { createTestPki } from '../helpers/pki.js';
import { CURL_MISSING, describeRun, makeTempDir, removeDir, run, unavailableReason } from '../helpers/integration.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const POD_UID = 10001;

/** The instructions of the Dockerfile's last stage, continuation lines joined. */
function finalStage(dockerfile: string): { instruction: string; args: string }[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const out: { instruction: string; args: string }[] = [];
  for (const line of lines) {
    const [instruction = '', ...rest] = line.split(/\s+/);
    if (instruction.toUpperCase() === 'FROM') out.length = 0;
    out.push({ instruction: instruction.toUpperCase(), args: rest.join(' ') });
  }
  return out;
}

describe('Dockerfile', () => {
  it('runs the StatefulSet\'s command: ENTRYPOINT + CMD = CONTAINER_ENTRYPOINT + CONTAINER_ARGS, as a non-root user', async () => {
    const stage = finalStage(await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    const find = (name: string): string => {
      const found = stage.filter((entry) => entry.instruction === name).at(-1);
      assert.ok(found, `the runtime stage has no ${name}`);
      return found.args;
    };
    assert.deepEqual(JSON.parse(find('ENTRYPOINT')), CONTAINER_ENTRYPOINT);
    assert.deepEqual(JSON.parse(find('CMD')), CONTAINER_ARGS);
    const user = find('USER').split(':')[0];
    assert.equal(user, String(POD_UID), 'the image runs as the uid the StatefulSet sets');
    // The entrypoint's script is what the build stage compiles and copies.
    assert.ok(stage.some((entry) => entry.instruction === 'COPY' && entry.args.includes('/app/dist/src')), 'the runtime stage copies dist/src');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function waitForReady(url: string, child: ChildProcess, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within ${deadlineMs} ms`);
}

function sandboxMissing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (bubblewrap namespaces and a non-root uid switch)';
  return unavailableReason('bwrap', ['--version']) ?? unavailableReason('setpriv', ['--version']) ?? CURL_MISSING();
}

describe('the container command in a pod-like sandbox', { skip: sandboxMissing() ?? false }, () => {
  let dir = '';
  let child: ChildProcess | null = null;
  let output = '';
  let controlPort = 0;
  let adminPort = 0;
  const password = 'Pod-Secret-9';
  const volumes = { config: '', users: '', tls: '', data: '', state: '', log: '' };

  before(async () => {
    dir = await makeTempDir('kftpd-container-');
    for (const name of Object.keys(volumes) as (keyof typeof volumes)[]) {
      volumes[name] = path.join(dir, name);
      await mkdir(volumes[name], { recursive: true });
    }
    // emptyDirs and the data volume are writable by the pod's fsGroup in Kubernetes.
    for (const writable of [volumes.data, volumes.state, volumes.log]) await chown(writable, POD_UID, POD_UID);
    controlPort = await freePort();
    adminPort = await freePort();
    const config = configSchema.parse({
      listen: { port: controlPort },
      passive: { portMin: 31000, portMax: 31029, replicas: 3, address: '127.0.0.1' },
      tls: { control: 'required', data: 'required' },
      admin: { enabled: true, port: adminPort },
      log: { xferlog: 'on' },
      shutdown: { readinessDelayMs: 200, drainTimeoutMs: 2000 },
    });
    await writeFile(path.join(volumes.config, 'kftpd.yaml'), stringify(podConfig(config)));
    const pki = await createTestPki(path.join(dir, 'pki'));
    await writeFile(path.join(volumes.tls, 'tls.crt'), await readFile(pki.serverCert));
    await writeFile(path.join(volumes.tls, 'tls.key'), await readFile(pki.serverKey));
    const hash = await hashPassword(password, { logN: 10 });
    await writeFile(path.join(volumes.users, 'users.yaml'), stringify({ users: [{ name: 'partner', password: hash, home: '/', permissions: ['read-write'] }] }));

    const args = [
      '--unshare-uts', '--unshare-pid', '--unshare-ipc', '--die-with-parent', '--hostname', 'kftpd-1',
      '--ro-bind', '/usr', '/usr', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--symlink', 'usr/bin', '/bin',
      '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/etc', '--tmpfs', '/var', '--tmpfs', '/srv',
    ];
    for (const name of ['passwd', 'group', 'hosts', 'resolv.conf', 'nsswitch.conf', 'ssl']) {
      args.push('--ro-bind-try', `/etc/${name}`, `/etc/${name}`);
    }
    // Directories the image has (bwrap would create missing parents as 0700, unlike an image).
    for (const parent of ['/etc/kftpd', '/var/lib', '/var/log']) args.push('--perms', '0755', '--dir', parent);
    args.push(
      // The image's /app holds dist/src, node_modules and package.json; the repository has them.
      '--ro-bind', REPO_ROOT, '/app',
      '--ro-bind', volumes.config, CONTAINER_PATHS.configDir,
      '--ro-bind', volumes.users, CONTAINER_PATHS.usersDir,
      '--ro-bind', volumes.tls, CONTAINER_PATHS.tlsDir,
      '--bind', volumes.data, CONTAINER_PATHS.dataDir,
      '--bind', volumes.state, CONTAINER_PATHS.stateDir,
      '--bind', volumes.log, CONTAINER_PATHS.logDir,
      // readOnlyRootFilesystem: everything but the volumes is read-only.
      '--remount-ro', '/tmp', '--remount-ro', '/etc', '--remount-ro', '/var', '--remount-ro', '/srv', '--remount-ro', '/',
      '/usr/bin/setpriv', `--reuid=${POD_UID}`, `--regid=${POD_UID}`, '--clear-groups',
      // The distroless image's node is /nodejs/bin/node; here the machine's node plays it.
      process.execPath, ...CONTAINER_ENTRYPOINT.slice(1), ...CONTAINER_ARGS,
    );
    child = spawn('bwrap', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      await waitForReady(`http://127.0.0.1:${adminPort}/readyz`, child, 20_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- server output ---\n${output.slice(-4000)}`);
    }
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await removeDir(dir);
  });

  it('serves an FTPS upload into the data volume through replica 1\'s passive slice', async () => {
    const source = path.join(dir, 'report.csv');
    await writeFile(source, 'id,amount\n1,100\n');
    const result = await run('curl', [
      '-sS', '-v', '--ssl-reqd', '--insecure', '--disable-epsv', '-u', `partner:${password}`,
      '-T', source, `ftp://127.0.0.1:${controlPort}/report.csv`,
    ]);
    assert.equal(result.code, 0, describeRun(result));
    const pasv = /227 Entering Passive Mode \((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(result.stderr);
    assert.ok(pasv, `no 227 reply in curl's trace\n${describeRun(result)}`);
    const port = Number(pasv[5]) * 256 + Number(pasv[6]);
    const slice = deployLayout(configSchema.parse({ passive: { portMin: 31000, portMax: 31029, replicas: 3 } })).replicaLayouts[1]?.slice;
    assert.ok(slice && port >= slice.min && port <= slice.max, `passive port ${port} is not in replica 1's slice (hostname kftpd-1)`);
    assert.equal(await readFile(path.join(volumes.data, 'report.csv'), 'utf8'), 'id,amount\n1,100\n');
    const xferlog = await readFile(path.join(volumes.log, 'xferlog'), 'utf8');
    assert.match(xferlog, /report\.csv/, 'the xferlog is written to the log volume');
  });

  it('drains on SIGTERM and exits 0', async () => {
    assert.ok(child);
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    // bwrap forwards nothing: signal the server process itself (bwrap's PID namespace child).
    const pids = await run('pgrep', ['-f', '-u', String(POD_UID), 'dist/src/cli/main.js serve']);
    const pid = pids.stdout.split('\n').map((line) => Number(line.trim())).find((value) => value > 0);
    assert.ok(pid, `the server process was not found\n${describeRun(pids)}`);
    process.kill(pid, 'SIGTERM');
    assert.equal(await exited, 0, output.slice(-3000));
  });
});
