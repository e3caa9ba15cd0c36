/**
 * @module test/topology/broken-balancer
 * A deliberately misconfigured second balancer for the `kftpd doctor` topology test: its own
 * HAProxy process on a second VIP (10.77.1.3, added to the balancer host's client-side link),
 * so the shared HAProxy of the other tests is never touched. On :21 it forwards control
 * connections correctly (PROXY v2) but maps the passive slices rotated (slice N's ports to
 * replica N+1, where nothing listens on them); on :2121 its control virtual server sends no
 * PROXY header to replicas that require one.
 * Every process started here is tracked by its pid and stopped by it; the address is removed.
 */
import { type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/integration.js';
import { PASSIVE, SLICE } from './cluster.js';
import { ADDR, nsName, type Network } from './netns.js';

/** The broken balancer's VIP. */
export const BROKEN_VIP = '10.77.1.3';
/** Control port of the broken balancer that sends no PROXY header. */
export const NO_PROXY_PORT = 2121;

export function brokenHaproxyConfig(): string {
  const lines = [
    'global',
    '  maxconn 1000',
    '  log stdout format raw local0 info',
    '',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option tcplog',
    '  retries 1',
    '  timeout connect 1s',
    '  timeout client 1m',
    '  timeout server 1m',
    '',
    'frontend broken_control',
    `  bind ${BROKEN_VIP}:21`,
    '  default_backend broken_control_replicas',
    '',
    'backend broken_control_replicas',
    '  balance roundrobin',
    '  default-server send-proxy-v2',
  ];
  ADDR.replicas.forEach((address, index) => lines.push(`  server kftpd${index} ${address}:21`));
  lines.push('', 'frontend no_proxy_control', `  bind ${BROKEN_VIP}:${NO_PROXY_PORT}`, '  default_backend no_proxy_replicas', '');
  // The mistake: no send-proxy-v2 towards replicas with proxy.control "required".
  lines.push('backend no_proxy_replicas', '  balance roundrobin');
  ADDR.replicas.forEach((address, index) => lines.push(`  server kftpd${index} ${address}:21`));
  lines.push('');
  // The mistake: slice N's ports go to replica N+1.
  ADDR.replicas.forEach((_, index) => {
    const first = PASSIVE.portMin + index * SLICE;
    const wrong = ADDR.replicas[(index + 1) % ADDR.replicas.length] as string;
    lines.push(`frontend broken_passive${index}`, `  bind ${BROKEN_VIP}:${first}-${first + SLICE - 1}`, `  default_backend broken_passive${index}_replica`, '');
    lines.push(`backend broken_passive${index}_replica`, `  server wrong${index} ${wrong} send-proxy-v2`, '');
  });
  return `${lines.join('\n')}\n`;
}

export class BrokenBalancer {
  readonly configFile: string;
  readonly logFile: string;
  #child: ChildProcess | null = null;
  #addressAdded = false;

  constructor(
    private readonly net: Network,
    dir: string,
  ) {
    this.configFile = path.join(dir, 'haproxy-broken.cfg');
    this.logFile = path.join(dir, 'haproxy-broken.log');
  }

  async start(): Promise<void> {
    const add = await run('ip', ['-n', nsName('lb'), 'addr', 'add', `${BROKEN_VIP}/24`, 'dev', 'to-client'], { timeoutMs: 10_000 });
    if (add.code !== 0) throw new Error(`ip addr add ${BROKEN_VIP}: ${add.stderr}`);
    this.#addressAdded = true;
    await writeFile(this.configFile, brokenHaproxyConfig());
    const check = await this.net.exec('lb', 'haproxy', ['-c', '-f', this.configFile], { timeoutMs: 10_000 });
    if (check.code !== 0) throw new Error(`broken haproxy config invalid:\n${check.stdout}${check.stderr}`);
    const fd = openSync(this.logFile, 'a');
    try {
      this.#child = this.net.spawn('lb', 'haproxy', ['-db', '-f', this.configFile], ['ignore', fd, fd]);
    } finally {
      closeSync(fd);
    }
    this.#child.on('error', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (this.#child.exitCode !== null) throw new Error(`broken haproxy exited:\n${this.logText()}`);
  }

  logText(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    if (this.#addressAdded) {
      await run('ip', ['-n', nsName('lb'), 'addr', 'del', `${BROKEN_VIP}/24`, 'dev', 'to-client'], { timeoutMs: 10_000 });
      this.#addressAdded = false;
    }
  }
}
