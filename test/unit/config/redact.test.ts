/** @module test/unit/config/redact — secrets never reach printed configs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { REDACTED, redactConfig, redactWithLeaves } from '../../../src/config/redact.js';
import { describeSchema } from '../../../src/config/sources.js';
import { parseConfigObject } from '../../../src/config/load.js';

test('secret leaves (by SECRET_PATHS or by name) are redacted; key/password FILE paths are not', () => {
  const schema = z.strictObject({
    tls: z
      .strictObject({
        keyFile: z.string().default('').describe('x'),
        key: z.string().default('').describe('x'),
        passphrase: z.string().default('').describe('x'),
      })
      .prefault({}),
    admin: z
      .strictObject({
        tokens: z.array(z.string()).default([]).describe('x'),
        tokenFile: z.string().default('').describe('x'),
        port: z.number().int().default(9000).describe('x'),
      })
      .prefault({}),
    upstream: z.strictObject({ dsn: z.string().default('').describe('x') }).prefault({}),
  });
  const { leaves } = describeSchema(schema, ['upstream.dsn']);
  const config = schema.parse({
    tls: { keyFile: '/etc/tls/key.pem', key: '-----BEGIN PRIVATE KEY-----', passphrase: '' },
    admin: { tokens: ['t1', 't2'], tokenFile: '/run/token' },
    upstream: { dsn: 'postgres://u:p@h/db' },
  });
  const before = structuredClone(config);
  assert.deepEqual(redactWithLeaves(config, leaves), {
    tls: { keyFile: '/etc/tls/key.pem', key: REDACTED, passphrase: '' },
    admin: { tokens: [REDACTED, REDACTED], tokenFile: '/run/token', port: 9000 },
    upstream: { dsn: REDACTED },
  });
  assert.deepEqual(config, before, 'the input is not modified');
});

test('redactConfig returns a deep copy of the real config', () => {
  const config = Object.freeze(parseConfigObject({ hostNames: ['a'] }));
  const copy = redactConfig(config) as { hostNames: string[] };
  assert.deepEqual(copy, config);
  assert.notEqual(copy, config);
  copy.hostNames.push('b');
  assert.deepEqual(config.hostNames, ['a']);
});
