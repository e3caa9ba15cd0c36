/**
 * @module test/helpers/client-suite
 * The one fixture of the real-client suites (curl, lftp, ftplib, basic-ftp), each looped over
 * the control-connection transports {plain, explicit TLS, implicit TLS}: a server with the
 * test PKI's certificate, AUTH TLS optional on the main port and an implicit FTPS listener, a
 * temp dir, and on demand the 64 MiB file, the 1,000-file directory and a smaller payload for
 * the TLS rounds. When the client binary is missing the heavy files are not made and every
 * case skips with the reason.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.js';
import { createTestPki, type TestPki } from './pki.js';
import { mergeConfig, type TestServer } from './server.js';
import { makeTempDir, removeDir, writeRandomFile } from './integration.js';
import { seedManyFiles } from './storage.js';
import { startFtpsServer } from './ftps-support.js';

export const TRANSPORTS = ['plain', 'explicit', 'implicit'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** describe() titles; the TLS rounds run under the default "enforced" data-channel session reuse. */
export const TRANSPORT_TITLES: Readonly<Record<Transport, string>> = {
  plain: 'plain FTP',
  explicit: 'explicit TLS (AUTH TLS, sessionReuse enforced)',
  implicit: 'implicit TLS (sessionReuse enforced)',
};

export interface ClientFixtureOptions {
  /** Temp dir prefix. */
  readonly name: string;
  /** The reason the client cannot run (binary missing), else null. */
  readonly missing?: () => string | null;
  /** Server config deep-merged over the TLS defaults. */
  readonly config?: ConfigInput;
  /** Make the 64 MiB local file (`bigPath`, `bigSha`). */
  readonly bigFile?: boolean;
  /** Make /many with 1,000 files on the server (`manyNames`). */
  readonly manyFiles?: boolean;
  /** Size of the local payload for the TLS rounds (`payloadPath`, `payloadSha`); none when absent. */
  readonly payloadBytes?: number;
}

/** Filled in by the fixture's before() hook. */
export interface ClientFixture {
  t: TestServer;
  pki: TestPki;
  /** Temp dir root (pki/ and local/ below it). */
  dir: string;
  /** The client's local working dir. */
  local: string;
  bigPath: string;
  bigSha: string;
  manyNames: string[];
  payloadPath: string;
  payloadSha: string;
  /** True (and the test skipped with the reason) when the client cannot run. */
  skipped(ctx: TestContext): boolean;
}

/** Registers before/after hooks in the calling describe() and returns the fixture they fill. */
export function useClientFixture(options: ClientFixtureOptions): ClientFixture {
  const missing = options.missing ?? (() => null);
  const fixture = {
    skipped(ctx: TestContext): boolean {
      const reason = missing();
      if (reason) ctx.skip(reason);
      return reason !== null;
    },
  } as ClientFixture;

  before(async () => {
    fixture.dir = await makeTempDir(options.name);
    fixture.local = path.join(fixture.dir, 'local');
    fixture.pki = await createTestPki(path.join(fixture.dir, 'pki'));
    const config = mergeConfig({ tls: { implicit: { enabled: true, port: 0 } } }, options.config ?? {}) as ConfigInput;
    fixture.t = await startFtpsServer(fixture.pki, { config });
    await mkdir(fixture.local, { recursive: true });
    if (missing()) return;
    if (options.bigFile) {
      fixture.bigPath = path.join(fixture.local, 'big.bin');
      fixture.bigSha = await writeRandomFile(fixture.bigPath, 64 * 1024 * 1024);
    }
    if (options.manyFiles) fixture.manyNames = await seedManyFiles(fixture.t.storage, '/many', 1000);
    if (options.payloadBytes !== undefined) {
      fixture.payloadPath = path.join(fixture.local, 'payload.bin');
      fixture.payloadSha = await writeRandomFile(fixture.payloadPath, options.payloadBytes);
    }
  });

  after(async () => {
    await fixture.t?.close();
    if (fixture.dir) await removeDir(fixture.dir);
  });

  return fixture;
}

/** Entry names from `ls -l` style LIST output. */
export function listNames(text: string): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line !== '')
    .map((line) => {
      const match = /^\S{10} +\d+ +\S+ +\S+ +\d+ +\w{3} +\d+ +[\d:]+ (.*)$/.exec(line);
      assert.ok(match, `unparsable LIST line: ${JSON.stringify(line)}`);
      return match[1] ?? '';
    });
}

/** How many times the server logged the command `verb`. */
export function commandsSeen(t: TestServer, verb: string): number {
  return t.logs.filter((r) => r.event === 'command' && r.verb === verb).length;
}

/** After a client's plain round: uploads and downloads were logged as transfers, the failed login too, the password never. */
export function assertClientLogs(t: TestServer): void {
  assert.ok(t.logs.some((r) => r.event === 'transfer' && r.result === 'ok' && r.direction === 'upload'));
  assert.ok(t.logs.some((r) => r.event === 'transfer' && r.result === 'ok' && r.direction === 'download'));
  assert.ok(t.logs.some((r) => r.event === 'login' && r.result === 'failed'), 'the failed login was logged');
  assert.ok(!JSON.stringify(t.logs).includes(t.password), 'the password appears in the logs');
}
