/**
 * @module test/unit/tls/self-signed.test
 * The fallback self-signed certificate: usable by Node TLS on both sides, the SANs and
 * usages it promises, the fingerprint format, and ensureSelfSignedCertificate's
 * create-once behaviour with its file modes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { certificateFingerprint, ensureSelfSignedCertificate, generateSelfSignedCertificate } from '../../../src/tls/self-signed.js';

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
const FINGERPRINT = /^(?:[0-9A-F]{2}:){31}[0-9A-F]{2}$/;
const IPV6_LOOPBACK = /IP Address:(?:0:0:0:0:0:0:0:1|::1)(?:,|$)/;

let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'kftpd-self-signed-'));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function sanEntries(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ');
}

describe('generateSelfSignedCertificate', () => {
  it('produces a PKCS#8 key and a certificate Node TLS loads', async () => {
    const { certPem, keyPem } = await generateSelfSignedCertificate({ commonName: 'test host', altNames: ['localhost', '127.0.0.1', '::1'] });
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(certPem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    const key = createPrivateKey(keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    tls.createSecureContext({ key: keyPem, cert: certPem });
    const cert = new X509Certificate(certPem);
    assert.equal(cert.checkPrivateKey(key), true);
    assert.equal(cert.subject, 'CN=test host');
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(cert.verify(cert.publicKey), true);
  });

  it('carries DNS and IP SubjectAltNames, de-duplicated', async () => {
    const { certPem } = await generateSelfSignedCertificate({
      commonName: 'x',
      altNames: ['localhost', ' 127.0.0.1 ', '::1', 'Files.Example.COM', '', 'localhost', '::ffff:192.0.2.1'],
    });
    const san = sanEntries(new X509Certificate(certPem));
    assert.equal(san.length, 5, san.join(', '));
    assert.ok(san.includes('DNS:localhost'));
    assert.ok(san.includes('DNS:files.example.com'));
    assert.ok(san.includes('IP Address:127.0.0.1'));
    assert.match(san.join(','), IPV6_LOOPBACK);
    assert.ok(san.some((entry) => /^IP Address:(?:0:0:0:0:0:FFFF:C000:201|::ffff:c000:201|::ffff:192\.0\.2\.1)$/i.test(entry)), san.join(', '));
    const cert = new X509Certificate(certPem);
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkHost('other.example'), undefined);
  });

  it('rejects zone ids and non-positive validity', async () => {
    await assert.rejects(generateSelfSignedCertificate({ commonName: 'x', altNames: ['fe80::1%eth0'] }), TypeError);
    await assert.rejects(generateSelfSignedCertificate({ commonName: 'x', altNames: [], days: 0 }), RangeError);
  });

  it('is valid from an hour ago for `days` days, with a random serial', async () => {
    const started = Date.now();
    const a = new X509Certificate((await generateSelfSignedCertificate({ commonName: 'x', altNames: ['localhost'] })).certPem);
    const b = new X509Certificate((await generateSelfSignedCertificate({ commonName: 'x', altNames: ['localhost'], days: 10 })).certPem);
    // X.509 times have one-second resolution.
    const near = (actual: string, expected: number): boolean => Math.abs(Date.parse(actual) - expected) < 5000;
    assert.ok(near(a.validFrom, started - HOUR_MS), a.validFrom);
    assert.ok(near(a.validTo, started + 825 * DAY_MS), a.validTo);
    assert.ok(near(b.validTo, started + 10 * DAY_MS), b.validTo);
    assert.notEqual(a.serialNumber, b.serialNumber);
    assert.ok(a.serialNumber.length >= 30);
  });

  it('serves a real handshake to a client that pins it as its CA', async () => {
    const { certPem, keyPem } = await generateSelfSignedCertificate({ commonName: 'kftpd self-signed', altNames: ['localhost', '127.0.0.1'] });
    const server = tls.createServer({ key: keyPem, cert: certPem }, (socket) => socket.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      for (const servername of ['localhost', undefined]) {
        const received = await new Promise<string>((resolve, reject) => {
          const socket = tls.connect({ host: '127.0.0.1', port, ca: certPem, ...(servername === undefined ? {} : { servername }) });
          let data = '';
          socket.setEncoding('utf8');
          socket.on('data', (chunk: string) => (data += chunk));
          socket.on('end', () => resolve(data));
          socket.on('error', reject);
        });
        assert.equal(received, 'ok');
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('certificateFingerprint', () => {
  it('is the uppercase colon-separated SHA-256 of the DER certificate', async () => {
    const { certPem } = await generateSelfSignedCertificate({ commonName: 'x', altNames: ['localhost'] });
    const fingerprint = certificateFingerprint(certPem);
    assert.match(fingerprint, FINGERPRINT);
    const der = new X509Certificate(certPem).raw;
    const expected = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)?.join(':');
    assert.equal(fingerprint, expected);
  });

  it('matches `openssl x509 -fingerprint -sha256`', async (t) => {
    if (spawnSync('openssl', ['version']).status !== 0) {
      t.skip('openssl not installed');
      return;
    }
    const { certPem } = await generateSelfSignedCertificate({ commonName: 'x', altNames: ['localhost'] });
    const out = spawnSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: certPem, encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout.trim().replace(/^.*Fingerprint=/i, ''), certificateFingerprint(certPem));
  });
});

describe('ensureSelfSignedCertificate', () => {
  it('creates the pair once with private modes, then reuses it', async () => {
    const dir = path.join(tmp, 'state', 'tls');
    const first = await ensureSelfSignedCertificate(dir);
    assert.equal(first.created, true);
    assert.equal(first.certFile, path.join(dir, 'cert.pem'));
    assert.equal(first.keyFile, path.join(dir, 'key.pem'));
    assert.match(first.fingerprint, FINGERPRINT);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(first.keyFile)).mode & 0o777, 0o600);
    assert.equal((await stat(first.certFile)).mode & 0o777, 0o644);
    // No temporary file is left behind.
    assert.deepEqual((await readdir(dir)).sort(), ['cert.pem', 'key.pem']);

    const certPem = await readFile(first.certFile, 'utf8');
    const keyPem = await readFile(first.keyFile, 'utf8');
    tls.createSecureContext({ key: keyPem, cert: certPem });
    const cert = new X509Certificate(certPem);
    assert.equal(cert.subject, 'CN=kftpd self-signed');
    const san = sanEntries(cert);
    assert.ok(san.includes('DNS:localhost'));
    assert.ok(san.includes('IP Address:127.0.0.1'));
    assert.match(san.join(','), IPV6_LOOPBACK);
    assert.ok(san.includes(`DNS:${os.hostname().toLowerCase()}`) || os.hostname() === 'localhost', san.join(', '));

    const second = await ensureSelfSignedCertificate(dir);
    assert.deepEqual(second, { ...first, created: false });
    assert.equal(await readFile(first.certFile, 'utf8'), certPem);
    assert.equal(await readFile(first.keyFile, 'utf8'), keyPem);
  });

  it('honours altNames and regenerates an incomplete pair', async () => {
    const dir = path.join(tmp, 'partial');
    const first = await ensureSelfSignedCertificate(dir, { altNames: ['ftp.example.net', '10.0.0.7'] });
    const san = sanEntries(new X509Certificate(await readFile(first.certFile)));
    assert.deepEqual(san, ['DNS:ftp.example.net', 'IP Address:10.0.0.7']);

    await unlink(first.certFile);
    const second = await ensureSelfSignedCertificate(dir);
    assert.equal(second.created, true);
    assert.notEqual(second.fingerprint, first.fingerprint);
    const key = createPrivateKey(await readFile(second.keyFile));
    assert.equal(new X509Certificate(await readFile(second.certFile)).checkPrivateKey(key), true);
  });

  it('returns an existing pair as is, even one it did not create', async () => {
    const dir = path.join(tmp, 'existing');
    const made = await ensureSelfSignedCertificate(dir);
    const { certPem, keyPem } = await generateSelfSignedCertificate({ commonName: 'operator supplied', altNames: ['localhost'] });
    await writeFile(made.certFile, certPem);
    await writeFile(made.keyFile, keyPem);
    const again = await ensureSelfSignedCertificate(dir);
    assert.equal(again.created, false);
    assert.equal(again.fingerprint, certificateFingerprint(certPem));
    assert.ok(existsSync(again.keyFile));
  });
});
