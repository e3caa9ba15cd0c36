/** @module test/unit/deploy/render-cli — `kftpd render kubernetes` through the CLI: exit codes, stdout, stderr, --output. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runRender } from '../../../src/cli/commands/render.js';
import { runCommand } from '../../helpers/cli.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface Rendered {
  kind: string;
  metadata: { name: string };
  spec?: { replicas?: number };
}

test('render kubernetes: YAML on stdout, exit 0, warnings on stderr', async () => {
  const result = await runCommand(runRender, ['kubernetes', '--passive.replicas=3', '--passive.portMin=50000', '--passive.portMax=50299', '--passive.address=ftp.example.com']);
  assert.equal(result.code, 0, result.stderr);
  const docs = parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Rendered);
  const statefulSet = docs.find((doc) => doc.kind === 'StatefulSet');
  assert.equal(statefulSet?.spec?.replicas, 3);
  assert.deepEqual(
    docs.filter((doc) => doc.kind === 'Service').map((doc) => doc.metadata.name),
    ['kftpd-headless', 'kftpd', 'kftpd-data-0', 'kftpd-data-1', 'kftpd-data-2'],
  );
  // The default image is :latest, which deserves a warning, on stderr only.
  assert.match(result.stderr, /^kftpd render kubernetes: warning: deploy\.kubernetes\.image/m);
  assert.doesNotMatch(result.stdout, /warning/);
});

test('render kubernetes: settings from the environment, --output writes the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kftpd-render-cli-'));
  dirs.push(dir);
  const file = join(dir, 'kubernetes.yaml');
  const result = await runCommand(runRender, ['kubernetes', '--output', file, '--deploy.kubernetes.image=kftpd:1'], { KFTPD_PASSIVE_REPLICAS: '2', KFTPD_PASSIVE_ADDRESS: 'ftp.example.com' });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, '');
  const docs = parseAllDocuments(await readFile(file, 'utf8')).map((doc) => doc.toJS() as Rendered);
  assert.equal(docs.find((doc) => doc.kind === 'StatefulSet')?.spec?.replicas, 2);
});

test('unknown target: exit 2 with the usage listing kubernetes', async () => {
  const result = await runCommand(runRender, ['kubernetess']);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /unknown target "kubernetess"/);
  assert.match(result.stderr, /^ {2}kubernetes +StatefulSet/m);
});

test('a config that cannot be deployed: exit 2 and the reason, nothing on stdout', async () => {
  const kernelPorts = await runCommand(runRender, ['kubernetes', '--passive.portMin=0', '--passive.portMax=0']);
  assert.equal(kernelPorts.code, 2);
  assert.equal(kernelPorts.stdout, '');
  assert.match(kernelPorts.stderr, /kernel-chosen/);
  const nodePorts = await runCommand(runRender, ['kubernetes', '--passive.replicas=2', '--deploy.kubernetes.dataServiceType=NodePort']);
  assert.equal(nodePorts.code, 2);
  assert.match(nodePorts.stderr, /outside the node-port range 30000-32767/);
  const invalid = await runCommand(runRender, ['kubernetes', '--passive.replicas=0']);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /passive\.replicas/);
});
