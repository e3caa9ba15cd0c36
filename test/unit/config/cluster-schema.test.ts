/**
 * @module test/unit/config/cluster-schema
 * The cluster section: empty by default (no sharing); redis:// and rediss:// URLs with an
 * optional ACL user and database number are taken; other schemes, a password inside the URL
 * (it would sit in a ConfigMap and in printed configs) and paths that are not a database
 * number are refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisUrlProblem } from '../../../src/config/cluster-schema.js';
import { configSchema } from '../../../src/config/schema.js';

test('no store by default', () => {
  const config = configSchema.parse({});
  assert.equal(config.cluster.redis.url, '');
  assert.equal(config.cluster.redis.keyPrefix, 'kftpd');
  assert.ok(config.cluster.redis.commandTimeoutMs <= 1000, 'a short command timeout');
});

test('redis URLs', () => {
  for (const ok of ['', 'redis://valkey:6379', 'redis://valkey.kftpd.svc:6379/0', 'rediss://kftpd@redis.example.com:6380/2', 'redis://[::1]:6379']) assert.equal(redisUrlProblem(ok), null, ok);
  assert.match(redisUrlProblem('http://valkey:6379') ?? '', /redis:\/\/ or rediss:\/\//);
  assert.match(redisUrlProblem('valkey:6379') ?? '', /redis:\/\/ or rediss:\/\//);
  assert.match(redisUrlProblem('redis://:hunter2@valkey:6379') ?? '', /passwordFile/);
  assert.match(redisUrlProblem('redis://user:hunter2@valkey:6379') ?? '', /passwordFile/);
  assert.match(redisUrlProblem('redis://valkey:6379/kftpd') ?? '', /database number/);
  assert.throws(() => configSchema.parse({ cluster: { redis: { url: 'redis://:pw@valkey' } } }), /passwordFile/);
});
