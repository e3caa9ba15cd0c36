/**
 * @module test/contract/redis-protection-store.test
 * The protection-store contract against a real redis-server, plus what only Redis has:
 * every key it writes carries a TTL; an unreachable store fails a command within the
 * command timeout instead of hanging; it reports down and up again, and serves once more
 * after a restart (with a new epoch, as its data is gone).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedisProtectionStore } from '../../src/cluster/redis-store.js';
import type { BanPolicy } from '../../src/cluster/protection-store.js';
import { createTestPki } from '../helpers/pki.js';
import { REDIS_MISSING, startTestRedis, type TestRedis } from '../helpers/redis.js';
import { runProtectionStoreContract } from './protection-store.contract.js';
import { waitFor } from '../helpers/integration.js';

const options = (url: string, keyPrefix = 'contract') => ({ url, keyPrefix, commandTimeoutMs: 250, connectTimeoutMs: 1000 });

runProtectionStoreContract(
  'redis',
  async () => {
    const redis = await startTestRedis();
    return { open: () => RedisProtectionStore.open(options(redis.url)), dispose: () => redis.stop() };
  },
  REDIS_MISSING,
);

const POLICY: BanPolicy = { threshold: 10, observationWindowMs: 60_000, banTimeMs: 60_000, banTimeMaxMs: 3_600_000 };


describe('RedisProtectionStore specifics', { skip: REDIS_MISSING() ?? false }, () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startTestRedis();
  });
  after(async () => {
    await redis.stop();
  });

  it('every key it writes expires on its own', async () => {
    const store = await RedisProtectionStore.open(options(redis.url, 'ttl'));
    try {
      await waitFor(() => store.up, 5000, 'store up');
      const now = Date.now();
      await store.score({ key: '198.51.100.1', points: 2, reason: 'login-failed', user: 'alice', userPoints: 2, now }, POLICY);
      await store.score({ key: '198.51.100.2', points: 10, reason: 'login-failed', now }, POLICY);
      await store.trust('198.51.100.3', 'alice', 60_000);
      await store.ban('2001:db8::/64', { reason: 'operator', manual: true, durationMs: 90_000, now }, POLICY);
      await store.claimSession('alice', 'session-1', 2, 60_000, now);
      await store.epoch();
      const keys = await redis.client.keys('{ttl}:*');
      for (const kind of ['s', 'u', 't', 'b', 'o', 'us']) assert.ok(keys.some((k) => k.startsWith(`{ttl}:${kind}:`)), `a ${kind} key was written`);
      assert.ok(keys.includes('{ttl}:bans') && keys.includes('{ttl}:epoch'));
      for (const key of keys) {
        const ttl = await redis.client.pttl(key);
        assert.ok(ttl > 0, `${key} has a TTL (${ttl})`);
      }
      // The ban index lives as long as its longest ban.
      assert.ok((await redis.client.pttl('{ttl}:bans')) > 60_000);
      assert.ok((await redis.client.pttl('{ttl}:b:198.51.100.2')) <= 60_000);
    } finally {
      await store.close();
    }
  });

  it('fails fast while the store is gone, reports it, and serves again after a restart with a new epoch', async () => {
    const store = await RedisProtectionStore.open(options(redis.url, 'outage'));
    const status: boolean[] = [];
    store.onStatus((up) => status.push(up));
    try {
      await waitFor(() => store.up, 5000, 'store up');
      const epoch = await store.epoch();
      await redis.kill();
      await waitFor(() => !store.up, 5000, 'store down');
      const started = Date.now();
      await assert.rejects(store.score({ key: '198.51.100.9', points: 2, reason: 'login-failed', now: Date.now() }, POLICY));
      assert.ok(Date.now() - started < 1000, 'no wait for a store that is gone');
      await redis.restart();
      await waitFor(() => store.up, 10_000, 'store up');
      assert.ok(status.includes(false), 'reported down');
      assert.equal(status.at(-1), true, 'reported up again');
      assert.notEqual(await store.epoch(), epoch, 'an empty store has a new epoch');
      const result = await store.score({ key: '198.51.100.9', points: 2, reason: 'login-failed', now: Date.now() }, POLICY);
      assert.equal(result.score, 2);
    } finally {
      await store.close();
    }
  });

  it('a hung store (stopped, connections open) fails a command within the command timeout', async () => {
    const store = await RedisProtectionStore.open(options(redis.url, 'hung'));
    try {
      await waitFor(() => store.up, 5000, 'store up');
      redis.pause();
      const started = Date.now();
      await assert.rejects(store.score({ key: '198.51.100.10', points: 2, reason: 'login-failed', now: Date.now() }, POLICY), /timed out/i);
      const waited = Date.now() - started;
      assert.ok(waited >= 200 && waited < 1000, `gave up after ${waited} ms (commandTimeoutMs 250)`);
    } finally {
      redis.resume();
      await store.close();
    }
  });

  it('rediss:// with a password file and a CA file: connects, verifies the server, shares; a wrong CA never connects', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-rediss-'));
    const pki = await createTestPki(path.join(dir, 'pki'));
    const passwordFile = path.join(dir, 'password');
    await writeFile(passwordFile, 'store-password-123\n', { mode: 0o600 });
    const secure = await startTestRedis({ password: 'store-password-123', tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caFile } });
    const url = secure.url.replace('127.0.0.1', 'localhost');
    const store = await RedisProtectionStore.open({ ...options(url, 'tls'), passwordFile, caFile: pki.caFile });
    const rogue = await RedisProtectionStore.open({ ...options(url, 'tls'), passwordFile, caFile: pki.rogueCaFile });
    try {
      await waitFor(() => store.up, 5000, 'store up');
      const ban = await store.ban('198.51.100.20', { reason: 'operator', manual: true, durationMs: 60_000, now: Date.now() }, POLICY);
      assert.equal(ban.key, '198.51.100.20');
      assert.equal(await secure.client.exists('{tls}:b:198.51.100.20'), 1);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(rogue.up, false, 'a server certificate from another CA is refused');
    } finally {
      await store.close();
      await rogue.close();
      await secure.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
