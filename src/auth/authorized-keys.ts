/**
 * @module auth/authorized-keys
 * One OpenSSH authorized_keys line (sshd(8) AUTHORIZED_KEYS FILE FORMAT) without options:
 * "<type> <base64 key blob> [comment]". The blob is kept as the SSH wire encoding
 * (RFC 4253 §6.6), which is what a client offers in a publickey userauth request, so
 * matching is a byte comparison.
 */

/** Key types a user may list (RFC 8709 ed25519, RFC 5656 ecdsa, RFC 8332 rsa with SHA-2). */
export const AUTHORIZED_KEY_TYPES: readonly string[] = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'];

export interface AuthorizedKey {
  readonly type: string;
  readonly blob: Buffer;
  readonly comment: string;
}

/** Parses one line; null when it is not a supported key (the reason goes to the users-file problem list). */
export function parseAuthorizedKey(line: string): AuthorizedKey | { error: string } {
  const parts = line.trim().split(/\s+/);
  const [type = '', data = ''] = parts;
  if (!AUTHORIZED_KEY_TYPES.includes(type)) return { error: `key type ${JSON.stringify(type.slice(0, 40))} not supported (known: ${AUTHORIZED_KEY_TYPES.join(', ')}; options before the type are not supported)` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return { error: 'key data is not base64' };
  const blob = Buffer.from(data, 'base64');
  // The blob starts with its own type name: a pasted line whose halves disagree is a mistake.
  if (blob.length < 4 || blob.readUInt32BE(0) !== Buffer.byteLength(type) || blob.subarray(4, 4 + Buffer.byteLength(type)).toString('latin1') !== type) {
    return { error: 'key data does not match its type' };
  }
  return { type, blob, comment: parts.slice(2).join(' ') };
}
