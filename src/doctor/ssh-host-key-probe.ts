/**
 * @module doctor/ssh-host-key-probe
 * `kftpd doctor --sftp HOST:PORT`: do all replicas behind the balancer present the same SSH host
 * keys? An SSH client pins the key of the address it dialled (OpenSSH's known_hosts, RFC 4251
 * §4.1), so one replica with other keys makes clients fail with "REMOTE HOST IDENTIFICATION HAS
 * CHANGED" whenever the balancer picks it. The probe opens several SSH connections through the
 * balancer per host key algorithm, all at once (so a least-connections balancer spreads them as
 * a round-robin one does), reads each server's host key during the key exchange (RFC 4253 §8:
 * the server sends K_S before any authentication), then rejects the key, so nothing logs in.
 * Every wait is bounded; never throws for a network problem.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import ssh2 from 'ssh2';
import { findings, type Finding } from './findings.js';

/** One per key type kftpd generates (ed25519, ecdsa-p256, rsa): a client may prefer any of them. */
export const PROBED_HOST_KEY_ALGORITHMS: readonly string[] = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512'];

export interface HostKeyProbeOptions {
  readonly host: string;
  readonly port: number;
  /** Connections per host key algorithm; default 8. */
  readonly connections?: number;
  /** Bound of each connection's key exchange; default 5000. */
  readonly timeoutMs?: number;
  readonly algorithms?: readonly string[];
}

export interface HostKeySample {
  /** The host key algorithm the connection offered (alone). */
  readonly algorithm: string;
  /** "SHA256:<base64>", as ssh-keygen -l and OpenSSH clients print it; null when none was received. */
  readonly fingerprint: string | null;
  /** Why no key was received. */
  readonly error?: string;
}

/** The fingerprint OpenSSH prints for a public key blob (RFC 4253 §6.6 encoding). */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

interface Pending {
  readonly sample: Promise<HostKeySample>;
  readonly closed: Promise<void>;
}

/** One connection up to the host key; the key is rejected once `release` resolves. */
function sampleOne(o: Required<HostKeyProbeOptions>, algorithm: string, release: Promise<void>): Pending {
  const client = new ssh2.Client();
  let settle: (sample: HostKeySample) => void = () => undefined;
  const sample = new Promise<HostKeySample>((resolve) => {
    let done = false;
    settle = (s) => {
      if (done) return;
      done = true;
      resolve(s);
    };
  });
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const timer = setTimeout(() => {
    settle({ algorithm, fingerprint: null, error: `no host key within ${o.timeoutMs} ms` });
    client.end();
  }, o.timeoutMs);
  void closed.then(() => {
    clearTimeout(timer);
    settle({ algorithm, fingerprint: null, error: 'connection closed before the key exchange' });
  });
  client.on('error', (error: Error) => settle({ algorithm, fingerprint: null, error: error.message }));
  client.connect({
    host: o.host,
    port: o.port,
    username: 'kftpd-doctor',
    // Held open while the other connections of the round arrive: the handshake timer must not fire first.
    readyTimeout: o.timeoutMs * 2 + 1000,
    algorithms: { serverHostKey: [algorithm] as ssh2.ServerHostKeyAlgorithm[] },
    hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
      settle({ algorithm, fingerprint: sshFingerprint(key) });
      // Rejecting the key ends the connection before any authentication.
      void release.then(() => verify(false));
    },
  });
  return { sample, closed };
}

/** Samples `connections` host keys per algorithm, each round all at once. */
export async function sampleHostKeys(options: HostKeyProbeOptions): Promise<HostKeySample[]> {
  const o: Required<HostKeyProbeOptions> = { connections: 8, timeoutMs: 5000, algorithms: PROBED_HOST_KEY_ALGORITHMS, ...options };
  const samples: HostKeySample[] = [];
  for (const algorithm of o.algorithms) {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const round = Array.from({ length: o.connections }, () => sampleOne(o, algorithm, released));
    samples.push(...(await Promise.all(round.map((p) => p.sample))));
    release();
    const bound = new Promise<void>((resolve) => setTimeout(resolve, Math.min(o.timeoutMs, 2000)).unref());
    await Promise.race([Promise.all(round.map((p) => p.closed)), bound]);
  }
  return samples;
}

const NOT_OFFERED = /no matching host key/i;

function counted(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].map(([value, n]) => `${value} (${n} of ${values.length} connections)`).join(', ');
}

/** What the samples say about `target`. Pure. */
export function hostKeyFindings(target: string, samples: readonly HostKeySample[]): Finding[] {
  const keyed = samples.filter((s) => s.fingerprint !== null);
  if (keyed.length === 0) {
    const reasons = [...new Set(samples.map((s) => s.error ?? 'unknown'))].join('; ');
    return [findings.sftpConnectFailed(target, `no SSH host key received over ${samples.length} connections: ${reasons}`)];
  }
  const out: Finding[] = [];
  const differing: string[] = [];
  const failed: HostKeySample[] = [];
  const agreed: string[] = [];
  for (const algorithm of [...new Set(samples.map((s) => s.algorithm))]) {
    const round = samples.filter((s) => s.algorithm === algorithm);
    const got = round.filter((s) => s.fingerprint !== null).map((s) => s.fingerprint as string);
    const notOffered = round.filter((s) => s.fingerprint === null && NOT_OFFERED.test(s.error ?? ''));
    failed.push(...round.filter((s) => s.fingerprint === null && !NOT_OFFERED.test(s.error ?? '')));
    if (got.length === 0) continue;
    // A replica without a key of this type is as much a change for a client that pinned it.
    const seen = [...got, ...notOffered.map(() => 'no key of this type')];
    if (new Set(seen).size > 1) differing.push(`${algorithm}: ${counted(seen)}`);
    else agreed.push(`${algorithm} ${got[0] ?? ''}`);
  }
  if (differing.length > 0) out.push(findings.sftpHostKeyMismatch(target, differing.join('; ')));
  if (failed.length > 0) {
    out.push(findings.sftpConnectFailed(target, `${failed.length} of ${samples.length} connections got no host key: ${[...new Set(failed.map((s) => s.error ?? 'unknown'))].join('; ')}`));
  }
  if (differing.length === 0) out.push(findings.sftpHostKeysOk(target, keyed.length, agreed.join(', ')));
  return out;
}

/** Samples and judges: the findings for the SSH listener behind `host:port`. */
export async function checkSftpHostKeys(options: HostKeyProbeOptions): Promise<Finding[]> {
  const target = isIP(options.host) === 6 ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  return hostKeyFindings(target, await sampleHostKeys(options));
}
