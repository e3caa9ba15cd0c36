/**
 * @module tls/tls-material
 * What makes a set of TLS files usable: reading each file with an error that names it, and
 * validating key, certificate chain and optional CA bundle together before they are used
 * (each file parses, no PEM block is cut off mid-write, the key matches the leaf, OpenSSL
 * accepts the set). tls/certificate-store swaps material only after this passed.
 * Must not: put key material in errors (messages name the file and the reason only).
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';

export interface CertificateSnapshot {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca?: Buffer;
  /** SHA-256 fingerprint of the leaf (first) certificate, `AB:CD:...`. */
  readonly fingerprint: string;
}

/** Which of the configured files a problem is about. */
export type TlsFileRole = 'certificate' | 'key' | 'ca';

export const TLS_INVALID_CODE = 'KFTPD_TLS_INVALID';

/** TLS material that cannot be used. The message names the file and the reason, never its content. */
export class TlsMaterialError extends Error {
  readonly code = TLS_INVALID_CODE;
  readonly role: TlsFileRole;
  readonly file: string;

  constructor(role: TlsFileRole, file: string, reason: string) {
    super(`TLS ${role} file ${JSON.stringify(file)}: ${reason}`);
    this.name = 'TlsMaterialError';
    this.role = role;
    this.file = file;
  }
}

/** Where the material is read from (the store's options). */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string;
}

/** The files as read, before validation. */
export interface RawFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

/** Validated material, ready to swap in. */
export interface LoadedMaterial {
  readonly snapshot: CertificateSnapshot;
  readonly notAfter: Date;
  /** Hash of the raw files: tells a real change from a touch or an identical re-sync. */
  readonly digest: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;

export async function readTlsFile(role: TlsFileRole, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? asError(error).message})`;
    throw new TlsMaterialError(role, file, reason);
  }
}

/**
 * Checks everything a TLS server needs before the material is used, in the order that
 * gives the most precise message: each file parses, the key belongs to the leaf
 * certificate, and OpenSSL accepts the whole set.
 */
export function validate(raw: RawFiles, options: TlsFiles): LoadedMaterial {
  const { certFile, keyFile, caFile } = options;
  const certText = raw.cert.toString('latin1');
  const chain = parseCertificates('certificate', certFile, certText);
  const leaf = chain[0];
  if (leaf === undefined) throw new TlsMaterialError('certificate', certFile, 'contains no certificate');

  const keyText = raw.key.toString('latin1');
  checkPemStructure('key', keyFile, keyText);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText)) {
    const hint = keyText.includes('-----BEGIN CERTIFICATE-----') ? ' (it holds a certificate: are certFile and keyFile swapped?)' : '';
    throw new TlsMaterialError('key', keyFile, `contains no PEM private key${hint}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(raw.key);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ERR_MISSING_PASSPHRASE' ? 'is encrypted; an unencrypted key is required' : `is not a usable private key (${describe(error)})`;
    throw new TlsMaterialError('key', keyFile, reason);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TlsMaterialError('key', keyFile, `does not match the certificate in ${JSON.stringify(certFile)}`);
  }

  if (raw.ca !== undefined && caFile !== undefined) {
    const cas = parseCertificates('ca', caFile, raw.ca.toString('latin1'));
    if (cas.length === 0) throw new TlsMaterialError('ca', caFile, 'contains no certificate');
  }

  try {
    tls.createSecureContext({ key: raw.key, cert: raw.cert, ...(raw.ca === undefined ? {} : { ca: raw.ca }) });
  } catch (error) {
    // Everything parsed and matched, so OpenSSL refuses the set as a whole (a too-weak key
    // or signature, usually): blame the certificate, whose properties are the usual cause.
    throw new TlsMaterialError('certificate', certFile, `rejected by TLS together with ${JSON.stringify(keyFile)}: ${describe(error)}`);
  }

  const snapshot: CertificateSnapshot = Object.freeze({
    key: raw.key,
    cert: raw.cert,
    ...(raw.ca === undefined ? {} : { ca: raw.ca }),
    fingerprint: leaf.fingerprint256,
  });
  return { snapshot, notAfter: new Date(leaf.validTo), digest: digestOf(raw) };
}

/** All certificates of a PEM file, in order; throws on anything truncated or unparsable. */
function parseCertificates(role: TlsFileRole, file: string, text: string): X509Certificate[] {
  checkPemStructure(role, file, text);
  const blocks = [...text.matchAll(PEM_BLOCK)].filter((match) => match[1] === 'CERTIFICATE');
  if (blocks.length === 0) {
    const hint = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) ? ' (it holds a private key: are certFile and keyFile swapped?)' : '';
    throw new TlsMaterialError(role, file, `contains no PEM certificate (-----BEGIN CERTIFICATE-----)${hint}`);
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block[0]);
    } catch (error) {
      throw new TlsMaterialError(role, file, `certificate #${index + 1} cannot be parsed (${describe(error)})`);
    }
  });
}

/**
 * Every BEGIN line must have its END line. A file caught mid-write usually ends inside a
 * block; OpenSSL would silently use the complete blocks before it, e.g. a chain without
 * its intermediate, which fails only later on clients.
 */
function checkPemStructure(role: TlsFileRole, file: string, text: string): void {
  const begins = [...text.matchAll(PEM_BEGIN)].length;
  const complete = [...text.matchAll(PEM_BLOCK)].length;
  if (begins !== complete) {
    throw new TlsMaterialError(role, file, 'ends inside a PEM block (truncated, or still being written)');
  }
}

/** Hash of the raw files: tells a real change from a touch or an identical re-sync. */
export function digestOf(raw: RawFiles): string {
  const hash = createHash('sha256');
  // Length-prefixed so the boundaries between files are part of what is hashed.
  for (const part of [raw.cert, raw.key, raw.ca]) {
    const length = Buffer.alloc(8);
    length.writeBigInt64BE(BigInt(part === undefined ? -1 : part.length));
    hash.update(length);
    if (part !== undefined) hash.update(part);
  }
  return hash.digest('hex');
}

/** An OpenSSL/Node error as one short line; these never contain the PEM input. */
function describe(error: unknown): string {
  const { message } = asError(error);
  return message.replace(/\s+/g, ' ').trim();
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
