/**
 * @module test/topology/pki
 * A throwaway CA and one server certificate for the balancer's address (the test PKI of
 * test/helpers/pki.ts is only valid for localhost and keeps its CA key to itself). Same
 * profile as that PKI, so curl (OpenSSL) accepts it: ECDSA P-256, v3 with key identifiers, a
 * critical CA:TRUE with keyCertSign on the CA, SANs and serverAuth on the server, issuer name
 * copied from the CA certificate.
 * Must not: be used outside tests (keys are written unprotected).
 */
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as X509 from '@peculiar/x509';
import { loadX509 } from '../../src/tls/x509-loader.js';

export interface TopologyPki {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

type X509Crypto = NonNullable<Parameters<(typeof X509)['X509CertificateGenerator']['create']>[1]>;
const provider = webcrypto as unknown as X509Crypto;
const HOUR_MS = 3_600_000;

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return bytes.toString('hex');
}

function pem(cert: X509.X509Certificate): string {
  const text = cert.toString('pem');
  return text.endsWith('\n') ? text : `${text}\n`;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']));
}

/** Writes ca.pem, server.pem and server-key.pem into `dir`; the server is valid for `ips` and `dnsNames`. */
export async function createTopologyPki(dir: string, ips: readonly string[], dnsNames: readonly string[] = []): Promise<TopologyPki> {
  const lib = await loadX509();
  await mkdir(dir, { recursive: true });
  const now = Date.now();
  const caKeys = await keyPair();
  const ca = await lib.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: [{ CN: ['kftpd topology test CA'] }, { O: ['kftpd tests'] }],
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + 48 * HOUR_MS),
      keys: caKeys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new lib.BasicConstraintsExtension(true, undefined, true),
        new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
        await lib.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, provider),
        await lib.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, provider),
      ],
    },
    provider,
  );
  const serverKeys = await keyPair();
  const altNames: X509.JsonGeneralNames = [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  const server = await lib.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: [{ CN: [ips[0] ?? dnsNames[0] ?? 'kftpd'] }],
      issuer: ca.subjectName,
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + 48 * HOUR_MS),
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new lib.BasicConstraintsExtension(false, undefined, true),
        new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
        new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth], false),
        await lib.SubjectKeyIdentifierExtension.create(serverKeys.publicKey, false, provider),
        await lib.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, provider),
        new lib.SubjectAlternativeNameExtension(altNames, false),
      ],
    },
    provider,
  );
  const files: TopologyPki = {
    caFile: path.join(dir, 'ca.pem'),
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server-key.pem'),
  };
  await writeFile(files.caFile, pem(ca), { mode: 0o644 });
  await writeFile(files.certFile, pem(server), { mode: 0o644 });
  await writeFile(files.keyFile, String(KeyObject.from(serverKeys.privateKey).export({ type: 'pkcs8', format: 'pem' })), { mode: 0o600 });
  return files;
}
