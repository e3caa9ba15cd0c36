/**
 * @module config/sftp-schema
 * The `sftp` section: the SSH listener that serves SFTP beside FTP/FTPS with the same users,
 * storage and protection. Off unless configured (the quick start turns it on).
 */
import { z } from 'zod';

/** Modern algorithms only (RFC 9142's MUST/SHOULD sets without SHA-1 and CBC); every client in docs/sftp.md negotiates from these. */
export const DEFAULT_SSH_ALGORITHMS = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256', 'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521'],
  cipher: ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr'],
  // ETM first; plain hmac-sha2 stays because libssh2 (curl) and paramiko negotiate it.
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'],
} as const;

const algorithmList = (defaults: readonly string[]) => z.array(z.string().min(1)).min(1).default([...defaults]);

export const sftpSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Serve SFTP (SSH subsystem "sftp" only) on its own listener.'),
    host: z.string().default('').describe('SFTP listener address. Empty: listen.host.'),
    port: z.number().int().min(0).max(65535).default(2222).describe('SFTP listener port (0: kernel-chosen). Refused when it is listen.port, the implicit FTPS port, admin.port or inside the passive range on the same address.'),
    hostKeyFiles: z
      .array(z.string())
      .default([])
      .describe('Private host key files (OpenSSH or PEM format; mount them from one Kubernetes Secret so every replica presents the same keys). Empty: ed25519, ecdsa-p256 and rsa keys are generated in stateDir/ssh on first start.'),
    algorithms: z
      .strictObject({
        kex: algorithmList(DEFAULT_SSH_ALGORITHMS.kex).describe('Key exchange algorithms, in order of preference.'),
        cipher: algorithmList(DEFAULT_SSH_ALGORITHMS.cipher).describe('Ciphers, in order of preference.'),
        hmac: algorithmList(DEFAULT_SSH_ALGORITHMS.hmac).describe('MACs, in order of preference (AEAD ciphers need none).'),
      })
      .prefault({})
      .describe('SSH algorithms offered (modern only by default).'),
    maxPacketBytes: z
      .number()
      .int()
      .min(34_000)
      .max(4 * 1024 * 1024)
      .default(256 * 1024 + 1024)
      .describe('Largest SFTP packet accepted (bigger ones close the session); announced with limits@openssh.com.'),
    maxReadBytes: z
      .number()
      .int()
      .min(32_768)
      .max(1024 * 1024)
      // OpenSSH's sftp-server announces 256 KiB - 1024: a DATA reply of that size still fits the
      // 256 KiB packets clients accept (the ssh2 client refuses bigger ones and loses the session).
      .default(256 * 1024 - 1024)
      .describe('Largest READ or WRITE payload announced with limits@openssh.com (clients read up to it; most accept packets up to 256 KiB, so keep it at or below 261120).'),
    idleTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(900_000)
      .describe('Close an SSH connection (logged in) that has no SFTP channel, or whose SFTP channel has had no request, for this long; never while a request runs (0: never). Like limits.idleTimeoutMs for FTP.'),
    keepAliveIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe('Send an SSH keepalive (keepalive@openssh.com request, as OpenSSH\'s ClientAliveInterval) after this much silence from the client (0: never). Keeps the balancer\'s flow alive and finds dead peers.'),
    keepAliveCountMax: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(3)
      .describe('Unanswered SSH keepalives after which the connection is closed (OpenSSH\'s ClientAliveCountMax).'),
    maxOpenHandles: z.number().int().min(1).max(100_000).default(256).describe('Open files and directories per SFTP session; one more is refused with SSH_FX_FAILURE.'),
  })
  .describe('SFTP (SSH File Transfer Protocol v3) over SSH, with the same users, storage and protection as FTP.');

/** The listeners the SFTP port could collide with, as the validated config has them. */
export interface ListenerPorts {
  readonly sftp: { readonly enabled: boolean; readonly host: string; readonly port: number };
  readonly listen: { readonly host: string; readonly port: number };
  readonly implicit: { readonly enabled: boolean; readonly port: number };
  readonly admin: { readonly enabled: boolean; readonly host: string; readonly port: number };
  readonly passive: { readonly portMin: number; readonly portMax: number };
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '::0', '[::]']);

/** Two bind addresses can take the same port only when both are specific and different. */
function sameHost(a: string, b: string): boolean {
  return a === b || WILDCARDS.has(a) || WILDCARDS.has(b);
}

/**
 * Why `sftp.port` cannot be bound beside the other listeners (null: it can). Caught here
 * rather than as EADDRINUSE at start, and for the passive range not at all otherwise: the
 * first PASV on that port would fail long after the server started. The implicit FTPS port
 * and the passive ports listen on listen.host.
 */
export function sftpPortProblem(p: ListenerPorts): string | null {
  const { sftp } = p;
  if (!sftp.enabled || sftp.port === 0) return null;
  const host = sftp.host === '' ? p.listen.host : sftp.host;
  const clash = (what: string) => `sftp.port ${sftp.port} is already ${what}: every listener needs a port of its own`;
  if (sameHost(host, p.listen.host)) {
    if (sftp.port === p.listen.port) return clash('listen.port (FTP)');
    if (p.implicit.enabled && sftp.port === p.implicit.port) return clash('tls.implicit.port (implicit FTPS)');
    const { portMin, portMax } = p.passive;
    if (portMin > 0 && sftp.port >= portMin && sftp.port <= portMax) return clash(`in the passive range ${portMin}-${portMax}`);
  }
  if (p.admin.enabled && sameHost(host, p.admin.host) && sftp.port === p.admin.port) return clash('admin.port');
  return null;
}
