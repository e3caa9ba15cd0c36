/**
 * kftpd sharing its protection state through Redis (cluster.redis.url, issue 15): the kftpd
 * adapter's server with a redis-server (Debian `redis-server`, no persistence) started beside
 * it on the server core, and limits.maxSessionsPerUser set so every login also claims and
 * releases a shared per-user session slot: the most a login pays for the store (one script
 * for the slot, one SET for the trust mark, one ZREM at QUIT). Only the short-sessions metric
 * runs: the store is not on any transfer path. Server CPU counts kftpd alone (redis-server's
 * CPU is not in the kftpd process tree).
 */
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import kftpd, { launchingWith } from './kftpd.mjs';

const REDIS_PORT = 9399;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function ping() {
  return new Promise((resolve) => {
    const socket = net.connect(REDIS_PORT, '127.0.0.1');
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

export default {
  name: 'kftpd+redis',
  role: 'variant',
  reuse: kftpd.reuse,
  loginCost: () => kftpd.loginCost(),
  metrics: ['sessions'],

  async prepare(env) {
    const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error('redis-server is missing (apt-get install redis-server)');
    const { version } = await kftpd.prepare.call(this, env);
    return { version: `${version}, redis-server ${/v=(\S+)/.exec(r.stdout)?.[1] ?? '?'}` };
  },

  async start(env, ports) {
    const args = ['--bind', '127.0.0.1', '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no', '--dir', env.workDir];
    const [cmd, argv] = env.pinServer ? ['taskset', ['-c', '0', 'redis-server', ...args]] : ['redis-server', args];
    const redis = spawn(cmd, argv, { stdio: 'ignore' });
    const stopRedis = async () => {
      if (redis.exitCode !== null || redis.signalCode !== null) return;
      const exited = new Promise((r) => redis.once('exit', r));
      redis.kill('SIGKILL');
      await exited;
    };
    for (let i = 0; i < 100 && !(await ping()); i++) await sleep(50);
    const withStore = launchingWith(env, 'kftpd-redis', [`--cluster.redis.url=redis://127.0.0.1:${REDIS_PORT}/0`, '--limits.maxSessionsPerUser=1000000']);
    try {
      const instance = await kftpd.start.call(this, withStore, ports);
      return { ...instance, stop: async () => {
        await instance.stop();
        await stopRedis();
      } };
    } catch (error) {
      await stopRedis();
      throw error;
    }
  },
};
