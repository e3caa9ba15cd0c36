/**
 * @module test/unit/deploy/kubernetes-sftp — `kftpd render kubernetes` with SFTP on (issue 13):
 * the SSH port on the control Service (22 to the SFTP listener) and the container, its own
 * Service for CIS's sftpPool, the NetworkPolicy admitting it, readiness unchanged, and the host
 * keys from ONE Secret mounted by every replica, with the pod config pointing at the mounted
 * files. Several replicas generating their own keys in stateDir are refused, naming the fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { renderKubernetes } from '../../../src/deploy/kubernetes/render-kubernetes.js';
import { CIS_LABEL_KEYS } from '../../../src/deploy/kubernetes/cis-labels.js';
import { DeployLayoutError, PUBLIC_PORTS, f5SftpPoolName } from '../../../src/deploy/layout.js';
import { SSH_HOST_KEYS_DIR } from '../../../src/deploy/sftp-host-keys.js';
import { runRender } from '../../../src/cli/commands/render.js';
import { runCommand } from '../../helpers/cli.js';
import { all, configOf, only, render, scenario, type Loose } from './kubernetes-fixtures.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

const SFTP = 'SFTP beside FTPS, host keys from one Secret, CIS pools';

test('SFTP: 22 on the control Service to the SFTP listener, a container port, its own Service for CIS\'s sftpPool', () => {
  const { objects, warnings, errors } = render(scenario(SFTP));
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
  const control = only(objects, 'Service', 'kftpd');
  assert.deepEqual(
    control.spec.ports.map((port: Loose) => [port.name, port.port, port.targetPort]),
    [
      ['ftp', 21, 2121],
      ['sftp', PUBLIC_PORTS.sftp, 2222],
    ],
  );
  const sftp = only(objects, 'Service', 'kftpd-sftp');
  assert.equal(sftp.spec.type, 'ClusterIP');
  assert.deepEqual(sftp.spec.ports, [{ name: 'sftp', port: 22, targetPort: 2222, protocol: 'TCP' }]);
  assert.equal(sftp.metadata.labels[CIS_LABEL_KEYS.pool], f5SftpPoolName());
  assert.deepEqual(sftp.spec.selector, control.spec.selector);
  const container = only(objects, 'StatefulSet').spec.template.spec.containers[0];
  assert.deepEqual(container.ports.map((port: Loose) => [port.name, port.containerPort]), [['ftp', 2121], ['sftp', 2222], ['admin', 9090]]);
  // Readiness stays the admin /readyz: one replica-wide signal for FTP and SFTP alike.
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(container.readinessProbe.httpGet.port, 9090);
  // Without CIS pools no extra Service (the control Service's 22 serves everyone).
  const input = scenario(SFTP);
  const statics = render({ ...input, deploy: { ...input.deploy, f5: { virtualAddress: '192.0.2.10', poolMembers: 'static', memberAddresses: ['10.2.0.1', '10.2.0.2', '10.2.0.3'] } } });
  assert.equal(all(statics.objects, 'Service').filter((service: Loose) => service.metadata.name === 'kftpd-sftp').length, 0);
});

test('SFTP off: no SSH port anywhere, no host key volume (the other designs are unchanged)', () => {
  const { objects } = render(scenario('defaults, 3 replicas'));
  const text = JSON.stringify(objects.filter((object) => object.kind !== 'ConfigMap'));
  assert.doesNotMatch(text, /sftp|ssh-host-keys|2222/);
});

test('NetworkPolicy admits the SFTP listener from the same sources as FTP', () => {
  const { objects } = render(scenario(SFTP));
  const policy = only(objects, 'NetworkPolicy');
  const [serving] = policy.spec.ingress;
  assert.deepEqual(serving.from, [{ ipBlock: { cidr: '10.1.0.0/24' } }]);
  assert.deepEqual(serving.ports.map((port: Loose) => [port.port, port.endPort]), [[2121, undefined], [2222, undefined], [40000, 40299]]);
});

test('host keys: one Secret mounted by every replica, the pod config reads the mounted files', async () => {
  const { config, objects } = render(scenario(SFTP));
  const pod = only(objects, 'StatefulSet').spec.template.spec;
  const volume = pod.volumes.find((v: Loose) => v.name === 'ssh-host-keys');
  assert.deepEqual(volume.secret, {
    secretName: 'kftpd-ssh-host-keys',
    items: ['ssh_host_ed25519_key', 'ssh_host_ecdsa_key', 'ssh_host_rsa_key'].map((key) => ({ key, path: key })),
  });
  const mount = pod.containers[0].volumeMounts.find((m: Loose) => m.name === 'ssh-host-keys');
  assert.deepEqual(mount, { name: 'ssh-host-keys', mountPath: SSH_HOST_KEYS_DIR, readOnly: true });
  // The StatefulSet's one pod template: every replica mounts the same Secret.
  assert.equal(only(objects, 'StatefulSet').spec.replicas, 3);
  const podYaml = String(only(objects, 'ConfigMap').data['kftpd.yaml']);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-sftp-render-'));
  await writeFile(path.join(dir, 'kftpd.yaml'), podYaml);
  const loaded = (await loadConfig({ file: path.join(dir, 'kftpd.yaml'), env: {}, args: [] })).config;
  assert.equal(loaded.sftp.enabled, true);
  assert.equal(loaded.sftp.host, '', 'listens where listen.host does (all interfaces in the pod)');
  assert.deepEqual(loaded.sftp.hostKeyFiles, ['ssh_host_ed25519_key', 'ssh_host_ecdsa_key', 'ssh_host_rsa_key'].map((key) => `${SSH_HOST_KEYS_DIR}/${key}`));
  assert.equal(loaded.proxy.sftp, 'required');
  // The manifest says how to create the Secret, once.
  const text = renderKubernetes(config).text;
  assert.match(text, /kubectl -n kftpd create secret generic kftpd-ssh-host-keys --from-file=keys\/ssh_host_ed25519_key --from-file=keys\/ssh_host_ecdsa_key --from-file=keys\/ssh_host_rsa_key/);
  assert.match(text, /kftpd sftp host-keys generate --out/);
  assert.deepEqual(parse(podYaml).sftp.hostKeyFiles, loaded.sftp.hostKeyFiles);
});

test('several replicas with host keys generated per replica in stateDir: an error naming the fix; one replica: a warning', () => {
  const input = scenario(SFTP);
  const perReplica = render({ ...input, sftp: { enabled: true } });
  assert.equal(perReplica.errors.length, 1, perReplica.errors.join('\n'));
  const [error] = perReplica.errors;
  assert.match(error ?? '', /3 replicas would generate its own SSH host keys/);
  assert.match(error ?? '', /HOST IDENTIFICATION HAS CHANGED/);
  assert.match(error ?? '', /kftpd sftp host-keys generate/);
  assert.match(error ?? '', /sftp\.hostKeyFiles/);
  assert.match(error ?? '', /kftpd-ssh-host-keys/);
  const volumes = only(perReplica.objects, 'StatefulSet').spec.template.spec.volumes.map((v: Loose) => v.name);
  assert.ok(!volumes.includes('ssh-host-keys'));
  const single = render({ ...input, passive: { ...input.passive, portMax: 40099, replicas: 1 }, sftp: { enabled: true } });
  assert.deepEqual(single.errors, []);
  assert.ok(single.warnings.some((w) => /changes at every restart/.test(w)), single.warnings.join('\n'));
});

test('render kubernetes refuses the per-replica keys with exit 2 and writes nothing; --force writes', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-sftp-cli-'));
  const file = path.join(dir, 'kftpd.yaml');
  const input = scenario(SFTP);
  await writeFile(file, stringify({ ...input, sftp: { enabled: true } }));
  const refused = await runCommand(runRender, ['kubernetes', '--config', file]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /generate its own SSH host keys/);
  const forced = await runCommand(runRender, ['kubernetes', '--config', file, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /kind: StatefulSet/);
});

test('host key file names that cannot be Secret keys, or collide, are refused', () => {
  const input = scenario(SFTP);
  assert.throws(
    () => render({ ...input, sftp: { enabled: true, hostKeyFiles: ['a/ssh_host_ed25519_key', 'b/ssh_host_ed25519_key'] } }),
    (error: unknown) => error instanceof DeployLayoutError && /two files are called "ssh_host_ed25519_key"/.test(error.message),
  );
  assert.throws(
    () => render({ ...input, sftp: { enabled: true, hostKeyFiles: ['keys/host key'] } }),
    (error: unknown) => error instanceof DeployLayoutError && /cannot be a Secret key/.test(error.message),
  );
});

test('NodePort: the fixed sftpNodePort goes to the Service CIS reads, or to the control Service without CIS', () => {
  const input = configOf(scenario('NodePort data Services'));
  const withSftp = render({
    passive: { portMin: 30100, portMax: 30139, replicas: 2, address: 'ftp.example.com', requireSameAddress: false },
    defender: { enabled: false },
    sftp: { enabled: true, hostKeyFiles: ['k/ssh_host_ed25519_key'] },
    deploy: {
      kubernetes: {
        image: 'ghcr.io/kftpd/kftpd:0.1.0',
        service: { type: 'NodePort', controlNodePort: 30021, sftpNodePort: 30022, externalTrafficPolicy: 'Cluster' },
        dataServiceType: 'NodePort',
      },
      f5: { poolMembers: 'static' },
    },
  });
  assert.equal(input.sftp.enabled, false);
  assert.deepEqual(withSftp.errors, []);
  const control = only(withSftp.objects, 'Service', 'kftpd');
  assert.deepEqual(control.spec.ports.map((port: Loose) => [port.name, port.nodePort]), [['ftp', 30021], ['sftp', 30022]]);
  assert.throws(
    () => render({ ...scenario('NodePort data Services'), sftp: { enabled: true, hostKeyFiles: ['k/ssh_host_ed25519_key'] }, deploy: { kubernetes: { service: { type: 'NodePort', controlNodePort: 30021, sftpNodePort: 30021 } } } }),
    (error: unknown) => error instanceof DeployLayoutError && /requested twice/.test(error.message),
  );
});

test('an SFTP listener below 1024 in the pod gets the unprivileged-port sysctl, like a privileged FTP port', () => {
  const input = scenario(SFTP);
  const sysctls = (sftpPort: number): Loose => only(render({ ...input, sftp: { ...input.sftp, port: sftpPort } }).objects, 'StatefulSet').spec.template.spec.securityContext.sysctls;
  assert.deepEqual(sysctls(22), [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
  assert.equal(sysctls(2222), undefined);
});
