/**
 * @module deploy/sftp-host-keys
 * How the replicas get their SSH host keys in a cluster: from ONE Secret, `<name>-ssh-host-keys`,
 * mounted whole at /etc/kftpd/ssh by every pod. An SSH client remembers the host key of the
 * address it dialled (OpenSSH's known_hosts); behind a balancer each connection may reach
 * another replica, so replicas with keys of their own ("generated in stateDir on first start",
 * the default for one server) would make clients fail with "REMOTE HOST IDENTIFICATION HAS
 * CHANGED" on their next connection, and a pod's stateDir is an emptyDir, so even one replica
 * would change its key at every restart.
 *
 * The operator names the key files in sftp.hostKeyFiles (paths on their own machine, e.g. from
 * `kftpd sftp host-keys generate --out keys`); each file's base name is its Secret key, and
 * the pod config points at the mounted copies. Pure.
 */
import path from 'node:path';
import type { Config } from '../config/schema.js';

/** Where the Secret is mounted (a sibling of the config, users and TLS directories). */
export const SSH_HOST_KEYS_DIR = '/etc/kftpd/ssh';

const VOLUME = 'ssh-host-keys';

/** Secret data keys: alphanumerics, '-', '_' and '.' (Kubernetes validation of Secret keys). */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** The command that writes the three host keys (ed25519, ecdsa-p256, rsa-3072) into a directory. */
export const HOST_KEYS_GENERATE_COMMAND = 'kftpd sftp host-keys generate --out ssh-host-keys';

export function sftpHostKeysSecretName(config: Config): string {
  return `${config.deploy.name}-ssh-host-keys`;
}

/** The Secret keys: the base names of sftp.hostKeyFiles (hostKeyFilesProblem says when they cannot be). */
export function hostKeySecretKeys(sftp: Config['sftp']): string[] {
  return sftp.hostKeyFiles.map((file) => path.basename(file));
}

/** Why the host key files cannot become one Secret's keys (invalid or repeated names), or null. */
export function hostKeyFilesProblem(sftp: Config['sftp']): string | null {
  if (!sftp.enabled) return null;
  const keys = hostKeySecretKeys(sftp);
  const invalid = keys.find((key) => !SECRET_KEY.test(key) || key === '.' || key === '..');
  if (invalid !== undefined) return `sftp.hostKeyFiles: the file name "${invalid}" cannot be a Secret key (letters, digits, '-', '_', '.'); rename the file`;
  const duplicate = keys.find((key, index) => keys.indexOf(key) !== index);
  if (duplicate !== undefined) return `sftp.hostKeyFiles: two files are called "${duplicate}"; each becomes a key of one Secret, so the names must differ`;
  return null;
}

/** True when the pods read their host keys from the Secret. */
function fromSecret(sftp: Config['sftp']): boolean {
  return sftp.enabled && sftp.hostKeyFiles.length > 0;
}

/** The sftp section a pod reads: listening on listen.host (all interfaces), keys at their mounted paths. */
export function sftpPodConfig(sftp: Config['sftp']): Config['sftp'] {
  if (!sftp.enabled) return sftp;
  return {
    ...sftp,
    host: '',
    hostKeyFiles: fromSecret(sftp) ? hostKeySecretKeys(sftp).map((key) => `${SSH_HOST_KEYS_DIR}/${key}`) : [],
  };
}

export function sftpHostKeyVolumes(config: Config): Record<string, unknown>[] {
  if (!fromSecret(config.sftp)) return [];
  const items = hostKeySecretKeys(config.sftp).map((key) => ({ key, path: key }));
  // The default mode, as for the TLS key: the files belong to root with the pod's fsGroup, and
  // a stricter defaultMode (0400) would leave them unreadable to the non-root server.
  return [{ name: VOLUME, secret: { secretName: sftpHostKeysSecretName(config), items } }];
}

export function sftpHostKeyMounts(config: Config): Record<string, unknown>[] {
  return fromSecret(config.sftp) ? [{ name: VOLUME, mountPath: SSH_HOST_KEYS_DIR, readOnly: true }] : [];
}

/** The one-time commands that create the Secret, for the manifest header and the docs. */
export function sftpHostKeysSecretCommand(config: Config): string {
  const files = config.sftp.hostKeyFiles.map((file) => `--from-file=${file}`).join(' ');
  return `kubectl -n ${config.deploy.kubernetes.namespace} create secret generic ${sftpHostKeysSecretName(config)} ${files}`;
}

/**
 * SFTP on without host key files: every pod generates its own keys in its emptyDir stateDir.
 * Several replicas then present different keys behind one address (an error: clients refuse
 * the "changed" key on their next connection); one replica changes its key at every restart
 * (a warning).
 */
export function sftpHostKeyProblems(config: Config): { errors: string[]; warnings: string[] } {
  const { sftp, passive } = config;
  if (!sftp.enabled || sftp.hostKeyFiles.length > 0) return { errors: [], warnings: [] };
  const fix = `generate the keys once (${HOST_KEYS_GENERATE_COMMAND}), list them in sftp.hostKeyFiles, and create the Secret ${sftpHostKeysSecretName(config)} from them (kubectl create secret generic ${sftpHostKeysSecretName(config)} --from-file=...); render then mounts it in every pod`;
  if (passive.replicas > 1) {
    return {
      errors: [
        `sftp.enabled with sftp.hostKeyFiles empty: each of the ${passive.replicas} replicas would generate its own SSH host keys in its stateDir, so behind the balancer clients see a different key on the next connection ("REMOTE HOST IDENTIFICATION HAS CHANGED") and refuse it; ${fix}`,
      ],
      warnings: [],
    };
  }
  return {
    errors: [],
    warnings: [`sftp.enabled with sftp.hostKeyFiles empty: the pod generates SSH host keys in its stateDir, an emptyDir, so the key changes at every restart and clients refuse it ("host key changed"); ${fix}`],
  };
}
