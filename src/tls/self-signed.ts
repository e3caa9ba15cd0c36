/**
 * @module tls/self-signed
 * The fallback server certificate: when tls.certFile/keyFile are empty, kftpd still offers
 * FTPS with a self-signed ECDSA P-256 certificate kept in `<stateDir>/tls`.
 * Owns: generating that certificate (X.509 v3, SANs, server-only usages), its SHA-256
 * fingerprint format (the one operators compare with `openssl x509 -fingerprint -sha256`),
 * and creating it once on disk with safe file modes.
 * Must not: log or return key material anywhere but the key file, overwrite a complete
 * existing pair, or decide whether self-signed certificates are acceptable (the config
 * loader and server do).
 */
import { KeyObject, X509Certificate, randomBytes, webcrypto } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type * as x509 from '@peculiar/x509';
import { loadX509 } from './x509-loader.js';

/** 825 days: the longest validity Apple platforms accept for a TLS server certificate. */
const DEFAULT_DAYS = 825;
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const SELF_SIGNED_CN = 'kftpd self-signed';
const CERT_FILE = 'cert.pem';
const KEY_FILE = 'key.pem';

export interface SelfSignedOptions {
  readonly commonName: string;
  /** DNS names and IP literals (IPv4 or IPv6); each becomes a SubjectAltName entry. */
  readonly altNames: readonly string[];
  /** Validity in days from now (default 825). */
  readonly days?: number;
}

export interface GeneratedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  readonly keyPem: string;
}

export interface EnsuredCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly fingerprint: string;
  /** True when this call generated the pair, false when an existing pair was reused. */
  readonly created: boolean;
}

// The WebCrypto provider is passed explicitly to every @peculiar/x509 call rather than set
// globally with cryptoProvider.set(): a library-wide singleton is not ours to change.
// Its typings name the DOM `Crypto` type, which this Node-only build does not include (the
// parameter is then untyped); Node's own WebCrypto type is what is actually passed.
const subtleProvider: webcrypto.Crypto = webcrypto;

/** Generates an ECDSA P-256 key and a self-signed server certificate for it. */
export async function generateSelfSignedCertificate(options: SelfSignedOptions): Promise<GeneratedCertificate> {
  const days = options.days ?? DEFAULT_DAYS;
  if (!Number.isFinite(days) || days <= 0) {
    throw new RangeError(`days must be a positive number, got ${String(days)}`);
  }
  const altNames = toGeneralNames(options.altNames);
  const lib = await loadX509();
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' } as const;
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const extensions: x509.Extension[] = [
    new lib.BasicConstraintsExtension(false, undefined, true),
    new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
    new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth], false),
    await lib.SubjectKeyIdentifierExtension.create(keys.publicKey, false, subtleProvider),
  ];
  if (altNames.length > 0) {
    extensions.push(new lib.SubjectAlternativeNameExtension(altNames, false));
  }
  const cert = await lib.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name: [{ CN: [options.commonName] }],
      // An hour of slack so a client whose clock is a little behind still accepts it.
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + days * DAY_MS),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions,
    },
    subtleProvider,
  );
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' });
  return { certPem: ensureTrailingNewline(cert.toString('pem')), keyPem: ensureTrailingNewline(String(keyPem)) };
}

/** SHA-256 fingerprint of the first certificate in `certPem`: `AB:CD:...` (uppercase). */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/**
 * Returns `<dir>/cert.pem` and `<dir>/key.pem`, generating them first unless both exist.
 * Existing files are returned as they are (their validity is checked when they are loaded).
 */
export async function ensureSelfSignedCertificate(dir: string, options: { altNames?: readonly string[] } = {}): Promise<EnsuredCertificate> {
  const certFile = path.join(dir, CERT_FILE);
  const keyFile = path.join(dir, KEY_FILE);
  if ((await exists(certFile)) && (await exists(keyFile))) {
    const certPem = await readFile(certFile, 'utf8');
    return { certFile, keyFile, fingerprint: certificateFingerprint(certPem), created: false };
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const altNames = options.altNames ?? ['localhost', '127.0.0.1', '::1', os.hostname()];
  const { certPem, keyPem } = await generateSelfSignedCertificate({ commonName: SELF_SIGNED_CN, altNames });
  // Key first, cert second: "both exist" is the completion marker, so a crash between the
  // two renames leaves only a key and the next start regenerates the pair.
  await writeFileAtomic(keyFile, keyPem, 0o600);
  await writeFileAtomic(certFile, certPem, 0o644);
  return { certFile, keyFile, fingerprint: certificateFingerprint(certPem), created: true };
}

/** Splits, trims and de-duplicates names; IP literals become iPAddress entries, the rest dNSName. */
function toGeneralNames(names: readonly string[]): x509.JsonGeneralNames {
  const seen = new Set<string>();
  const result: x509.JsonGeneralNames = [];
  for (const raw of names) {
    const name = raw.trim();
    if (name === '') {
      continue;
    }
    // A zone id (fe80::1%eth0) only means something on one host; it cannot be certified.
    if (name.includes('%')) {
      throw new TypeError(`altNames: zone ids are not allowed in certificate names: ${name}`);
    }
    const family = isIP(name);
    const entry: x509.JsonGeneralName =
      family === 4
        ? { type: 'ip', value: name }
        : family === 6
          ? { type: 'ip', value: expandEmbeddedIPv4(name) }
          : { type: 'dns', value: name.toLowerCase() };
    const key = `${entry.type}:${entry.value.toLowerCase()}`;
    if (!seen.has(key)) {
      seen.add(key);
      result.push(entry);
    }
  }
  return result;
}

/**
 * `::ffff:192.0.2.1` → `::ffff:c000:201`: @peculiar/x509 only parses hex groups, so the dotted
 * tail of an IPv4-mapped address is rewritten as the two groups it stands for.
 */
function expandEmbeddedIPv4(address: string): string {
  const match = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (match === null) {
    return address;
  }
  const octets = match.slice(2, 6).map(Number);
  const [a = 0, b = 0, c = 0, d = 0] = octets;
  return `${match[1] ?? ''}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/** 127 random bits as hex, first byte in 0x01..0x7f: a positive, minimally encoded INTEGER. */
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return bytes.toString('hex');
}

function ensureTrailingNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes to a unique temporary name in the same directory, fsyncs, then renames: readers
 * see either no file or the complete one, never a half-written key. The mode is set with
 * chmod as well because `open`'s mode is narrowed by the process umask.
 */
async function writeFileAtomic(file: string, contents: string, mode: number): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 0600 from creation: the key is never readable by others, not even before the chmod.
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(contents, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, mode);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
