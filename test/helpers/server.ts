/**
 * @module test/helpers/server
 * Starts a real kftpd on 127.0.0.1 (or ::1) with an ephemeral control port, kernel-chosen
 * passive ports, a temp storage root (also reachable through the storage port, for seeding)
 * and a users file, and captures its JSON log lines.
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { hashPassword } from '../../src/auth/password-hash.js';
import { upsertUserInFile } from '../../src/auth/users-file.js';
import { parseConfigObject } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { FtpServer } from '../../src/server.js';
import { LocalStorageProvider } from '../../src/storage/local/local-storage.js';
import type { StorageBackend, StorageProvider } from '../../src/storage/types.js';
import { RawClient } from './raw-client.js';

export interface TestUser {
  readonly name: string;
  readonly password: string;
  readonly home?: string;
  readonly permissions?: string[];
  readonly enabled?: boolean;
  /** Per-user client address lists (users file allowFrom / denyFrom). */
  readonly allowFrom?: string[];
  readonly denyFrom?: string[];
  /** OpenSSH public key lines (SFTP login by key). */
  readonly publicKeys?: string[];
}

export interface TestServerOptions {
  /** Config overrides, deep-merged over the test defaults. */
  readonly config?: ConfigInput;
  /** Users to create; default one read-write user "alice" with home "/". */
  readonly users?: readonly TestUser[];
  /** A storage provider instead of the local adapter on `root` (given the root, for wrappers). */
  readonly storage?: (root: string) => StorageProvider;
}

export interface TestServer {
  readonly server: FtpServer;
  readonly host: string;
  readonly port: number;
  /** Storage root on disk (the default root; a test that sets storage.root has its own). */
  readonly root: string;
  /**
   * The whole storage root ("/") through the storage port: the server's own provider when the
   * test gave one, else the local adapter on the configured root. Tests seed and check files
   * with it (test/helpers/storage) unless they are about the local filesystem itself.
   */
  readonly storage: StorageBackend;
  readonly usersFile: string;
  readonly user: string;
  readonly password: string;
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export const DEFAULT_USER: TestUser = { name: 'alice', password: 'secret-password' };

type Plain = Record<string, unknown>;
/** Deep-merges config objects (arrays replace), as the config loader layers its sources. */
export function mergeConfig(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? mergeConfig(prev as Plain, value as Plain)
        : value;
  }
  return out;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-test-'));
  const root = path.join(dir, 'data');
  await mkdir(root);
  const usersFile = path.join(dir, 'users.yaml');
  const users = options.users ?? [DEFAULT_USER];
  for (const user of users) {
    await upsertUserInFile(usersFile, {
      name: user.name,
      // A cheap hash keeps the suite fast; the production default is much costlier.
      passwordHash: await hashPassword(user.password, { logN: 10 }),
      ...(user.home ? { home: user.home } : { home: '/' }),
      ...(user.permissions ? { permissions: user.permissions } : {}),
      ...(user.enabled === undefined ? {} : { enabled: user.enabled }),
      ...(user.allowFrom ? { allowFrom: user.allowFrom } : {}),
      ...(user.denyFrom ? { denyFrom: user.denyFrom } : {}),
      ...(user.publicKeys ? { publicKeys: user.publicKeys } : {}),
    });
  }
  const defaults: Plain = {
    listen: { host: '127.0.0.1', port: 0 },
    passive: { portMin: 0, portMax: 0, acceptTimeoutMs: 5000 },
    limits: { failedLoginDelayMs: 0 },
    // Tests retry wrong passwords from 127.0.0.1 on purpose; the defender's own tests connect
    // from other 127.0.0.x addresses (or override safeList).
    defender: { safeList: ['127.0.0.1', '::1'] },
    shutdown: { readinessDelayMs: 0 },
    users: { file: usersFile, reloadIntervalMs: 100 },
    storage: { root },
    stateDir: path.join(dir, 'state'),
    log: { level: 'debug' },
  };
  const config = parseConfigObject(mergeConfig(defaults, (options.config ?? {})));
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const logger = createLogger({ level: config.log.level, destination });
  const provider = options.storage?.(root);
  const server = new FtpServer(config, { logger, ...(provider ? { storage: provider } : {}) });
  await server.start();
  const storage = await (provider ?? new LocalStorageProvider({ root: config.storage.root, uploadMode: config.storage.uploadMode })).forHome('/');
  const first = users[0] ?? DEFAULT_USER;
  return {
    server,
    host: config.listen.host,
    port: server.address().port,
    root,
    storage,
    usersFile,
    user: first.name,
    password: first.password,
    logs,
    async close() {
      await server.close({ drainTimeoutMs: 1000 });
      // The test's own view of the root holds the home open like a session does.
      storage.release?.();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `body` against a fresh server with a raw-client factory; every client it made and the
 * server are closed afterwards, whatever the body did.
 */
export async function withTestServer(options: TestServerOptions, body: (t: TestServer, connect: () => Promise<RawClient>) => Promise<void>): Promise<void> {
  const t = await startTestServer(options);
  const clients: RawClient[] = [];
  try {
    await body(t, async () => {
      const c = await RawClient.connect(t.port, t.host);
      clients.push(c);
      return c;
    });
  } finally {
    for (const c of clients) c.close();
    await t.close();
  }
}
