/**
 * @module test/topology/netns
 * The network of the topology suite, built from Linux network namespaces and veth pairs and
 * never touching the host's own interfaces or routes (every link is created directly inside a
 * namespace of ours):
 *
 *   client (10.77.1.2) ── veth ── (10.77.1.1) lb (10.77.2.1) ── veth ── switch: bridge
 *                                                                       ├── veth ── r0 (10.77.2.10)
 *                                                                       ├── veth ── r1 (10.77.2.11)
 *                                                                       ├── veth ── r2 (10.77.2.12)
 *                                                                       └── veth ── redis (10.77.2.20)
 *
 * The client and the replicas have no route to each other: everything crosses the balancer.
 * Owns: creation, command execution inside a namespace and teardown (also of namespaces left
 * by an earlier run that crashed, recognised by the suite's own name prefix).
 * Must not: run anything at import time (node --test loads every file under dist/test/).
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { run, type RunOptions, type RunResult } from '../helpers/integration.js';

/** Every namespace of the suite starts with this; nothing else on the host may use it. */
export const NS_PREFIX = 'kftopo-';

export const ADDR = {
  client: '10.77.1.2',
  /** The balancer's client-side address: the "VIP" clients and PASV replies use. */
  vip: '10.77.1.1',
  /** The balancer's server-side address: the source of every connection a replica sees. */
  lbInside: '10.77.2.1',
  replicas: ['10.77.2.10', '10.77.2.11', '10.77.2.12'] as const,
  /** The replicas' shared protection store (cluster.redis.url), on its own host. */
  redis: '10.77.2.20',
} as const;

export type HostName = 'client' | 'lb' | 'sw' | 'r0' | 'r1' | 'r2' | 'redis';
const HOSTS: readonly HostName[] = ['client', 'lb', 'sw', 'r0', 'r1', 'r2', 'redis'];

export function nsName(host: HostName): string {
  return `${NS_PREFIX}${host}`;
}

/** `ip` (no shell), failing loudly. Bounded by 10 s. */
async function ip(args: readonly string[]): Promise<RunResult> {
  const result = await run('ip', args, { timeoutMs: 10_000 });
  if (result.code !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.stderr.trim() || result.stdout.trim()}`);
  return result;
}

/** Namespaces of this suite that exist now (ours from this or an earlier run). */
export function existingNamespaces(): string[] {
  const result = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(NS_PREFIX));
}

/**
 * Deletes every namespace of the suite (synchronously, so it also works from an exit
 * handler). Deleting a namespace destroys the veths and the bridge inside it. Processes still
 * running inside must have been stopped first (they would keep the namespace alive).
 */
export function deleteNamespacesSync(): void {
  for (const name of existingNamespaces()) {
    spawnSync('ip', ['netns', 'delete', name], { timeout: 10_000, stdio: 'ignore' });
  }
}

/**
 * The environment for long-running children: without KFTPD_* variables (the suite's own
 * KFTPD_TOPOLOGY switch among them), which kftpd would read as configuration and refuse as
 * unknown settings. Replicas are configured by their config file only.
 */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('KFTPD_') && !(key in env)) env[key] = value;
  }
  return env;
}

export class Network {
  #built = false;

  /** Builds all namespaces and links; on any failure, removes what was built and rethrows. */
  async build(): Promise<void> {
    deleteNamespacesSync(); // leftovers of a crashed earlier run of this suite
    try {
      for (const host of HOSTS) {
        await ip(['netns', 'add', nsName(host)]);
        await ip(['-n', nsName(host), 'link', 'set', 'lo', 'up']);
      }
      this.#built = true;
      // client <-> lb
      await ip(['-n', nsName('lb'), 'link', 'add', 'to-client', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nsName('client')]);
      await this.#addr('lb', 'to-client', `${ADDR.vip}/24`);
      await this.#addr('client', 'eth0', `${ADDR.client}/24`);
      // the server-side segment: a bridge in the "switch" namespace
      await ip(['-n', nsName('sw'), 'link', 'add', 'br0', 'type', 'bridge']);
      await ip(['-n', nsName('sw'), 'link', 'set', 'br0', 'up']);
      const inside: [HostName, string][] = [
        ['lb', ADDR.lbInside],
        ['r0', ADDR.replicas[0]],
        ['r1', ADDR.replicas[1]],
        ['r2', ADDR.replicas[2]],
        ['redis', ADDR.redis],
      ];
      for (const [host, address] of inside) {
        const port = `p-${host}`;
        await ip(['-n', nsName('sw'), 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', nsName(host)]);
        await ip(['-n', nsName('sw'), 'link', 'set', port, 'master', 'br0']);
        await ip(['-n', nsName('sw'), 'link', 'set', port, 'up']);
        await this.#addr(host, 'eth1', `${address}/24`);
      }
    } catch (error) {
      this.destroySync();
      throw error;
    }
  }

  async #addr(host: HostName, dev: string, cidr: string): Promise<void> {
    await ip(['-n', nsName(host), 'addr', 'add', cidr, 'dev', dev]);
    await ip(['-n', nsName(host), 'link', 'set', dev, 'up']);
  }

  /** Runs a program inside a namespace (no shell), bounded like run(). */
  exec(host: HostName, command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', nsName(host), command, ...args], options);
  }

  /**
   * Starts a long-running program inside a namespace. `ip netns exec` execs the program in
   * place, so the child's pid is the program's own pid (signals reach it directly).
   */
  spawn(host: HostName, command: string, args: readonly string[], stdio: StdioOptions): ChildProcess {
    return spawn('ip', ['netns', 'exec', nsName(host), command, ...args], { stdio, env: childEnv() });
  }

  destroySync(): void {
    this.#built = false;
    deleteNamespacesSync();
  }

  get built(): boolean {
    return this.#built;
  }
}
