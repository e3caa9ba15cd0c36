/** @module test/unit/config/load — layering, validation, problem collection, freezing. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfigObject } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/errors.js';
import type { ConfigIssue } from '../../../src/config/errors.js';
import { configSchema } from '../../../src/config/schema.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kftpd-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content, 'utf8');
  return path;
}

async function problems(options: Parameters<typeof loadConfig>[0]): Promise<{ error: ConfigError; issues: readonly ConfigIssue[] }> {
  try {
    await loadConfig(options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return { error, issues: error.issues };
  }
  assert.fail('expected a ConfigError');
}

test('no file, env or flags: the schema defaults', async () => {
  const { config, file: used } = await loadConfig({ env: {} });
  assert.deepEqual(config, configSchema.parse({}));
  assert.equal(used, undefined);
  assert.equal(config.listen.port, 2121);
  assert.equal(config.log.level, 'info');
});

test('precedence on one leaf: defaults < file < env < flags', async () => {
  const path = await file('precedence.yaml', 'listen:\n  port: 1000\n  host: 0.0.0.0\n');
  const env = { KFTPD_LISTEN_PORT: '2000' };
  assert.equal((await loadConfig({ file: path })).config.listen.port, 1000);
  assert.equal((await loadConfig({ file: path, env: {} })).config.listen.port, 1000);
  assert.equal((await loadConfig({ file: path, env })).config.listen.port, 2000);
  const all = await loadConfig({ file: path, env, args: ['--listen.port=3000'] });
  assert.equal(all.config.listen.port, 3000);
  // Merging is per leaf: the file's sibling survives env/flag overrides.
  assert.equal(all.config.listen.host, '0.0.0.0');
  assert.equal(all.file, path);
});

test('the file can come from KFTPD_CONFIG; options.file wins', async () => {
  const a = await file('a.yaml', 'serverName: from-env-file\n');
  const b = await file('b.yaml', 'serverName: from-option\n');
  assert.equal((await loadConfig({ env: { KFTPD_CONFIG: a } })).config.serverName, 'from-env-file');
  const both = await loadConfig({ file: b, env: { KFTPD_CONFIG: a } });
  assert.equal(both.config.serverName, 'from-option');
  assert.equal(both.file, b);
});

test('JSON files are accepted; lists replace rather than merge', async () => {
  const path = await file('c.json', '{\n\t"hostNames": ["a", "b"],\n\t"passive": {"portMin": 0, "portMax": 0}\n}\n');
  const { config } = await loadConfig({ file: path, env: {} });
  assert.deepEqual(config.hostNames, ['a', 'b']);
  assert.equal(config.passive.portMax, 0);
  const overridden = await loadConfig({ file: path, env: { KFTPD_HOST_NAMES: 'c' } });
  assert.deepEqual(overridden.config.hostNames, ['c']);
});

test('an empty file means all defaults', async () => {
  const path = await file('empty.yaml', '# nothing here\n');
  assert.deepEqual((await loadConfig({ file: path, env: {} })).config, configSchema.parse({}));
});

test('every problem of a file is listed, by path and line', async () => {
  const path = await file('three.yaml', 'listen:\n  port: "abc"\n  hots: x\nlimits:\n  maxCommandLineBytes: 10\n');
  const { error, issues } = await problems({ file: path, env: {} });
  assert.deepEqual(
    issues.map((i) => i.path),
    ['listen.port', 'listen.hots', 'limits.maxCommandLineBytes'],
  );
  assert.equal(issues[0]?.source, `${path}:2:9`);
  assert.equal(issues[1]?.source, `${path}:3:3`);
  assert.match(issues[1]?.message ?? '', /unknown setting \(did you mean host\?\)/);
  assert.equal(issues[2]?.source, `${path}:5:24`);
  assert.match(error.message, /^invalid configuration \(3 problems\):\n/);
  for (const p of ['listen.port', 'listen.hots', 'limits.maxCommandLineBytes']) {
    assert.match(error.message, new RegExp(`\\n  - ${p.replace(/\./g, '\\.')}: `));
  }
});

test('unknown env var and unknown flag are reported with the other problems', async () => {
  const { issues } = await problems({
    env: { KFTPD_LISTEN_PROT: '1', KFTPD_CONFIG: '', KFTPD_LIMITS_MAX_SESSIONS: '0' },
    args: ['--passive.portMn=3', 'serve', '--json'],
  });
  const byPath = new Map(issues.map((i) => [i.path, i]));
  assert.match(byPath.get('KFTPD_LISTEN_PROT')?.message ?? '', /unknown environment variable \(did you mean KFTPD_LISTEN_PORT\?\)/);
  assert.match(byPath.get('--passive.portMn')?.message ?? '', /unknown option \(did you mean --passive\.portMin\?\)/);
  assert.equal(byPath.get('limits.maxSessions')?.source, 'env KFTPD_LIMITS_MAX_SESSIONS');
  assert.equal(issues.length, 3, 'non-config args (serve, --json) are left to the CLI');
});

test('values from env and flags are coerced and bad ones reported with their origin', async () => {
  const { config } = await loadConfig({
    env: { KFTPD_ACTIVE_ENABLED: 'on', KFTPD_HOST_NAMES: 'x.example, y.example', KFTPD_LOG_LEVEL: 'debug' },
    args: ['--passive.port-min', '0', '--passive.portMax=0', '--no-passive.require-same-address'],
  });
  assert.equal(config.active.enabled, true);
  assert.deepEqual(config.hostNames, ['x.example', 'y.example']);
  assert.equal(config.log.level, 'debug');
  assert.equal(config.passive.portMin, 0);
  assert.equal(config.passive.requireSameAddress, false);

  const { issues } = await problems({ env: { KFTPD_ACTIVE_ENABLED: 'maybe' }, args: ['--listen.port=abc', '--no-listen.host'] });
  const byPath = new Map(issues.map((i) => [i.path, i]));
  assert.equal(byPath.get('active.enabled')?.source, 'env KFTPD_ACTIVE_ENABLED');
  assert.match(byPath.get('active.enabled')?.message ?? '', /got "maybe"/);
  assert.equal(byPath.get('listen.port')?.source, 'flag --listen.port');
  assert.equal(byPath.get('listen.host')?.source, 'flag --no-listen.host');
});

test('cross-field rules are reported with the dotted path', async () => {
  const { issues } = await problems({ env: { KFTPD_PASSIVE_PORT_MIN: '60000' } });
  assert.deepEqual(issues.map((i) => i.path), ['passive.portMax']);
});

test('tls.maxVersion below tls.minVersion is refused', async () => {
  const { issues } = await problems({ env: { KFTPD_TLS_MIN_VERSION: 'TLSv1.3', KFTPD_TLS_MAX_VERSION: 'TLSv1.2' } });
  assert.deepEqual(issues.map((i) => i.path), ['tls.maxVersion']);
});

test('YAML syntax errors are reported with their line', async () => {
  const path = await file('syntax.yaml', 'listen:\n  port: 21\npassive: [1,\nlog: x\n');
  const { issues } = await problems({ file: path, env: {}, args: ['--bogus.flag=1'] });
  const syntax = issues.find((i) => /YAML syntax error/.test(i.message));
  assert.ok(syntax);
  assert.equal(syntax.path, '(root)');
  assert.match(syntax.source ?? '', new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+$`));
  assert.ok(issues.some((i) => i.path === '--bogus.flag'), 'other layers are still checked');
  const dup = await file('dup.yaml', 'serverName: a\nserverName: b\n');
  const dupIssues = (await problems({ file: dup, env: {} })).issues;
  assert.match(dupIssues[0]?.message ?? '', /unique/);
  assert.equal(dupIssues[0]?.source, `${dup}:2:1`);
});

test('unreadable files and non-mapping files are reported', async () => {
  const missing = join(dir, 'missing.yaml');
  const { issues } = await problems({ file: missing, env: {} });
  assert.deepEqual(issues, [{ path: '(root)', message: 'cannot read configuration file: no such file', source: missing }]);
  const scalar = await file('scalar.yaml', '42\n');
  assert.match((await problems({ file: scalar, env: {} })).issues[0]?.message ?? '', /must contain a mapping.*got a number/);
});

test('the loaded config is deeply frozen', async () => {
  const { config } = await loadConfig({ env: { KFTPD_HOST_NAMES: 'a' } });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.passive));
  assert.ok(Object.isFrozen(config.hostNames));
  assert.throws(() => {
    (config.passive as { portMin: number }).portMin = 1;
  }, TypeError);
  assert.throws(() => {
    (config.hostNames).push('b');
  }, TypeError);
});

test('parseConfigObject validates programmatic input', () => {
  assert.equal(parseConfigObject({ listen: { port: 21 } }).listen.port, 21);
  assert.throws(
    () => parseConfigObject({ listen: { port: -1 }, nope: 1 }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.issues.map((i) => i.path).join(',') === 'listen.port,nope' &&
      error.issues.every((i) => i.source === undefined),
  );
  assert.throws(() => parseConfigObject('x'), /\(root\): the configuration must be an object of settings, got a string/);
});

test('sftp.port may not be another listener\'s port nor inside the passive range on the same host', () => {
  const refused = (input: Record<string, unknown>): string => {
    try {
      parseConfigObject(input);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      assert.deepEqual(error.issues.map((i) => i.path), ['sftp.port']);
      return error.issues[0]?.message ?? '';
    }
    return assert.fail(`accepted: ${JSON.stringify(input)}`);
  };
  const base = { listen: { host: '0.0.0.0', port: 21 }, passive: { portMin: 50000, portMax: 50099 } };
  assert.match(refused({ ...base, sftp: { enabled: true, port: 21 } }), /sftp\.port 21 is already listen\.port \(FTP\): every listener needs a port of its own/);
  assert.match(refused({ ...base, sftp: { enabled: true, port: 990 }, tls: { implicit: { enabled: true } } }), /tls\.implicit\.port/);
  assert.match(refused({ ...base, sftp: { enabled: true, port: 9090 }, admin: { enabled: true, host: '10.0.0.5' } }), /admin\.port/);
  assert.match(refused({ ...base, sftp: { enabled: true, port: 50000 } }), /in the passive range 50000-50099/);
  assert.match(refused({ ...base, sftp: { enabled: true, port: 50099, host: '10.0.0.5' } }), /passive range/);
  assert.match(refused({ listen: { host: '10.0.0.5', port: 2121 }, sftp: { enabled: true, host: '::', port: 2121 } }), /listen\.port/);
  // Accepted: SFTP off, kernel-chosen, another specific address, the implicit port unused, outside the range.
  for (const ok of [
    { ...base, sftp: { enabled: false, port: 21 } },
    { ...base, listen: { host: '0.0.0.0', port: 0 }, sftp: { enabled: true, port: 0 } },
    { listen: { host: '10.0.0.5', port: 2121 }, sftp: { enabled: true, host: '10.0.0.6', port: 2121 } },
    { ...base, sftp: { enabled: true, port: 990 } },
    { ...base, sftp: { enabled: true, port: 9090 } },
    { ...base, sftp: { enabled: true, port: 22 } },
    { ...base, sftp: { enabled: true, port: 50100 } },
  ]) {
    assert.equal(parseConfigObject(ok).sftp.port, ok.sftp.port);
  }
});
