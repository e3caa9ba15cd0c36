/**
 * @module test/unit/deploy/render-check — `kftpd doctor --render-check`: a cluster state (the
 * shape `kubectl get services,endpointslices -o json` prints) and a BIG-IP declaration that
 * match the render pass; each kind of drift the troubleshooting guide names is reported.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { runDoctor } from '../../../src/cli/commands/doctor.js';
import { buildAs3Request } from '../../../src/deploy/f5/as3-declaration.js';
import { kubernetesManifests } from '../../../src/deploy/kubernetes/render-kubernetes.js';
import { deployLayout } from '../../../src/deploy/layout.js';
import { renderCheck } from '../../../src/doctor/render-check.js';
import type { RenderCheckReport } from '../../../src/doctor/render-check.js';
import { runCommand } from '../../helpers/cli.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed kubectl/AS3 JSON fixtures, reached into freely
type Json = Record<string, any>;

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const EXAMPLE = join(REPO_ROOT, 'examples', 'f5-passthrough.yaml');
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function config(args: string[] = []): Promise<Config> {
  return (await loadConfig({ file: EXAMPLE, env: {}, args })).config;
}

function podIp(index: number): string {
  return `10.244.${index + 1}.7`;
}

/** What kubectl would print for a healthy deployment of `cfg`: the rendered Services (plus server-set fields) and their EndpointSlices. */
function clusterState(cfg: Config): Json {
  const layout = deployLayout(cfg);
  const services = kubernetesManifests(cfg)
    .objects.filter((object) => object.kind === 'Service')
    .map((service) => {
      const live = structuredClone(service) as Json;
      live['metadata'] = { ...live['metadata'], uid: 'x', resourceVersion: '1' };
      live['spec'] = { clusterIP: '10.96.0.10', sessionAffinity: 'None', ...live['spec'] };
      return live;
    });
  const slice = (service: string, pods: number[], ports: number): Json => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-abcde`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: pods.map((index) => ({ addresses: [podIp(index)], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `${layout.name}-${index}` } })),
    ports: Array.from({ length: ports }, (_, i) => ({ name: `p${i}`, port: 40000 + i, protocol: 'TCP' })),
  });
  const all = layout.replicaLayouts.map((replica) => replica.index);
  const slices = [slice(layout.controlServiceName, all, 1), ...layout.replicaLayouts.map((replica) => slice(replica.dataServiceName, [replica.index], replica.ports.length))];
  return { apiVersion: 'v1', kind: 'List', items: [...services, ...slices] };
}

/** The declaration as CIS posts it: the render with every pool filled from the endpoints. */
function postedDeclaration(cfg: Config): Json {
  const request = structuredClone(buildAs3Request(cfg).request) as Json;
  const app = request['declaration']['kftpd']['ftp'];
  const all = deployLayout(cfg).replicaLayouts.map((replica) => podIp(replica.index));
  for (const [name, object] of Object.entries<Json>(app)) {
    if (object?.['class'] !== 'Pool') continue;
    const match = /^dataPool(\d+)$/.exec(name);
    object['members'] = [{ ...object['members'][0], serverAddresses: match ? [podIp(Number(match[1]))] : all }];
  }
  return request['declaration'];
}

function codes(report: RenderCheckReport): string[] {
  return report.findings.filter((finding) => finding.severity !== 'ok').map((finding) => finding.code);
}

test('a deployment that matches the render: every check OK', async () => {
  const cfg = await config();
  const report = renderCheck(cfg, clusterState(cfg), postedDeclaration(cfg));
  assert.equal(report.ok, true, JSON.stringify(report.findings, null, 2));
  assert.deepEqual(report.findings.map((finding) => finding.code), ['SERVICE_OK', 'ENDPOINTS_OK', 'DECLARATION_OK']);
});

test('Kubernetes drift: a missing, a changed and a stale Service, a data Service ending at the wrong pod, no ready control endpoint', async () => {
  const cfg = await config();
  const state = clusterState(cfg);
  const items: Json[] = state['items'];
  const find = (kind: string, name: string): Json => items.find((item) => item['kind'] === kind && item['metadata']['name'].startsWith(name)) as Json;
  items.splice(items.indexOf(find('Service', 'kftpd-implicit')), 1);
  find('Service', 'kftpd-data-1')['spec']['selector']['statefulset.kubernetes.io/pod-name'] = 'kftpd-2';
  const stale = structuredClone(find('Service', 'kftpd-data-2'));
  stale['metadata']['name'] = 'kftpd-data-3';
  items.push(stale);
  find('EndpointSlice', 'kftpd-data-1')['endpoints'][0]['targetRef']['name'] = 'kftpd-2';
  find('EndpointSlice', 'kftpd-abcde')['endpoints'] = [];
  const report = renderCheck(cfg, state);
  assert.equal(report.ok, false);
  assert.deepEqual(codes(report).sort(), ['CONTROL_NOT_READY', 'DATA_ENDPOINT_WRONG', 'SERVICE_DIFFERS', 'SERVICE_MISSING', 'SERVICE_STALE']);
  assert.match(report.findings.find((finding) => finding.code === 'SERVICE_DIFFERS')?.message ?? '', /kftpd-data-1: spec\.selector/);
  assert.match(report.findings.find((finding) => finding.code === 'DATA_ENDPOINT_WRONG')?.message ?? '', /kftpd-data-1 .* must have exactly kftpd-1/);
});

test('BIG-IP drift: a replica count changed on one side only, a wrong data pool member, another tenant', async () => {
  const cfg = await config();
  // BIG-IP still has the declaration of 4 replicas: a data virtual too many, 75-port slices.
  const four = await config(['--passive.replicas=4']);
  const report = renderCheck(cfg, clusterState(cfg), postedDeclaration(four));
  assert.ok(codes(report).includes('DECLARATION_STALE'), codes(report).join());
  assert.ok(codes(report).includes('DECLARATION_DIFFERS'));
  const wrongMember = postedDeclaration(cfg);
  wrongMember['kftpd']['ftp']['dataPool0']['members'][0]['serverAddresses'] = [podIp(1)];
  assert.deepEqual(codes(renderCheck(cfg, clusterState(cfg), wrongMember)), ['POOL_MEMBER_WRONG']);
  const otherTenant = renderCheck(cfg, clusterState(cfg), { class: 'ADC', schemaVersion: '3.46.0', other: { class: 'Tenant' } });
  assert.deepEqual(codes(otherTenant), ['DECLARATION_TENANT_MISSING']);
});

test('through the CLI: kftpd doctor --render-check reads the saved files, exit 0 or 1, usage errors 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kftpd-render-check-'));
  dirs.push(dir);
  const cfg = await config();
  const stateFile = join(dir, 'state.json');
  const declarationFile = join(dir, 'declaration.json');
  await writeFile(stateFile, JSON.stringify(clusterState(cfg)));
  await writeFile(declarationFile, JSON.stringify(postedDeclaration(cfg)));
  const run = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const { code, stdout, stderr } = await runCommand(runDoctor, args);
    return { code, out: stdout, err: stderr };
  };
  const good = await run(['--render-check', '--config', EXAMPLE, '--cluster-state', stateFile, '--declaration', declarationFile]);
  assert.equal(good.code, 0, good.err);
  assert.match(good.out, /^OK {3}SERVICE_OK/m);
  assert.match(good.out, /the deployment matches the render/);
  const otherConfig = join(dir, 'two.yaml');
  await writeFile(otherConfig, `passive: { portMin: 40000, portMax: 40299, replicas: 2, address: 192.0.2.10 }\ndeploy: { name: kftpd, kubernetes: { namespace: ftp }, f5: { virtualAddress: 192.0.2.10 } }\n`);
  const mismatch = await run(['--render-check', '--config', otherConfig, '--cluster-state', stateFile, '--json']);
  assert.equal(mismatch.code, 1);
  assert.equal(JSON.parse(mismatch.out).ok, false);
  assert.equal((await run(['--render-check', '--config', EXAMPLE])).code, 2);
  assert.equal((await run(['--render-check', '--config', EXAMPLE, '--cluster-state', join(dir, 'absent.json')])).code, 2);
});
