/**
 * @module sftp/host-keys
 * The SSH host keys: read from files (a Kubernetes Secret shared by every replica, so clients
 * never see "host key changed" behind a balancer) or generated in stateDir/ssh on first start
 * (ed25519, ecdsa-p256 and rsa-3072, like ssh-keygen -A) and reused afterwards. Each key's
 * SHA-256 fingerprint is reported in OpenSSH's notation ("SHA256:...", ssh-keygen -l).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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

type GenerateKeyPair = (type: string, opts: object) => Promise<{ private: string; public: string }>;

/**
 * Writes the missing keys of the standard set into `dir` (private key 0600, `.pub` beside it)
 * and returns every key of the set. `existing: 'keep'` reuses a key already there (a server's
 * stateDir); `'refuse'` fails instead (`kftpd sftp host-keys generate`: a key meant for a
 * Secret must never be silently replaced nor silently reused).
 */
export async function generateHostKeys(dir: string, existing: 'keep' | 'refuse'): Promise<{ keys: HostKey[]; generated: string[] }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const generate = promisify(ssh2.utils.generateKeyPair) as GenerateKeyPair;
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
      const pair = await generate(type, bits ? { bits } : {});
      // 'wx': never replace a key another replica or process wrote meanwhile.
      const written = await writeFile(full, pair.private, { mode: 0o600, flag: 'wx' }).then(() => true, () => false);
      if (!written && existing === 'refuse') throw new Error(`${full} appeared while generating: not replaced`);
      await writeFile(`${full}.pub`, `${pair.public}\n`, { mode: 0o644 }).catch(() => undefined);
      generated.push(full);
      return describeKey(full, await readFile(full));
    }),
  );
  return { keys, generated };
}

/** Loads `files`, or (when empty) the keys in `<stateDir>/ssh`, generating the missing ones. */
export async function loadHostKeys(files: readonly string[], stateDir: string): Promise<{ keys: HostKey[]; generated: string[] }> {
  if (files.length > 0) {
    return { keys: await Promise.all(files.map(async (file) => describeKey(file, await readFile(file)))), generated: [] };
  }
  return generateHostKeys(path.join(stateDir, 'ssh'), 'keep');
}
