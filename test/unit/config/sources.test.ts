/** @module test/unit/config/sources — leaf derivation, names, coercion, env and flag parsing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  camelToKebab,
  camelToUpperSnake,
  coerceLeafValue,
  configLeaves,
  configSections,
  describeSchema,
  envOverrides,
  flagOverrides,
  isSecretLeafName,
} from '../../../src/config/sources.js';
import type { ConfigLeaf } from '../../../src/config/sources.js';
import { configSchema } from '../../../src/config/schema.js';

function leaf(dotted: string): ConfigLeaf {
  const found = configLeaves().find((l) => l.dotted === dotted);
  assert.ok(found, `leaf ${dotted} exists`);
  return found;
}

test('env names: KFTPD_ + UPPER_SNAKE segments', () => {
  assert.equal(leaf('passive.portMin').env, 'KFTPD_PASSIVE_PORT_MIN');
  assert.equal(leaf('stateDir').env, 'KFTPD_STATE_DIR');
  assert.equal(leaf('limits.maxSessionsPerAddress').env, 'KFTPD_LIMITS_MAX_SESSIONS_PER_ADDRESS');
  assert.equal(leaf('passive.portMin').flag, '--passive.portMin');
  assert.equal(camelToUpperSnake('tlsCAFile'), 'TLS_CA_FILE');
  assert.equal(camelToUpperSnake('ipv6Only'), 'IPV6_ONLY');
  assert.equal(camelToKebab('maxSessionsPerAddress'), 'max-sessions-per-address');
});

test('leaves cover the whole schema, with types, defaults and descriptions', () => {
  const leaves = configLeaves();
  const defaults = configSchema.parse({}) as Record<string, unknown>;
  for (const l of leaves) {
    assert.notEqual(l.description, '', `${l.dotted} has a description`);
    let value: unknown = defaults;
    for (const key of l.path) value = (value as Record<string, unknown>)[key];
    assert.deepEqual(l.default, value, `${l.dotted} default`);
  }
  assert.equal(leaf('listen.port').type, 'integer');
  assert.equal(leaf('listen.port').minimum, 0);
  assert.equal(leaf('listen.port').maximum, 65535);
  assert.equal(leaf('limits.idleTimeoutMs').maximum, undefined, 'safe-integer bound is not reported');
  assert.equal(leaf('active.enabled').type, 'boolean');
  assert.equal(leaf('hostNames').type, 'string-array');
  assert.equal(leaf('log.level').type, 'enum');
  assert.ok(leaf('log.level').enumValues?.includes('debug'));
  assert.equal(leaf('serverName').type, 'string');
  assert.equal(new Set(leaves.map((l) => l.env)).size, leaves.length);
  assert.ok(configSections().some((s) => s.dotted === 'passive' && s.description !== ''));
  assert.ok(Object.isFrozen(leaves[0]));
});

test('describeSchema handles nullable, optional, literal unions, nesting and secrets', () => {
  const schema = z.strictObject({
    tls: z
      .strictObject({
        keyFile: z.string().default('').describe('Path to the key file.'),
        key: z.string().default('').describe('Inline PEM key.'),
        certFile: z.string().nullable().default(null).describe('Cert path.'),
        mode: z.union([z.literal('off'), z.literal('explicit')]).default('off').describe('Mode.'),
        acme: z.strictObject({ email: z.string().optional().describe('Contact.') }).prefault({}),
      })
      .prefault({}),
    admin: z.strictObject({ token: z.string().default('').describe('Bearer token.'), tokenFile: z.string().default('').describe('x') }).prefault({}),
    users: z.strictObject({ passwordFile: z.string().default('').describe('x'), apiKey: z.string().default('').describe('x') }).prefault({}),
    proxy: z.strictObject({ upstream: z.string().default('').describe('x') }).prefault({}),
  });
  const { leaves, sections } = describeSchema(schema, ['proxy']);
  const byPath = new Map(leaves.map((l) => [l.dotted, l]));
  assert.deepEqual(
    leaves.map((l) => l.dotted),
    ['tls.keyFile', 'tls.key', 'tls.certFile', 'tls.mode', 'tls.acme.email', 'admin.token', 'admin.tokenFile', 'users.passwordFile', 'users.apiKey', 'proxy.upstream'],
  );
  assert.equal(byPath.get('tls.certFile')?.type, 'string');
  assert.equal(byPath.get('tls.certFile')?.default, null);
  assert.deepEqual(byPath.get('tls.mode')?.enumValues, ['off', 'explicit']);
  assert.equal(byPath.get('tls.acme.email')?.env, 'KFTPD_TLS_ACME_EMAIL');
  assert.equal(byPath.get('tls.acme.email')?.default, undefined);
  const secrets = leaves.filter((l) => l.secret).map((l) => l.dotted);
  assert.deepEqual(secrets, ['tls.key', 'admin.token', 'users.apiKey', 'proxy.upstream']);
  assert.deepEqual(sections.map((s) => s.dotted), ['tls', 'tls.acme', 'admin', 'users', 'proxy']);
});

test('describeSchema rejects unmappable shapes, env clashes and stray SECRET_PATHS', () => {
  assert.throws(() => describeSchema(z.object({ m: z.record(z.string(), z.string()).default({}) })), /leaf m has a shape/);
  assert.throws(() => describeSchema(z.object({ aB: z.string().default(''), a_b: z.string().default('') })), /both map to KFTPD_A_B/);
  assert.throws(() => describeSchema(z.object({ a: z.string().default('') }), ['b']), /SECRET_PATHS entry b/);
});

test('secret name heuristic spares paths to secret files and non-strings', () => {
  assert.equal(isSecretLeafName('password', 'string'), true);
  assert.equal(isSecretLeafName('privateKey', 'string'), true);
  assert.equal(isSecretLeafName('sessionSecret', 'string'), true);
  assert.equal(isSecretLeafName('keyFile', 'string'), false);
  assert.equal(isSecretLeafName('privateKeyPath', 'string'), false);
  assert.equal(isSecretLeafName('secretName', 'string'), false);
  assert.equal(isSecretLeafName('tokenTtlMs', 'integer'), false);
  assert.equal(isSecretLeafName('host', 'string'), false);
});

test('coercion: numbers, booleans, lists; unconvertible values stay raw', () => {
  const int = { type: 'integer' } as const;
  assert.equal(coerceLeafValue(int, '2121'), 2121);
  assert.equal(coerceLeafValue(int, ' 7 '), 7);
  assert.equal(coerceLeafValue(int, 'abc'), 'abc');
  assert.equal(coerceLeafValue(int, ''), '', 'empty is not zero');
  assert.equal(coerceLeafValue({ type: 'number' }, '1.5'), 1.5);
  for (const word of ['true', '1', 'yes', 'on', 'TRUE', 'On']) assert.equal(coerceLeafValue({ type: 'boolean' }, word), true, word);
  for (const word of ['false', '0', 'no', 'off', 'No']) assert.equal(coerceLeafValue({ type: 'boolean' }, word), false, word);
  assert.equal(coerceLeafValue({ type: 'boolean' }, 'maybe'), 'maybe');
  assert.deepEqual(coerceLeafValue({ type: 'string-array' }, ' a, b ,,c '), ['a', 'b', 'c']);
  assert.deepEqual(coerceLeafValue({ type: 'string-array' }, ''), []);
  assert.equal(coerceLeafValue({ type: 'string' }, ' x '), ' x ');
  assert.equal(coerceLeafValue({ type: 'enum' }, 'debug'), 'debug');
});

test('envOverrides builds a nested object and reports unknown KFTPD_ names', () => {
  const result = envOverrides({
    KFTPD_PASSIVE_PORT_MIN: '1000',
    KFTPD_ACTIVE_ENABLED: 'yes',
    KFTPD_HOST_NAMES: 'a,b',
    KFTPD_CONFIG: '/etc/kftpd.yaml',
    KFTPD_PASIVE_PORT_MAX: '2',
    PATH: '/bin',
  });
  assert.deepEqual(result.values, { passive: { portMin: 1000 }, active: { enabled: true }, hostNames: ['a', 'b'] });
  assert.deepEqual(result.unknown, ['KFTPD_PASIVE_PORT_MAX']);
  assert.equal(result.origins['passive.portMin'], 'env KFTPD_PASSIVE_PORT_MIN');
});

test('flagOverrides: =value, separate value, bare boolean, --no-, kebab, rest and unknown', () => {
  const result = flagOverrides([
    'serve',
    '--passive.portMin=1000',
    '--passive.port-max',
    '2000',
    '--active.enabled',
    '--no-passive.require-same-address',
    '--host-names=a, b',
    '--json',
    '-c',
    'file.yaml',
    '--listen.prot=1',
    '--stateDr',
    '--',
    '--listen.port=5',
  ]);
  assert.deepEqual(result.values, {
    passive: { portMin: 1000, portMax: 2000, requireSameAddress: false },
    active: { enabled: true },
    hostNames: ['a', 'b'],
  });
  assert.deepEqual(result.unknown, ['--listen.prot']);
  assert.deepEqual(result.rest, ['serve', '--json', '-c', 'file.yaml', '--stateDr', '--', '--listen.port=5']);
  assert.deepEqual(result.invalid, []);
  assert.equal(result.origins['passive.portMax'], 'flag --passive.port-max');
});

test('flagOverrides: boolean flags consume only a following boolean word', () => {
  assert.deepEqual(flagOverrides(['--active.enabled', 'false', 'serve']).values, { active: { enabled: false } });
  const r = flagOverrides(['--active.enabled', 'serve']);
  assert.deepEqual(r.values, { active: { enabled: true } });
  assert.deepEqual(r.rest, ['serve']);
  assert.deepEqual(flagOverrides(['--active.enabled=off']).values, { active: { enabled: false } });
});

test('flagOverrides: misuse of known flags is reported, not ignored', () => {
  const r = flagOverrides(['--no-listen.port', '--listen.host', '--no-active.enabled=true', '--serverName']);
  assert.deepEqual(
    r.invalid.map((i) => i.dotted),
    ['listen.port', 'listen.host', 'active.enabled', 'serverName'],
  );
  assert.deepEqual(r.values, {});
});
