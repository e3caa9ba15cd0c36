/** @module test/unit/config/check-config — `kftpd check-config` output and exit codes. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCheckConfig } from '../../../src/cli/commands/check-config.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kftpd-check-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCheckConfig(args, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env,
  });
  return { code, stdout, stderr };
}

test('valid config: effective YAML on stdout, exit 0', async () => {
  const file = join(dir, 'ok.yaml');
  await writeFile(file, 'listen:\n  port: 2200\nserverName: from-file\n');
  const result = await run(['--config', file, '--serverName=from-flag'], { KFTPD_LISTEN_HOST: '0.0.0.0' });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const printed = parse(result.stdout) as { listen: { port: number; host: string }; serverName: string; log: { level: string } };
  assert.equal(printed.listen.port, 2200);
  assert.equal(printed.listen.host, '0.0.0.0');
  assert.equal(printed.serverName, 'from-flag');
  assert.equal(printed.log.level, 'info');
  assert.match(result.stdout, new RegExp(`^# configuration file: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
});

test('--json, -c and KFTPD_CONFIG', async () => {
  const file = join(dir, 'json.yaml');
  await writeFile(file, 'serverName: j\n');
  const viaShort = await run(['-c', file, '--json']);
  assert.equal(viaShort.code, 0, viaShort.stderr);
  assert.equal((JSON.parse(viaShort.stdout) as { serverName: string }).serverName, 'j');
  const viaEnv = await run(['--json'], { KFTPD_CONFIG: file });
  assert.equal((JSON.parse(viaEnv.stdout) as { serverName: string }).serverName, 'j');
});

test('invalid config: every problem on stderr, exit 2', async () => {
  const file = join(dir, 'bad.yaml');
  await writeFile(file, 'listen:\n  port: 99999\nbogus: 1\n');
  const result = await run(['-c', file, '--limits.maxSessions=0'], { KFTPD_NOPE: '1' });
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^invalid configuration \(4 problems\):\n/);
  for (const path of ['listen.port', 'bogus', 'limits.maxSessions', 'KFTPD_NOPE']) {
    assert.match(result.stderr, new RegExp(`\\n  - ${path.replace(/\./g, '\\.')}: `), path);
  }
});

test('missing file and usage errors exit 2', async () => {
  const missing = await run(['-c', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read configuration file/);
  const noValue = await run(['--config']);
  assert.equal(noValue.code, 2);
  assert.match(noValue.stderr, /--config needs a file path/);
  const stray = await run(['--jsn']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /unexpected argument --jsn/);
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: kftpd check-config/);
});
