/**
 * @module test/integration/cli-help
 * `kftpd <command> --help`, `-h` and `kftpd help <command>` for every command, run as a real
 * process of the built CLI: exit 0, the command's own usage on stdout, nothing on stderr, and
 * no side effect (serve must not start listening). The list of commands is spelt out here and
 * checked against the registry and the files in cli/commands, so a new command without help
 * fails this suite.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/command-registry.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const COMMANDS_DIR = fileURLToPath(new URL('../../src/cli/commands/', import.meta.url));

/** Every command and, to make the check sharper, arguments a user might have typed before --help. */
const EXPECTED: readonly { words: string[]; before: string[] }[] = [
  { words: ['serve'], before: ['--listen.port=0'] },
  { words: ['check-config'], before: ['--json'] },
  { words: ['hash-password'], before: ['--log-n', '10'] },
  { words: ['user', 'add'], before: ['alice'] },
  { words: ['doctor'], before: ['--external', '127.0.0.1:1'] },
  { words: ['render'], before: ['kubernetes'] },
  { words: ['bans'], before: ['list'] },
  { words: ['sftp', 'host-keys', 'generate'], before: ['--out', 'keys'] },
  { words: ['version'], before: [] },
];

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

let cwd: string;

function kftpd(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    // A scratch cwd and an empty environment: a serve that wrongly started would create
    // ./.kftpd and ./data there, not in the repository, and would be killed by the timeout.
    execFile(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH }, timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal ?? 'error') : 0, stdout, stderr });
    });
  });
}

before(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'kftpd-cli-help-'));
});

after(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe('kftpd <command> --help', () => {
  for (const { words, before: typed } of EXPECTED) {
    const name = words.join(' ');
    it(`${name}: --help, -h, help ${name} and --help after arguments print its usage and exit 0`, async () => {
      const runs = await Promise.all([
        kftpd([...words, '--help']),
        kftpd([...words, '-h']),
        kftpd(['help', ...words]),
        kftpd([...words, ...typed, '--help']),
      ]);
      for (const run of runs) {
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stderr, '');
        assert.ok(run.stdout.startsWith(`usage: kftpd ${name}`), run.stdout);
        assert.ok(run.stdout.endsWith('\n'));
        assert.equal(run.stdout, runs[0]?.stdout);
      }
      // The command's usage, not the overview.
      assert.doesNotMatch(runs[0]?.stdout ?? '', /^Commands:/m);
      // Nothing was served or written.
      assert.deepEqual(await readdir(cwd), []);
    });
  }

  it('covers every registered command and every file in cli/commands', async () => {
    assert.deepEqual(
      COMMANDS.map((c) => c.words.join(' ')).sort(),
      EXPECTED.map((e) => e.words.join(' ')).sort(),
    );
    const files = (await readdir(COMMANDS_DIR)).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -'.js'.length));
    assert.deepEqual(files.sort(), EXPECTED.map((e) => e.words.join('-')).sort());
  });
});

describe('kftpd help', () => {
  it('--help, -h and help print the overview listing every command, exit 0', async () => {
    const runs = await Promise.all([kftpd(['--help']), kftpd(['-h']), kftpd(['help'])]);
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '');
      assert.equal(run.stdout, runs[0]?.stdout);
      assert.match(run.stdout, /^usage: kftpd <command>/);
      for (const { words } of EXPECTED) assert.match(run.stdout, new RegExp(`^  ${words.join(' ')}\\b`, 'm'));
    }
  });

  it('user --help and help user print the usage of the user subcommands', async () => {
    const runs = await Promise.all([kftpd(['user', '--help']), kftpd(['help', 'user'])]);
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^usage: kftpd user add/);
    }
  });

  it('an unknown command or subcommand is a usage error (exit 2) with the usage on stderr', async () => {
    const [unknown, help, user, userBogus] = await Promise.all([kftpd(['nope']), kftpd(['help', 'nope']), kftpd(['user']), kftpd(['user', 'bogus', '--x'])]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "nope"[\s\S]*usage: kftpd <command>/);
    assert.equal(help.code, 2);
    assert.match(help.stderr, /no command "nope"/);
    assert.equal(user.code, 2);
    assert.match(user.stderr, /kftpd user: missing subcommand[\s\S]*usage: kftpd user add/);
    assert.equal(userBogus.code, 2);
    assert.match(userBogus.stderr, /unknown subcommand "bogus"/);
    for (const run of [unknown, help, user, userBogus]) assert.equal(run.stdout, '');
  });

  it('--help after a -- terminator is an argument, not a help request', async () => {
    const run = await kftpd(['version', '--', '--help']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unexpected argument --/);
  });

  it('version and --version print the package version', async () => {
    const [a, b] = await Promise.all([kftpd(['version']), kftpd(['--version'])]);
    assert.match(a.stdout, /^\d+\.\d+\.\d+\S*\n$/);
    assert.equal(b.stdout, a.stdout);
  });
});
