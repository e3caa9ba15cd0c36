/**
 * @module test/helpers/pki
 * A throwaway PKI for FTPS tests: a root CA, two server certificates for localhost (the
 * second for reload tests), client certificates (valid "alice" and "bob", an expired
 * "alice", an "alice" from a rogue CA) and the rogue CA itself, all ECDSA P-256, written as
 * PEM files (PKCS#8 keys).
 * Owns: certificate profiles that Node (OpenSSL), curl (OpenSSL) and lftp (GnuTLS) accept:
 * v3 with Subject/Authority Key Identifiers, a critical CA:TRUE with keyCertSign on the
 * CAs, SANs and serverAuth on servers, clientAuth on clients. Issuer names are copied from
 * the CA certificate byte for byte, because GnuTLS matches issuer to subject on raw DER.
 * Must not: be used outside tests (keys are written unprotected into the given directory).
 */
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as X509 from '@peculiar/x509';
import { loadX509 } from '../../src/tls/x509-loader.js';

export interface TestPki {
  /** Root CA certificate (PEM file) that signs the server and the valid client certificates. */
  readonly caFile: string;
  readonly caPem: string;
  /** Server certificate: CN localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** A second server certificate (other key and serial, same names) for reload tests. */
  readonly serverCert2: string;
  readonly serverKey2: string;
  readonly clientAliceCert: string;
  readonly clientAliceKey: string;
  readonly clientBobCert: string;
  readonly clientBobKey: string;
  /** CN "alice", signed by the CA, but notAfter is in the past. */
  readonly expiredClientCert: string;
  readonly expiredClientKey: string;
  /** CN "alice", signed by the rogue CA (not trusted by caFile). */
  readonly rogueClientCert: string;
  readonly rogueClientKey: string;
  readonly rogueCaFile: string;
}

type X509Module = typeof X509;
type X509Crypto = NonNullable<Parameters<X509Module['X509CertificateGenerator']['create']>[1]>;

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const provider = webcrypto as unknown as X509Crypto;

interface Authority {
  readonly cert: X509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
}

interface IssuedPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Generates the whole PKI into `dir` (created if needed) and returns the file paths. */
export async function createTestPki(dir: string): Promise<TestPki> {
  const lib = await loadX509();
  await mkdir(dir, { recursive: true });
  const now = Date.now();

  const ca = await createAuthority(lib, 'kftpd test root CA', now);
  const rogue = await createAuthority(lib, 'kftpd rogue CA', now);
  const valid = { notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + 365 * DAY_MS) };
  const serverProfile = {
    commonName: 'localhost',
    usage: lib.ExtendedKeyUsage.serverAuth,
    altNames: [
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ] satisfies X509.JsonGeneralNames,
  };

  const server = await issue(lib, ca, { ...serverProfile, ...valid });
  const server2 = await issue(lib, ca, { ...serverProfile, ...valid });
  const alice = await issue(lib, ca, { commonName: 'alice', usage: lib.ExtendedKeyUsage.clientAuth, ...valid });
  const bob = await issue(lib, ca, { commonName: 'bob', usage: lib.ExtendedKeyUsage.clientAuth, ...valid });
  const expired = await issue(lib, ca, {
    commonName: 'alice',
    usage: lib.ExtendedKeyUsage.clientAuth,
    notBefore: new Date(now - 30 * DAY_MS),
    notAfter: new Date(now - DAY_MS),
  });
  const rogueAlice = await issue(lib, rogue, { commonName: 'alice', usage: lib.ExtendedKeyUsage.clientAuth, ...valid });

  const caPem = pem(ca.cert);
  const file = (name: string): string => path.join(dir, name);
  const writes: [string, string, number][] = [
    ['ca.pem', caPem, 0o644],
    ['rogue-ca.pem', pem(rogue.cert), 0o644],
    ...pairFiles('server', server),
    ...pairFiles('server2', server2),
    ...pairFiles('client-alice', alice),
    ...pairFiles('client-bob', bob),
    ...pairFiles('client-alice-expired', expired),
    ...pairFiles('client-alice-rogue', rogueAlice),
  ];
  await Promise.all(writes.map(([name, contents, mode]) => writeFile(file(name), contents, { mode })));

  return {
    caFile: file('ca.pem'),
    caPem,
    serverCert: file('server.pem'),
    serverKey: file('server-key.pem'),
    serverCert2: file('server2.pem'),
    serverKey2: file('server2-key.pem'),
    clientAliceCert: file('client-alice.pem'),
    clientAliceKey: file('client-alice-key.pem'),
    clientBobCert: file('client-bob.pem'),
    clientBobKey: file('client-bob-key.pem'),
    expiredClientCert: file('client-alice-expired.pem'),
    expiredClientKey: file('client-alice-expired-key.pem'),
    rogueClientCert: file('client-alice-rogue.pem'),
    rogueClientKey: file('client-alice-rogue-key.pem'),
    rogueCaFile: file('rogue-ca.pem'),
  };
}

function pairFiles(base: string, pair: IssuedPair): [string, string, number][] {
  return [
    [`${base}.pem`, pair.certPem, 0o644],
    [`${base}-key.pem`, pair.keyPem, 0o600],
  ];
}

async function createKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']));
}

async function createAuthority(lib: X509Module, commonName: string, now: number): Promise<Authority> {
  const keys = await createKeys();
  const cert = await lib.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: [{ CN: [commonName] }, { O: ['kftpd tests'] }],
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + 5 * 365 * DAY_MS),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new lib.BasicConstraintsExtension(true, undefined, true),
        new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
        await lib.SubjectKeyIdentifierExtension.create(keys.publicKey, false, provider),
        await lib.AuthorityKeyIdentifierExtension.create(keys.publicKey, false, provider),
      ],
    },
    provider,
  );
  return { cert, keys };
}

interface LeafProfile {
  readonly commonName: string;
  readonly usage: string;
  readonly altNames?: X509.JsonGeneralNames;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

async function issue(lib: X509Module, authority: Authority, profile: LeafProfile): Promise<IssuedPair> {
  const keys = await createKeys();
  const extensions: X509.Extension[] = [
    new lib.BasicConstraintsExtension(false, undefined, true),
    new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
    new lib.ExtendedKeyUsageExtension([profile.usage], false),
    await lib.SubjectKeyIdentifierExtension.create(keys.publicKey, false, provider),
    await lib.AuthorityKeyIdentifierExtension.create(authority.keys.publicKey, false, provider),
  ];
  if (profile.altNames !== undefined) {
    extensions.push(new lib.SubjectAlternativeNameExtension(profile.altNames, false));
  }
  const cert = await lib.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: [{ CN: [profile.commonName] }],
      // The CA's own parsed Name, so the issuer DER is identical to the CA's subject DER.
      issuer: authority.cert.subjectName,
      notBefore: profile.notBefore,
      notAfter: profile.notAfter,
      publicKey: keys.publicKey,
      signingKey: authority.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions,
    },
    provider,
  );
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' });
  return { certPem: pem(cert), keyPem: String(keyPem) };
}

function pem(cert: X509.X509Certificate): string {
  const text = cert.toString('pem');
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** Random positive serial (first byte 0x01..0x7f), so every certificate is distinct. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return bytes.toString('hex');
}
