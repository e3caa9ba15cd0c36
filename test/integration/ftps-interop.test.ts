/**
 * @module test/integration/ftps-interop
 * The clients people really use, over explicit (AUTH TLS) and implicit FTPS, with the default
 * `tls.sessionReuse: enforced` and the server certificate verified against the test CA:
 * - curl `-Z --parallel-max 8`: one process, eight control connections, one TLS session cache
 *   (its data connections resume sessions issued to sibling control connections);
 * - rclone (Go, a pool of control connections, one tls.ClientSessionCache): sync, check
 *   --download, moveto, deletefile, rmdir, purge;
 * - wget (GnuTLS) `ftps://` (explicit) and `--ftps-implicit`;
 * - basic-ftp: a 0-byte upload and `uploadFromDir` of a tree holding empty files, in both
 *   storage.uploadMode resumable and atomic;
 * - lftp (GnuTLS) `mirror -R --parallel=4`.
 * Every file is checked by sha256; no data connection may be refused (522, counted in
 * kftpd_tls_data_refused_total, logged as tls.data-not-resumed). A client whose binary is
 * missing is skipped with the reason.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type tls from 'node:tls';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Client } from 'basic-ftp';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { TestServer } from '../helpers/server.js';
import {
  CURL_MISSING,
  LFTP_MISSING,
  LFTP_SCRIPT_SETTINGS,
  lftpQuote as q,
  lftpTlsSettings,
  RCLONE_MISSING,
  WGET_MISSING,
  describeRun,
  makeTempDir,
  randomBuffer,
  removeDir,
  run,
  sha256,
  sha256File,
  writeTree,
  type RunResult,
} from '../helpers/integration.js';
import { ALICE, events, implicitPort, metricValue, startFtpsServer } from '../helpers/ftps-support.js';
import { exists, makeDirectories, readAll, seedFile, treeSums } from '../helpers/storage.js';

const MODES = ['explicit', 'implicit'] as const;
type Mode = (typeof MODES)[number];

/** The tree every directory-syncing client uploads: nested directories, empty files, a space. */
const TREE: Readonly<Record<string, number>> = {
  'a.bin': 300_001,
  'empty.txt': 0,
  'sub/b.bin': 1_100_003,
  'sub/empty.bin': 0,
  'sub/deeper/c d.txt': 4_321,
  'sub/deeper/e.bin': 65_536,
};

/**
 * curl over TLS 1.2 resumes by session ID, reliably. Over TLS 1.3 curl 7.88 (OpenSSL 3.0) with
 * -Z now and then sends a data connection's ClientHello without any ticket (no
 * pre_shared_key), sometimes right after logging "SSL re-using session ID": the handshake is a
 * full one and `enforced` refuses it (reason fresh-handshake). OpenSSL spends a TLS 1.3 session
 * on one resumption (single-use tickets) and curl 7.88's shared cache, one session per host,
 * hands the spent session to every data connection that starts before a fresh ticket arrives.
 * kftpd hands out a fresh ticket on every resumed download (tls/session-context), none on
 * uploads (curl would not read it): measured 2026-12-05, 20 runs of 8 files, downloads failed
 * in 5-9 runs and uploads in 17-20 (ProFTPD with its reuse requirement: 148-155 of 160
 * transfers). Kept as a todo so the run shows whether a later curl cures it (docs/ftps.md).
 */
const CURL_VERSIONS = [
  { name: 'TLSv1.2', args: ['--tlsv1.2', '--tls-max', '1.2'], todo: undefined },
  { name: 'TLSv1.3', args: ['--tlsv1.3'], todo: 'curl 7.88/OpenSSL 3.0 with -Z over TLS 1.3 hands a spent session to a data connection (no ticket offered: full handshake, 522); uploads nearly always' },
] as const;

function skipWhen(ctx: TestContext, reason: string | null): boolean {
  if (reason) ctx.skip(reason);
  return reason !== null;
}

describe('real FTPS clients, explicit and implicit (sessionReuse enforced)', () => {
  let dir: string;
  let pki: TestPki;
  /** storage.uploadMode resumable (the default), and atomic for the basic-ftp cases. */
  let t: TestServer;
  let atomic: TestServer;
  /** tls.maxVersion TLSv1.2: the operator's answer for partners whose curl runs -Z over TLS 1.3. */
  let capped: TestServer;
  let tree: string;
  let treeSha: Record<string, string>;
  let emptyRcloneConfig: string;
  let obscuredPassword: string | null = null;
  let counter = 0;

  before(async () => {
    dir = await makeTempDir('ftps-interop');
    pki = await createTestPki(path.join(dir, 'pki'));
    const implicit = { tls: { implicit: { enabled: true, port: 0 } } };
    t = await startFtpsServer(pki, { config: implicit });
    atomic = await startFtpsServer(pki, { config: { ...implicit, storage: { uploadMode: 'atomic' } } });
    capped = await startFtpsServer(pki, { config: { tls: { implicit: { enabled: true, port: 0 }, maxVersion: 'TLSv1.2' } } });
    tree = path.join(dir, 'tree');
    treeSha = await writeTree(tree, TREE);
    emptyRcloneConfig = path.join(dir, 'rclone.conf');
    await writeFile(emptyRcloneConfig, '');
  });

  after(async () => {
    await t.close();
    await atomic.close();
    await capped.close();
    await removeDir(dir);
  });

  function port(server: TestServer, mode: Mode): number {
    return mode === 'implicit' ? implicitPort(server) : server.port;
  }

  /** A fresh local directory for one test. */
  async function scratch(label: string): Promise<string> {
    const local = path.join(dir, `${label}-${++counter}`);
    await mkdir(local, { recursive: true });
    return local;
  }

  /**
   * Runs `body`, then asserts that no data connection of `server` was refused meanwhile: the
   * refusal counter did not move and no tls.data-not-resumed was logged.
   */
  async function noRefusals(server: TestServer, body: () => Promise<void>): Promise<void> {
    const before = await metricValue(server, 'kftpd_tls_data_refused_total', 'reason="not-resumed"');
    const logged = events(server, 'tls.data-not-resumed').length;
    try {
      await body();
    } catch (error) {
      // The server's side of a failed client run: why its data connections were refused.
      const refused = events(server, 'tls.data-not-resumed').slice(logged);
      if (refused.length > 0 && error instanceof Error) error.message += `\n--- server refusals ---\n${refused.map((r) => JSON.stringify(r)).join('\n')}`;
      throw error;
    }
    assert.deepEqual(events(server, 'tls.data-not-resumed').slice(logged), [], 'data connections refused as not resumed');
    assert.equal(await metricValue(server, 'kftpd_tls_data_refused_total', 'reason="not-resumed"'), before);
  }

  /** Data connections that resumed a sibling control connection's TLS session (debug log). */
  function siblingResumptions(server: TestServer): number {
    return events(server, 'tls.data-resumed-sibling').length;
  }

  function ok(result: RunResult, label: string): RunResult {
    assert.equal(result.code, 0, `${label}: ${describeRun(result)}`);
    return result;
  }

  /** curl -Z: 8 downloads then 8 uploads in one run each, through one session cache. */
  async function curlParallel(server: TestServer, mode: Mode, label: string, versionArgs: readonly string[]): Promise<void> {
    const remote = `curl-${mode}-${label}`;
    await makeDirectories(server.storage, `/${remote}`);
    const local = await scratch(`curl-${mode}`);
    const names = Array.from({ length: 8 }, (_, i) => `f${i}.bin`);
    const sums = await Promise.all(names.map((name, i) => seedFile(server.storage, `/${remote}/${name}`, randomBuffer(200_000 + i * 37_001))));
    const url = (name: string) => (mode === 'implicit' ? `ftps://127.0.0.1:${port(server, mode)}/${name}` : `ftp://127.0.0.1:${port(server, mode)}/${name}`);
    const curl = (args: readonly string[]) =>
      run(
        'curl',
        [
          '--silent',
          '--show-error',
          '--verbose',
          '--max-time',
          '30',
          '--connect-timeout',
          '5',
          '--cacert',
          pki.caFile,
          '--user',
          `${ALICE.name}:${ALICE.password}`,
          ...(mode === 'explicit' ? ['--ssl-reqd'] : []),
          ...versionArgs,
          '-Z',
          '--parallel-max',
          '8',
          '--fail-early',
          ...args,
        ],
        { timeoutMs: 40_000 },
      );
    const siblingsBefore = siblingResumptions(server);
    await noRefusals(server, async () => {
      const down = ok(await curl(names.flatMap((name) => ['-o', path.join(local, name), url(`${remote}/${name}`)])), 'curl -Z download');
      assert.doesNotMatch(down.stderr, /< 52[12] /, describeRun(down));
      for (const [i, name] of names.entries()) assert.equal(await sha256File(path.join(local, name)), sums[i], `${name} downloaded`);

      const up = ok(await curl(names.flatMap((name) => ['-T', path.join(local, name), url(`${remote}/up/${name}`)]).concat(['--ftp-create-dirs'])), 'curl -Z upload');
      assert.doesNotMatch(up.stderr, /< 52[12] /, describeRun(up));
      for (const [i, name] of names.entries()) assert.equal(sha256(await readAll(server.storage, `/${remote}/up/${name}`)), sums[i], `${name} uploaded`);
    });
    // The case this suite exists for: curl's one session cache hands a data connection a
    // session issued to another of its control connections.
    // The case this suite exists for: curl's one session cache hands a data connection a
    // session issued to another of its control connections.
    assert.ok(siblingResumptions(server) > siblingsBefore, 'no data connection resumed a sibling\'s TLS session: the test did not exercise the rule');
  }

  for (const mode of MODES) {
    for (const version of CURL_VERSIONS) {
      const options = version.todo ? { todo: version.todo } : {};
      it(`${mode} ${version.name}: curl -Z --parallel-max 8 downloads 8 files and uploads 8 in one run each, sha256 intact`, options, async (ctx) => {
        if (skipWhen(ctx, CURL_MISSING())) return;
        await curlParallel(t, mode, version.name, version.args);
      });
    }

    // curl issue 4654: OpenSSL uses a TLS 1.3 ticket once, so curl's second data connection on
    // one control connection needs the ticket the first one was handed. Node issues no ticket on
    // a resumed connection unless asked (tls/session-context renews them); before that, every
    // file after the first got 522. Uploads over TLS 1.3 stay out of reach: curl never reads
    // from an upload's data connection, so the fresh ticket waits there unread (ProFTPD's and
    // vsftpd's are too) and the next data connection offers the spent session.
    for (const version of CURL_VERSIONS) {
      const direction = version.name === 'TLSv1.3' ? ['download'] as const : ['download', 'upload'] as const;
      for (const way of direction) {
        it(`${mode} ${version.name}: curl ${way === 'download' ? 'fetches' : 'stores'} 4 files over one control connection, every data connection resumed, sha256 intact`, async (ctx) => {
          if (skipWhen(ctx, CURL_MISSING())) return;
          const remote = `serial-${way}-${mode}-${version.name}`;
          const local = await scratch(remote);
          const names = ['one.bin', 'two.bin', 'three.bin', 'four.bin'];
          const url = (name: string) => (mode === 'implicit' ? `ftps://127.0.0.1:${port(t, mode)}/${name}` : `ftp://127.0.0.1:${port(t, mode)}/${name}`);
          const curl = (args: readonly string[]) =>
            run('curl', ['--silent', '--show-error', '--max-time', '30', '--cacert', pki.caFile, '--user', `${ALICE.name}:${ALICE.password}`, ...(mode === 'explicit' ? ['--ssl-reqd'] : []), ...version.args, ...args], { timeoutMs: 40_000 });
          const contents = names.map((_, i) => randomBuffer(150_000 + i * 11_003));
          const sums = contents.map((content) => sha256(content));
          await noRefusals(t, async () => {
            if (way === 'download') {
              await Promise.all(names.map((name, i) => seedFile(t.storage, `/${remote}/${name}`, contents[i] as Buffer)));
              ok(await curl(names.flatMap((name) => [url(`${remote}/${name}`), '-o', path.join(local, name)])), 'curl, 4 downloads');
              for (const [i, name] of names.entries()) assert.equal(await sha256File(path.join(local, name)), sums[i], `${name} downloaded`);
            } else {
              await Promise.all(names.map((name, i) => writeFile(path.join(local, name), contents[i] as Buffer)));
              ok(await curl(names.flatMap((name) => ['-T', path.join(local, name), url(`${remote}/${name}`)]).concat(['--ftp-create-dirs'])), 'curl, 4 uploads');
              for (const [i, name] of names.entries()) assert.equal(sha256(await readAll(t.storage, `/${remote}/${name}`)), sums[i], `${name} uploaded`);
            }
          });
        });
      }
    }

    it(`${mode}: with tls.maxVersion TLSv1.2 on the server, curl -Z with its default TLS settings passes`, async (ctx) => {
      if (skipWhen(ctx, CURL_MISSING())) return;
      await curlParallel(capped, mode, 'capped', []);
    });

    it(`${mode}: rclone (connection pool) sync, check --download, moveto, deletefile, rmdir, purge, sha256 intact`, async (ctx) => {
      if (skipWhen(ctx, RCLONE_MISSING())) return;
      obscuredPassword ??= ok(await run('rclone', ['obscure', ALICE.password]), 'rclone obscure').stdout.trim();
      const remote = `kftpd:rclone-${mode}`;
      const env = {
        RCLONE_CONFIG: emptyRcloneConfig,
        RCLONE_CONFIG_KFTPD_TYPE: 'ftp',
        RCLONE_CONFIG_KFTPD_HOST: '127.0.0.1',
        RCLONE_CONFIG_KFTPD_PORT: String(port(t, mode)),
        RCLONE_CONFIG_KFTPD_USER: ALICE.name,
        RCLONE_CONFIG_KFTPD_PASS: obscuredPassword,
        ...(mode === 'implicit' ? { RCLONE_CONFIG_KFTPD_TLS: 'true' } : { RCLONE_CONFIG_KFTPD_EXPLICIT_TLS: 'true' }),
        // Go reads its roots from SSL_CERT_FILE: the server certificate is verified.
        SSL_CERT_FILE: pki.caFile,
        HOME: dir,
      };
      // No retries: a refused data connection must fail the command, not be papered over.
      const rclone = (args: readonly string[]) =>
        run('rclone', [...args, '--retries', '1', '--low-level-retries', '1', '--timeout', '20s', '--contimeout', '5s', '-v'], { env, timeoutMs: 60_000 });
      const served = `/rclone-${mode}`;
      const siblingsBefore = siblingResumptions(t);
      await noRefusals(t, async () => {
        ok(await rclone(['sync', tree, `${remote}/tree`]), 'rclone sync');
        assert.deepEqual(await treeSums(t.storage, `${served}/tree`), treeSha, 'the synced tree');
        const check = ok(await rclone(['check', '--download', tree, `${remote}/tree`]), 'rclone check --download');
        assert.match(check.stderr, /0 differences found/, describeRun(check));

        ok(await rclone(['moveto', `${remote}/tree/sub/b.bin`, `${remote}/moved/b.bin`]), 'rclone moveto');
        assert.equal(sha256(await readAll(t.storage, `${served}/moved/b.bin`)), treeSha['sub/b.bin']);
        assert.equal(await exists(t.storage, `${served}/tree/sub/b.bin`), false);
        ok(await rclone(['deletefile', `${remote}/moved/b.bin`]), 'rclone deletefile');
        assert.equal(await exists(t.storage, `${served}/moved/b.bin`), false);
        ok(await rclone(['rmdir', `${remote}/moved`]), 'rclone rmdir');
        assert.equal(await exists(t.storage, `${served}/moved`), false);
        ok(await rclone(['purge', `${remote}/tree`]), 'rclone purge');
        assert.equal(await exists(t.storage, `${served}/tree`), false);
      });
      assert.ok(siblingResumptions(t) > siblingsBefore, 'no data connection resumed a sibling\'s TLS session: the test did not exercise the rule');
    });

    it(`${mode}: wget (GnuTLS) ${mode === 'implicit' ? '--ftps-implicit' : 'ftps:// (AUTH TLS)'} downloads over TLS 1.3 and TLS 1.2, sha256 intact`, async (ctx) => {
      if (skipWhen(ctx, WGET_MISSING())) return;
      const remote = `wget-${mode}`;
      await makeDirectories(t.storage, `/${remote}`);
      const local = await scratch(`wget-${mode}`);
      const sum = await seedFile(t.storage, `/${remote}/one.bin`, randomBuffer(1_500_007));
      // wget saves the control connection's session right after the handshake; over TLS 1.3
      // GnuTLS waits one round trip + 60 ms for the server's ticket (gnutls_session_get_data2)
      // and saves a session without one otherwise: the data connection then cannot resume.
      // --ciphers is wget's GnuTLS priority string (its --secure-protocol only sets a minimum).
      for (const priority of ['NORMAL', 'NORMAL:-VERS-ALL:+VERS-TLS1.2'] as const) {
        await noRefusals(t, async () => {
          const target = path.join(local, priority.includes('TLS1.2') ? 'tls12' : 'default');
          const result = ok(
            await run(
              'wget',
              [
                '--debug',
                '--tries=1',
                '--timeout=15',
                `--ciphers=${priority}`,
                `--ca-certificate=${pki.caFile}`,
                `--user=${ALICE.name}`,
                `--password=${ALICE.password}`,
                ...(mode === 'implicit' ? ['--ftps-implicit'] : []),
                '--directory-prefix',
                target,
                `ftps://127.0.0.1:${port(t, mode)}/${remote}/one.bin`,
              ],
              { timeoutMs: 40_000 },
            ),
            `wget --ciphers=${priority}`,
          );
          if (mode === 'explicit') assert.match(result.stderr, /--> AUTH TLS/, describeRun(result));
          else assert.doesNotMatch(result.stderr, /--> AUTH /, describeRun(result));
          assert.match(result.stderr, /--> PROT P/, describeRun(result));
          assert.match(result.stderr, /Resuming SSL session in data connection/, describeRun(result));
          assert.doesNotMatch(result.stderr, /Could not save SSL session data/, describeRun(result));
          assert.equal(await sha256File(path.join(target, 'one.bin')), sum);
        });
      }
      const protocols = events(t, 'tls.established').slice(-2).map((record) => record.protocol);
      assert.deepEqual(protocols, ['TLSv1.3', 'TLSv1.2'], 'the control connections\' TLS versions');
    });

    it(`${mode}: lftp (GnuTLS) mirror -R --parallel=4 of a tree with empty files, sha256 of the mirrored tree intact`, async (ctx) => {
      if (skipWhen(ctx, LFTP_MISSING())) return;
      const local = await scratch(`lftp-${mode}`);
      const script = path.join(local, 'mirror.lftp');
      const open =
        mode === 'implicit'
          ? `open -u ${ALICE.name},${ALICE.password} ftps://127.0.0.1:${port(t, mode)}`
          : `open -u ${ALICE.name},${ALICE.password} -p ${port(t, mode)} 127.0.0.1`;
      await writeFile(
        script,
        [
          ...LFTP_SCRIPT_SETTINGS,
          ...lftpTlsSettings(pki.caFile),
          open,
          `mirror -R --parallel=4 ${q(tree)} ${q(`lftp-${mode}`)}`,
          'bye',
          '',
        ].join('\n'),
      );
      await noRefusals(t, async () => {
        const result = ok(await run('lftp', ['-d', '-f', script], { timeoutMs: 60_000 }), 'lftp mirror -R');
        assert.doesNotMatch(result.stderr, /<--- 52[12] /, describeRun(result));
        assert.deepEqual(await treeSums(t.storage, `/lftp-${mode}`), treeSha, 'the mirrored tree');
      });
    });

    for (const uploadMode of ['resumable', 'atomic'] as const) {
      it(`${mode}, uploadMode ${uploadMode}: basic-ftp uploads a 0-byte file and a tree holding empty files (uploadFromDir), TLS 1.2 and 1.3`, async () => {
        const server = uploadMode === 'atomic' ? atomic : t;
        await noRefusals(server, async () => {
          for (const version of ['TLSv1.2', 'TLSv1.3'] as const satisfies readonly tls.SecureVersion[]) {
            const client = new Client(10_000);
            try {
              await client.access({
                host: '127.0.0.1',
                port: port(server, mode),
                user: ALICE.name,
                password: ALICE.password,
                secure: mode === 'implicit' ? 'implicit' : true,
                secureOptions: { ca: pki.caPem, minVersion: version, maxVersion: version },
              });
              const remote = `basic-${mode}-${version}`;
              await client.ensureDir(remote);
              await client.cd('/');
              // The second upload resumes the session of the first data connection's handshake.
              for (const name of ['zero-1.bin', 'zero-2.bin']) {
                const reply = await client.uploadFrom(Readable.from([]), `${remote}/${name}`);
                assert.equal(reply.code, 226, `${version} ${name}: ${reply.message}`);
                assert.equal((await readAll(server.storage, `/${remote}/${name}`)).length, 0);
              }
              await client.uploadFromDir(tree, `${remote}/tree`);
              assert.deepEqual(await treeSums(server.storage, `/${remote}/tree`), treeSha, `${version}: the uploaded tree`);
            } finally {
              client.close();
            }
          }
        });
      });
    }
  }
});
