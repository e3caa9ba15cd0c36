/**
 * @module test/topology/fixture
 * Builds and tears down the whole topology (namespaces, PKI, users file, shared storage,
 * HAProxy, three replicas) and decides whether the suite may run at all.
 * Teardown runs on success, on failure and from an exit handler, and only ever stops the
 * processes started here (by pid) and deletes the namespaces of this suite.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import os from 'node:os';
import path from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import { ADMIN_TOKEN, Balancer, KFTPD_MAIN, RedisHost, Replica, writeUsersFile } from './cluster.js';
import { ADDR, Network, deleteNamespacesSync } from './netns.js';
import { createTopologyPki, type TopologyPki } from './pki.js';

/** Null when the SFTP tests may run (OpenSSH's sftp and ssh-keyscan on the client host), else why not. */
export function sftpSkipReason(): string | null {
  for (const [command, args] of [
    ['sftp', ['-h']],
    ['ssh-keyscan', ['-h']],
  ] as const) {
    const result = spawnSync(command, args, { timeout: 10_000, stdio: 'ignore' });
    if (result.error) return `topology SFTP tests: ${command} not available (apt-get install openssh-client)`;
  }
  return null;
}

/** The SSH keys of the topology: the replicas' shared host keys and the client's login key. */
export interface TopologySsh {
  readonly hostKeyFiles: readonly string[];
  /** "ssh-ed25519 AAAA…" lines of the host keys. */
  readonly hostPublicKeys: readonly string[];
  /** known_hosts naming the balancer's address with the shared host keys. */
  readonly knownHosts: string;
  readonly identity: string;
}

const generateKeyPair = promisify(ssh2.utils.generateKeyPair) as (type: string, options: object) => Promise<{ private: string; public: string }>;

async function createSshKeys(dir: string): Promise<TopologySsh & { clientPublicKey: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const hostKeyFiles: string[] = [];
  const hostPublicKeys: string[] = [];
  for (const [type, options] of [
    ['ed25519', {}],
    ['ecdsa', { bits: 256 }],
  ] as const) {
    const pair = await generateKeyPair(type, options);
    const file = path.join(dir, `ssh_host_${type}_key`);
    await writeFile(file, pair.private, { mode: 0o600 });
    hostKeyFiles.push(file);
    hostPublicKeys.push(pair.public.trim().split(/\s+/).slice(0, 2).join(' '));
  }
  const knownHosts = path.join(dir, 'known_hosts');
  await writeFile(knownHosts, hostPublicKeys.map((key) => `${ADDR.vip} ${key}\n`).join(''));
  const client = await generateKeyPair('ed25519', {});
  const identity = path.join(dir, 'id_ed25519');
  // OpenSSH refuses a private key file others can read.
  await writeFile(identity, client.private, { mode: 0o600 });
  return { hostKeyFiles, hostPublicKeys, knownHosts, identity, clientPublicKey: client.public.trim() };
}

/** Null when the suite may run, else why not (for t.skip). */
export function topologySkipReason(): string | null {
  if (process.env.KFTPD_TOPOLOGY !== '1') return 'topology suite: set KFTPD_TOPOLOGY=1 (npm run test:topology, as root) to run it';
  if (process.platform !== 'linux') return 'topology suite: needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'topology suite: needs root (ip netns, ports 21/990)';
  for (const [command, args] of [
    ['ip', ['-V']],
    ['haproxy', ['-v']],
    ['curl', ['--version']],
    ['redis-server', ['--version']],
    ['redis-cli', ['--version']],
  ] as const) {
    const result = spawnSync(command, args, { timeout: 10_000, stdio: 'ignore' });
    if (result.error || result.status !== 0) return `topology suite: ${command} not available (apt-get install haproxy iproute2 curl redis-server)`;
  }
  if (!existsSync(KFTPD_MAIN)) return `topology suite: ${KFTPD_MAIN} missing (npm run build)`;
  return null;
}

export class Topology {
  readonly net = new Network();
  dir = '';
  storageRoot = '';
  clientDir = '';
  pki!: TopologyPki;
  balancer!: Balancer;
  redis!: RedisHost;
  replicas: Replica[] = [];
  ssh!: TopologySsh;
  #exitHandler: (() => void) | null = null;
  #signalHandler: ((signal: NodeJS.Signals) => void) | null = null;

  async setUp(): Promise<void> {
    this.dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-topology-'));
    this.#exitHandler = () => this.killSync();
    process.once('exit', this.#exitHandler);
    // Interrupted (Ctrl-C, CI cancel): stop our processes and namespaces, then exit as signalled.
    this.#signalHandler = (signal) => {
      this.killSync();
      if (process.env.KFTPD_TOPOLOGY_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', this.#signalHandler);
    process.once('SIGTERM', this.#signalHandler);
    this.storageRoot = path.join(this.dir, 'storage'); // the "RWX volume" every replica mounts
    this.clientDir = path.join(this.dir, 'client');
    await mkdir(this.storageRoot);
    await mkdir(this.clientDir);
    this.pki = await createTopologyPki(path.join(this.dir, 'pki'), [ADDR.vip], ['kftpd.topology.test']);
    const ssh = await createSshKeys(path.join(this.dir, 'ssh'));
    this.ssh = ssh;
    const usersFile = path.join(this.dir, 'users.yaml');
    await writeUsersFile(usersFile, ssh.clientPublicKey);
    const tokenFile = path.join(this.dir, 'admin-token');
    await writeFile(tokenFile, `${ADMIN_TOKEN}\n`, { mode: 0o600 });
    await this.net.build();
    this.redis = new RedisHost(this.net);
    await this.redis.start();
    this.balancer = new Balancer(this.net, this.dir);
    for (let index = 0; index < ADDR.replicas.length; index++) {
      const replica = new Replica(this.net, index, this.dir);
      await replica.writeConfig({ pki: this.pki, usersFile, storageRoot: this.storageRoot, stateDir: path.join(this.dir, 'state'), tokenFile, hostKeyFiles: this.ssh.hostKeyFiles });
      this.replicas.push(replica);
    }
    await Promise.all(this.replicas.map((replica) => replica.start()));
    await this.balancer.start();
  }

  /** Every replica running and ready (restarting the ones that are not). */
  async ensureAllReady(): Promise<void> {
    for (const replica of this.replicas) {
      if (!replica.running) await replica.start();
    }
  }

  /** A file path on the client host (the client namespace shares the host's filesystem). */
  clientFile(name: string): string {
    return path.join(this.clientDir, name);
  }

  storageFile(name: string): string {
    return path.join(this.storageRoot, name);
  }

  async tearDown(keepDir = false): Promise<void> {
    await Promise.all(this.replicas.map((replica) => replica.stop(3000).catch(() => undefined)));
    await this.balancer?.stop().catch(() => undefined);
    await this.redis?.stop().catch(() => undefined);
    this.killSync();
    if (this.#exitHandler) process.off('exit', this.#exitHandler);
    if (this.#signalHandler) {
      process.off('SIGINT', this.#signalHandler);
      process.off('SIGTERM', this.#signalHandler);
    }
    if (!keepDir && this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }

  /** Last resort (exit handler): SIGKILL our own children by pid, delete our namespaces. */
  killSync(): void {
    for (const replica of this.replicas) replica.signal('SIGKILL');
    this.balancer?.killSync();
    this.redis?.killSync();
    deleteNamespacesSync();
  }
}
