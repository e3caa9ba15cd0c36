/**
 * @module cli/commands/sftp-host-keys-generate
 * Owns `kftpd sftp host-keys generate --out DIR`: writes one set of SSH host keys (ed25519,
 * ecdsa-p256, rsa-3072, as a server generates in stateDir/ssh) into DIR, never replacing a file,
 * and prints their fingerprints and the one-time commands that put them in the Kubernetes
 * Secret every replica mounts (deploy/sftp-host-keys.ts).
 * Must not: exit the process (main.ts owns exit codes). Exit codes: 0 written, 1 a key could
 * not be written (one exists already), 2 usage error.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateHostKeys } from '../../sftp/host-keys.js';
import type { CliIo } from '../io.js';

export const SFTP_HOST_KEYS_GENERATE_USAGE = [
  'usage: kftpd sftp host-keys generate --out DIR [--name RELEASE] [--namespace NS]',
  '',
  'Writes one set of SSH host keys into DIR (created if missing): ssh_host_ed25519_key,',
  'ssh_host_ecdsa_key and ssh_host_rsa_key (private, mode 0600) with their .pub files. An',
  'existing key is never replaced. Prints the fingerprints (as ssh-keygen -l does) and the',
  'commands that make them the one Secret every replica mounts, so clients see the same host',
  'key whichever replica the balancer picks. Keep DIR out of version control.',
  '',
  '  --out DIR         where to write the keys (required)',
  '  --name RELEASE    deploy.name, for the printed Secret name <RELEASE>-ssh-host-keys (default kftpd)',
  '  --namespace NS    deploy.kubernetes.namespace, for the printed kubectl line (default kftpd)',
  '',
  'Exit codes: 0 written, 1 a key file exists already (nothing replaced), 2 usage error.',
].join('\n');

export async function runSftpHostKeysGenerate(args: string[], io: CliIo): Promise<number> {
  let values: { out?: string; name?: string; namespace?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { out: { type: 'string' }, name: { type: 'string' }, namespace: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr(`kftpd sftp host-keys generate: ${(error as Error).message}\n\n${SFTP_HOST_KEYS_GENERATE_USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    io.stdout(`${SFTP_HOST_KEYS_GENERATE_USAGE}\n`);
    return 0;
  }
  if (values.out === undefined || values.out === '') {
    io.stderr(`kftpd sftp host-keys generate: --out DIR is required\n\n${SFTP_HOST_KEYS_GENERATE_USAGE}\n`);
    return 2;
  }
  let keys;
  try {
    ({ keys } = await generateHostKeys(values.out, 'refuse'));
  } catch (error) {
    io.stderr(`kftpd sftp host-keys generate: ${(error as Error).message}\n`);
    return 1;
  }
  const files = keys.map((key) => path.join(values.out ?? '', path.basename(key.file)));
  const secret = `${values.name ?? 'kftpd'}-ssh-host-keys`;
  io.stdout(
    [
      ...keys.map((key, i) => `wrote ${files[i] ?? key.file}  ${key.type} ${key.fingerprint}`),
      '',
      'In the kftpd config (render mounts the Secret in every pod and points the pods at it):',
      '  sftp:',
      '    enabled: true',
      `    hostKeyFiles: [${files.join(', ')}]`,
      'Once per release, the Secret every replica mounts:',
      `  kubectl -n ${values.namespace ?? 'kftpd'} create secret generic ${secret} ${files.map((file) => `--from-file=${file}`).join(' ')}`,
      '',
    ].join('\n'),
  );
  return 0;
}
