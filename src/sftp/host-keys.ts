/**
 * @module sftp/host-keys
 * The SSH host keys: read from files (a Kubernetes Secret shared by every replica, so clients
 * never see "host key changed" behind a balancer) or generated in stateDir/ssh on first start
 * (ed25519, ecdsa-p256 and rsa-3072, like ssh-keygen -A) and reused afterwards. Each key's
 * SHA-256 fingerprint is reported in OpenSSH's notation ("SHA256:...", ssh-keygen -l).
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';

export interface HostKey {
  readonly file: string;
  readonly type: string;
  readonly pem: Buffer;
  /** "SHA256:<base64 without padding>", as ssh-keygen -l and the clients print it. */
  readonly fingerprint: string;
}

const GENERATED: readonly { file: string; type: 'ed25519' | 'ecdsa' | 'rsa'; bits?: number }[] = [
  { file: 'ssh_host_ed25519_key', type: 'ed25519' },
  { file: 'ssh_host_ecdsa_key', type: 'ecdsa', bits: 256 },
  { file: 'ssh_host_rsa_key', type: 'rsa', bits: 3072 },
];

export function describeKey(file: string, pem: Buffer): HostKey {
  const parsed = ssh2.utils.parseKey(pem);
  const key = Array.isArray(parsed) ? (parsed[0] as ssh2.ParsedKey | undefined) : parsed;
  if (!key || key instanceof Error) throw new Error(`${file}: not a usable private host key${key instanceof Error ? ` (${key.message})` : ''}`);
  if (!key.isPrivateKey()) throw new Error(`${file}: a public key, not a private host key`);
  const fingerprint = `SHA256:${createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
  return { file, type: key.type, pem, fingerprint };
}

export type GenerateKeyPair = (type: string, opts: object) => Promise<{ private: string; public: string }>;

/** Attempts at a key the parser accepts; each fails with a chance of 1 in 256 at most. */
const GENERATE_ATTEMPTS = 8;

/**
 * A new key pair that ssh2 itself can read back. ssh2 (1.17) strips leading zero bytes from a
 * new ed25519 public key, so about one key in 256 comes out 31 bytes long and unreadable
 * ("Malformed OpenSSH private key": mscdex/ssh2#1390, #1513); a server writing such a key
 * would fail its first start. Such a pair is thrown away and generated anew.
 */
async function generateReadable(generate: GenerateKeyPair, type: string, opts: object): Promise<{ private: string; public: string }> {
  for (let attempt = 1; ; attempt++) {
    const pair = await generate(type, opts);
    const parsed = ssh2.utils.parseKey(pair.private);
    const key = Array.isArray(parsed) ? (parsed[0] as ssh2.ParsedKey | Error | undefined) : parsed;
    if (key && !(key instanceof Error)) return pair;
    if (attempt >= GENERATE_ATTEMPTS) throw new Error(`could not generate a readable ${type} host key`);
  }
}

/**
 * Writes the missing keys of the standard set into `dir` (private key 0600, `.pub` beside it)
 * and returns every key of the set. `existing: 'keep'` reuses a key already there (a server's
 * stateDir); `'refuse'` fails instead (`kftpd sftp host-keys generate`: a key meant for a
 * Secret must never be silently replaced nor silently reused).
 */
export async function generateHostKeys(
  dir: string,
  existing: 'keep' | 'refuse',
  generate: GenerateKeyPair = promisify(ssh2.utils.generateKeyPair),
): Promise<{ keys: HostKey[]; generated: string[] }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (existing === 'refuse') {
    // All or nothing: checked before anything is written, so a refusal leaves no new key behind.
    const present = await Promise.all(GENERATED.map(({ file }) => readFile(path.join(dir, file)).then(() => file, () => null)));
    const first = present.find((file) => file !== null);
    if (first) throw new Error(`${path.join(dir, first)} exists: nothing written (move the old keys away, or use another directory)`);
  }
  const generated: string[] = [];
  const keys = await Promise.all(
    GENERATED.map(async ({ file, type, bits }) => {
      const full = path.join(dir, file);
      const found = await readFile(full).catch(() => null);
      if (found && existing === 'refuse') throw new Error(`${full} exists: not replaced (move it away, or use another directory)`);
      if (found) return describeKey(full, found);
      const pair = await generateReadable(generate, type, bits ? { bits } : {});
      const written = await publishOnce(full, pair.private);
      if (!written && existing === 'refuse') throw new Error(`${full} appeared while generating: not replaced`);
      await writeFile(`${full}.pub`, `${pair.public}\n`, { mode: 0o644 }).catch(() => undefined);
      generated.push(full);
      return describeKey(full, await readFile(full));
    }),
  );
  return { keys, generated };
}

/**
 * Writes `content` to `file` unless a file of that name exists, so that nobody ever reads it
 * half written: the key is written in full under a temporary name and then hard-linked to its
 * name, which fails if another replica or process published one meanwhile (then theirs, whole,
 * is the key). A plain exclusive create would let a second starter read the first one's key
 * while it is still being written ("Malformed OpenSSH private key"). False: one was there.
 */
async function publishOnce(file: string, content: string): Promise<boolean> {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Loads `files`, or (when empty) the keys in `<stateDir>/ssh`, generating the missing ones. */
export async function loadHostKeys(files: readonly string[], stateDir: string): Promise<{ keys: HostKey[]; generated: string[] }> {
  if (files.length > 0) {
    return { keys: await Promise.all(files.map(async (file) => describeKey(file, await readFile(file)))), generated: [] };
  }
  return generateHostKeys(path.join(stateDir, 'ssh'), 'keep');
}
