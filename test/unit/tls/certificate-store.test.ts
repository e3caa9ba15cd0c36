/**
 * @module test/unit/tls/certificate-store.test
 * CertificateStore: validation at start (errors name the file and never show key
 * material), hot reload on in-place rewrites and on a Kubernetes-style `..data` symlink
 * swap, and keeping the old material when the new files are broken.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CertificateStore, TLS_INVALID_CODE, TlsMaterialError } from '../../../src/tls/certificate-store.js';
import type { CertificateReloadEvent, CertificateStoreOptions } from '../../../src/tls/certificate-store.js';
import { createTestPki } from '../../helpers/pki.js';
import type { TestPki } from '../../helpers/pki.js';

const INTERVAL_MS = 50;

let tmp: string;
let pki: TestPki;
let cert1: string;
let key1: string;
let cert2: string;
let key2: string;
let fingerprint1: string;
let fingerprint2: string;
let counter = 0;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'kftpd-cert-store-'));
  pki = await createTestPki(path.join(tmp, 'pki'));
  const read = (file: string): Promise<string> => readFile(file, 'utf8');
  [cert1, key1, cert2, key2] = await Promise.all([read(pki.serverCert), read(pki.serverKey), read(pki.serverCert2), read(pki.serverKey2)]);
  fingerprint1 = new X509Certificate(cert1).fingerprint256;
  fingerprint2 = new X509Certificate(cert2).fingerprint256;
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A fresh directory holding cert.pem/key.pem with the given contents. */
async function pairDir(cert: string, key: string): Promise<{ dir: string; certFile: string; keyFile: string }> {
  const dir = path.join(tmp, `case-${++counter}`);
  await mkdir(dir);
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await writeFile(certFile, cert);
  await writeFile(keyFile, key);
  return { dir, certFile, keyFile };
}

interface Recorder {
  readonly events: CertificateReloadEvent[];
  readonly onReload: (event: CertificateReloadEvent) => void;
}

function recorder(): Recorder {
  const events: CertificateReloadEvent[] = [];
  return { events, onReload: (event) => events.push(event) };
}

function storeFor(options: Omit<CertificateStoreOptions, 'reloadIntervalMs'>): CertificateStore {
  return new CertificateStore({ reloadIntervalMs: INTERVAL_MS, ...options });
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function startError(options: Omit<CertificateStoreOptions, 'reloadIntervalMs'>): Promise<TlsMaterialError> {
  const store = storeFor(options);
  try {
    await store.start();
  } catch (error) {
    assert.ok(error instanceof TlsMaterialError, String(error));
    assert.equal(error.code, TLS_INVALID_CODE);
    assert.equal(error.code, 'KFTPD_TLS_INVALID');
    return error;
  } finally {
    store.close();
  }
  return assert.fail('start() should have failed');
}

/** The base64 body lines of a PEM key: none of them may ever appear in a message. */
function keyLines(pem: string): string[] {
  return pem.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
}

describe('CertificateStore.start', () => {
  it('loads a valid pair and exposes it with the leaf fingerprint and expiry', async () => {
    const { certFile, keyFile } = await pairDir(cert1, key1);
    const store = storeFor({ certFile, keyFile, caFile: pki.caFile });
    assert.throws(() => store.current(), /not been started/);
    await store.start();
    try {
      const material = store.current();
      assert.equal(material.cert.toString(), cert1);
      assert.equal(material.key.toString(), key1);
      assert.equal(material.ca?.toString(), pki.caPem);
      assert.equal(material.fingerprint, fingerprint1);
      assert.ok(Object.isFrozen(material));
      assert.equal(store.expiresAt().getTime(), Date.parse(new X509Certificate(cert1).validTo));
      assert.ok(store.expiresAt().getTime() > Date.now());
      assert.equal(store.current(), material, 'stable until a reload');
    } finally {
      store.close();
    }
  });

  it('accepts a chain file and fingerprints its first (leaf) certificate', async () => {
    const { certFile, keyFile } = await pairDir(cert1 + pki.caPem, key1);
    const store = storeFor({ certFile, keyFile });
    await store.start();
    store.close();
    assert.equal(store.current().fingerprint, fingerprint1);
  });

  it('names a missing file', async () => {
    const { certFile, keyFile } = await pairDir(cert1, key1);
    const missing = path.join(path.dirname(certFile), 'nope.pem');
    let error = await startError({ certFile: missing, keyFile });
    assert.equal(error.role, 'certificate');
    assert.equal(error.file, missing);
    assert.match(error.message, /certificate file .*nope\.pem.*does not exist/);
    error = await startError({ certFile, keyFile: missing });
    assert.equal(error.role, 'key');
    assert.match(error.message, /nope\.pem/);
    error = await startError({ certFile, keyFile, caFile: missing });
    assert.equal(error.role, 'ca');
  });

  it('names an unparsable certificate, key or CA file', async () => {
    const { dir, certFile, keyFile } = await pairDir(cert1, key1);
    const garbage = path.join(dir, 'garbage.pem');
    await writeFile(garbage, 'hello world\n');
    const corrupt = path.join(dir, 'corrupt.pem');
    // Valid armour, broken DER inside.
    await writeFile(corrupt, cert1.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA'));

    let error = await startError({ certFile: garbage, keyFile });
    assert.equal(error.file, garbage);
    assert.match(error.message, /no PEM certificate/);
    error = await startError({ certFile: corrupt, keyFile });
    assert.equal(error.file, corrupt);
    assert.match(error.message, /cannot be parsed/);
    error = await startError({ certFile, keyFile: garbage });
    assert.equal(error.role, 'key');
    assert.equal(error.file, garbage);
    error = await startError({ certFile, keyFile, caFile: garbage });
    assert.equal(error.role, 'ca');
    assert.equal(error.file, garbage);
  });

  it('says when certFile and keyFile are swapped, without printing the key', async () => {
    const { certFile, keyFile } = await pairDir(cert1, key1);
    const error = await startError({ certFile: keyFile, keyFile: certFile });
    assert.equal(error.role, 'certificate');
    assert.match(error.message, /swapped/);
    for (const line of keyLines(key1)) assert.ok(!error.message.includes(line));
    assert.ok(!String(error.stack).includes(keyLines(key1)[0] ?? '-'));
  });

  it('rejects a key that does not belong to the certificate', async () => {
    const { certFile, keyFile } = await pairDir(cert1, key2);
    const error = await startError({ certFile, keyFile });
    assert.equal(error.role, 'key');
    assert.equal(error.file, keyFile);
    assert.match(error.message, /does not match the certificate/);
    for (const line of keyLines(key2)) assert.ok(!error.message.includes(line));
  });

  it('rejects a truncated certificate file', async () => {
    const { certFile, keyFile } = await pairDir(cert1.slice(0, Math.floor(cert1.length / 2)), key1);
    const error = await startError({ certFile, keyFile });
    assert.equal(error.file, certFile);
    assert.match(error.message, /truncated/);
    // A complete leaf followed by a cut-off intermediate must not pass as a shorter chain.
    await writeFile(certFile, cert1 + pki.caPem.slice(0, 200));
    assert.match((await startError({ certFile, keyFile })).message, /truncated/);
  });
});

describe('CertificateStore reload', () => {
  it('picks up a pair rewritten in place', async () => {
    const { certFile, keyFile } = await pairDir(cert1, key1);
    const { events, onReload } = recorder();
    const store = storeFor({ certFile, keyFile, onReload });
    await store.start();
    try {
      const before = store.current();
      // Two plain writes, one after the other: briefly a mismatched pair.
      await writeFile(certFile, cert2);
      await writeFile(keyFile, key2);
      await waitFor(() => store.current().fingerprint === fingerprint2, 'the new certificate');
      await waitFor(() => events.length > 0, 'the reload event');
      assert.deepEqual(events, [{ ok: true, fingerprint: fingerprint2 }]);
      assert.equal(store.current().key.toString(), key2);
      assert.equal(before.fingerprint, fingerprint1, 'a snapshot already handed out is not changed');
    } finally {
      store.close();
    }
  });

  it('follows a Kubernetes ..data symlink swap', async () => {
    const dir = path.join(tmp, `k8s-${++counter}`);
    for (const [version, cert, key] of [['v1', cert1, key1], ['v2', cert2, key2]] as const) {
      await mkdir(path.join(dir, version), { recursive: true });
      await writeFile(path.join(dir, version, 'tls.crt'), cert);
      await writeFile(path.join(dir, version, 'tls.key'), key);
    }
    await symlink('v1', path.join(dir, '..data'));
    await symlink('..data/tls.crt', path.join(dir, 'tls.crt'));
    await symlink('..data/tls.key', path.join(dir, 'tls.key'));

    const { events, onReload } = recorder();
    const store = storeFor({ certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key'), onReload });
    await store.start();
    try {
      assert.equal(store.current().fingerprint, fingerprint1);
      // What kubelet does: a new symlink under a temporary name, renamed over ..data.
      await symlink('v2', path.join(dir, '..data_tmp'));
      await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      await waitFor(() => store.current().fingerprint === fingerprint2, 'the swapped certificate');
      await waitFor(() => events.length > 0, 'the reload event');
      assert.deepEqual(events, [{ ok: true, fingerprint: fingerprint2 }]);
    } finally {
      store.close();
    }
  });

  it('keeps the old material when the new certificate is half-written, and recovers', async () => {
    const { certFile, keyFile } = await pairDir(cert1, key1);
    const { events, onReload } = recorder();
    const store = storeFor({ certFile, keyFile, onReload });
    await store.start();
    try {
      await writeFile(certFile, cert2.slice(0, Math.floor(cert2.length / 2)));
      await waitFor(() => events.length > 0, 'the failure report');
      const [failure] = events;
      assert.ok(failure !== undefined && !failure.ok);
      assert.ok(failure.error instanceof TlsMaterialError);
      assert.equal(failure.error.code, 'KFTPD_TLS_INVALID');
      assert.equal(failure.error.file, certFile);
      assert.equal(store.current().fingerprint, fingerprint1);
      assert.equal(store.current().cert.toString(), cert1);

      // Several intervals pass: the same broken content is reported once, not per poll.
      await sleep(INTERVAL_MS * 4);
      assert.equal(events.length, 1);

      // Two files cannot change at once, and writeFile truncates before it writes: a poll
      // between the writes sees a new broken pair (reported, the old material kept). What
      // must hold is that the store ends on the new pair and reported nothing else as good.
      await writeFile(keyFile, key2);
      await writeFile(certFile, cert2);
      await waitFor(() => events.at(-1)?.ok === true, 'the recovery');
      assert.deepEqual(events.at(-1), { ok: true, fingerprint: fingerprint2 });
      assert.ok(events.slice(1, -1).every((event) => !event.ok), 'only failures between the break and the recovery');
      assert.equal(store.current().fingerprint, fingerprint2);
    } finally {
      store.close();
    }
  });

  it('reload() reports at once, never rejects, and ignores unchanged content', async () => {
    const { certFile, keyFile } = await pairDir(cert1, key1);
    const { events, onReload } = recorder();
    const store = storeFor({ certFile, keyFile, onReload });
    await store.start();
    try {
      await store.reload();
      // A touch changes the stat but not the content: nothing to report.
      const later = new Date(Date.now() + 5000);
      await utimes(certFile, later, later);
      await sleep(INTERVAL_MS * 3);
      // (length, not deepEqual with []: that assertion would narrow `events` to never[])
      assert.equal(events.length, 0);

      await unlink(keyFile);
      await store.reload();
      assert.equal(events.length, 1);
      const [failure] = events;
      assert.ok(failure !== undefined && !failure.ok);
      assert.match(failure.error.message, /key file .* does not exist/);
      assert.equal(store.current().fingerprint, fingerprint1);

      await writeFile(keyFile, key1);
      await store.reload();
      // Back to the material in use: reported as recovered.
      assert.deepEqual(events.slice(1), [{ ok: true, fingerprint: fingerprint1 }]);
    } finally {
      store.close();
    }
  });

  it('stops watching on close()', async () => {
    const { certFile, keyFile } = await pairDir(cert1, key1);
    const { events, onReload } = recorder();
    const store = storeFor({ certFile, keyFile, onReload });
    await store.start();
    store.close();
    await copyFile(pki.serverCert2, certFile);
    await copyFile(pki.serverKey2, keyFile);
    await store.reload();
    await sleep(INTERVAL_MS * 4);
    assert.equal(events.length, 0);
    assert.equal(store.current().fingerprint, fingerprint1);
  });
});
