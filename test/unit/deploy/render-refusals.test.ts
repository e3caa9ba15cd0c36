/**
 * @module test/unit/deploy/render-refusals — issue 16, defects 2 to 7: designs that render but
 * cannot work are errors (kftpd render writes nothing unless --force), the examples are the
 * working designs, each release has its own AS3 tenant, and every reference in the deploy
 * artefacts and their docs resolves inside the repository. Defect 1 (versions) is in
 * f5-versions.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';
import type { Config } from '../../../src/config/schema.js';
import { buildAs3Request } from '../../../src/deploy/f5/as3-declaration.js';
import { renderF5As3, renderF5Cis } from '../../../src/deploy/f5/render-f5.js';
import { renderKubernetes } from '../../../src/deploy/kubernetes/render-kubernetes.js';
import { DeployLayoutError, f5TenantName } from '../../../src/deploy/layout.js';
import { runRender } from '../../../src/cli/commands/render.js';
import { runCommand } from '../../helpers/cli.js';

type Json = Record<string, unknown>;

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const VIP = '192.0.2.10';

async function example(name: string, args: string[] = []): Promise<Config> {
  return (await loadConfig({ file: join(REPO_ROOT, 'examples', `${name}.yaml`), env: {}, args })).config;
}

function passthrough(deploy: Json = {}, server: Json = {}): Config {
  return configSchema.parse({
    passive: { portMin: 40000, portMax: 40299, replicas: 3, address: VIP },
    tls: { control: 'required', data: 'required' },
    proxy: { control: 'required', passive: 'required', trustedCidrs: ['10.1.0.0/24'] },
    ...server,
    deploy: { name: 'kftpd', ...deploy, f5: { virtualAddress: VIP, ...(deploy['f5'] as Json | undefined) } },
  });
}

test('defect 2: BIG-IP in front of node ports (CIS nodeport mode, static node members) is refused by every target, naming pod members', () => {
  const nodePortControl = { kubernetes: { service: { type: 'NodePort', controlNodePort: 30021 } } };
  const cis = passthrough(nodePortControl);
  for (const output of [renderF5Cis(cis), renderF5As3(cis), renderKubernetes(cis)]) {
    const refusal = output.errors.find((error) => /BIG-IP in front/.test(error));
    assert.ok(refusal, output.errors.join('\n'));
    assert.match(refusal, /every node in every pool/);
    assert.match(refusal, /--pool-member-type=cluster/);
  }
  const staticNodes = passthrough({
    kubernetes: { dataServiceType: 'NodePort' },
    f5: { poolMembers: 'static', memberAddresses: ['10.0.0.11', '10.0.0.12', '10.0.0.13'] },
  }, { passive: { portMin: 30100, portMax: 30399, replicas: 3, address: VIP } });
  const refusal = renderF5As3(staticNodes).errors.find((error) => /BIG-IP in front/.test(error));
  assert.match(refusal ?? '', /node ports in the pools and monitors/);
  assert.match(refusal ?? '', /pod addresses/);
  // The working design renders clean: ClusterIP Services, pod members.
  assert.deepEqual(renderF5Cis(passthrough()).errors, []);
  assert.deepEqual(renderKubernetes(passthrough()).errors, []);
});

test('defect 3: NodePort data Services with externalTrafficPolicy Local are refused; Cluster needs requireSameAddress off; the nodeport example is the working design', async () => {
  const local = renderKubernetes(await example('nodeport', ['--deploy.kubernetes.service.externalTrafficPolicy=Local']));
  assert.equal(local.errors.length, 1);
  assert.match(local.errors[0] ?? '', /externalTrafficPolicy Local: only the node running a replica answers/);
  assert.match(local.errors[0] ?? '', /Use externalTrafficPolicy Cluster/);
  const checked = renderKubernetes(await example('nodeport', ['--passive.requireSameAddress=true']));
  assert.equal(checked.errors.length, 1);
  assert.match(checked.errors[0] ?? '', /requireSameAddress refuses every one/);
  // PROXY on passive connections would restore the address: no refusal then.
  assert.deepEqual(renderKubernetes(await example('nodeport', ['--passive.requireSameAddress=true', '--proxy.passive=required', '--proxy.trustedCidrs=10.0.0.0/8'])).errors, []);

  const config = await example('nodeport');
  const output = renderKubernetes(config);
  assert.deepEqual(output.errors, []);
  assert.deepEqual(output.warnings, []);
  const services = parseAllDocuments(output.text)
    .map((doc) => doc.toJS() as { kind: string; metadata: { name: string }; spec: Json })
    .filter((object) => object.kind === 'Service' && object.spec['type'] === 'NodePort');
  assert.deepEqual(services.map((service) => service.metadata.name), ['kftpd', 'kftpd-data-0', 'kftpd-data-1']);
  for (const service of services) assert.equal(service.spec['externalTrafficPolicy'], 'Cluster', service.metadata.name);
  assert.equal(config.passive.requireSameAddress, false);
});

test('defect 4: the static-members example monitors without tripping PROXY; tcp with proxy.control required is an error', async () => {
  const config = await example('f5-static-members');
  assert.notEqual(config.deploy.f5.monitor, 'tcp');
  assert.equal(config.proxy.control, 'required');
  const output = renderF5As3(config);
  assert.deepEqual(output.warnings, []);
  assert.deepEqual(output.errors, []);
  const tcp = renderF5As3(await example('f5-static-members', ['--deploy.f5.monitor=tcp']));
  assert.ok(tcp.errors.some((error) => /monitor tcp .* proxy\.control is required/.test(error)), tcp.errors.join('\n'));
});

test('defect 5: the tenant defaults to the release name; one that is not the release\'s, or Common, is refused', async () => {
  assert.equal(f5TenantName(passthrough({ name: 'ftp-partners' })), 'ftp-partners');
  const declaration = buildAs3Request(passthrough({ name: 'ftp-partners' })).request.declaration as unknown as Json;
  assert.equal((declaration['ftp-partners'] as Json)['class'], 'Tenant');
  // Two releases with the old shared default: the second one is refused.
  const shared = buildAs3Request(passthrough({ name: 'ftps', f5: { tenant: 'kftpd' } }));
  assert.equal(shared.errors.length, 1);
  assert.match(shared.errors[0] ?? '', /tenant "kftpd" does not contain the release name "ftps".*delete this one's objects/);
  assert.deepEqual(buildAs3Request(passthrough({ name: 'ftps', f5: { tenant: 'prod_ftps' } })).errors, []);
  assert.throws(() => buildAs3Request(passthrough({ f5: { tenant: 'Common' } })), (error: unknown) => error instanceof DeployLayoutError && /Common is shared/.test(error.message));
  // A release name AS3 cannot take as a tenant asks for an explicit one.
  assert.throws(() => buildAs3Request(passthrough({ name: '2ftp' })), (error: unknown) => error instanceof DeployLayoutError && /set deploy\.f5\.tenant/.test(error.message));
  assert.deepEqual(buildAs3Request(passthrough({ name: '2ftp', f5: { tenant: 'k8s_2ftp' } })).errors, []);
  // The examples: each its own tenant, the release name.
  const tenants = await Promise.all(['f5-passthrough', 'f5-static-members', 'f5-ftp-profile', 'f5-sftp'].map(async (name) => f5TenantName(await example(name))));
  assert.deepEqual(tenants, ['kftpd', 'ftps', 'ftp-legacy', 'files']);
});

test('defect 6: render f5-as3 of CIS-filled pools is an error; the CLI writes nothing without --force', async () => {
  const config = passthrough();
  const output = renderF5As3(config);
  assert.match(output.errors.join('\n'), /leaves every pool empty .* kftpd render f5-cis/);
  const file = join(REPO_ROOT, 'examples', 'f5-passthrough.yaml');
  const refused = await runCommand(runRender, ['f5-as3', '--config', file]);
  assert.equal(refused.code, 2);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /^kftpd render f5-as3: error: .*leaves every pool empty/m);
  assert.match(refused.stderr, /nothing written.*--force/);
  const forced = await runCommand(runRender, ['f5-as3', '--config', file, '--force']);
  assert.equal(forced.code, 0);
  assert.equal((JSON.parse(forced.stdout) as Json)['class'], 'AS3');
  assert.match(forced.stderr, /forced past error: .*leaves every pool empty/);
  // The same example through CIS: clean.
  const cis = await runCommand(runRender, ['f5-cis', '--config', file]);
  assert.equal(cis.code, 0, cis.stderr);
  assert.equal(cis.stderr, '');
});

async function filesUnder(dir: string, suffixes: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path, suffixes)));
    else if (suffixes.some((suffix) => entry.name.endsWith(suffix))) out.push(path);
  }
  return out;
}

test('defect 7: every docs/ path named by the deploy generators, examples and rendered files exists, and none points outside the repository', async () => {
  const files = [
    ...(await filesUnder(join(REPO_ROOT, 'src', 'deploy'), ['.ts'])),
    ...(await filesUnder(join(REPO_ROOT, 'src', 'config'), ['.ts'])),
    ...(await filesUnder(join(REPO_ROOT, 'examples'), ['.yaml'])),
    ...(await filesUnder(join(REPO_ROOT, 'deploy'), ['.yaml', '.json'])),
    join(REPO_ROOT, 'docs', 'kubernetes.md'),
    join(REPO_ROOT, 'README.md'),
  ];
  let checked = 0;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const where = relative(REPO_ROOT, file);
    assert.doesNotMatch(text, /\/work\/|\.\.\/shared\//, `${where} cites a path outside the repository`);
    for (const match of text.matchAll(/\bdocs\/[A-Za-z0-9_.-]+\.md\b/g)) {
      assert.ok(existsSync(join(REPO_ROOT, match[0])), `${where} names ${match[0]}, which does not exist`);
      checked++;
    }
    if (file.endsWith('.md')) {
      // Relative Markdown links: [text](path) without a scheme or an anchor-only target.
      for (const match of text.matchAll(/\]\(((?!https?:|#|mailto:)[^)\s#]+)(#[^)]*)?\)/g)) {
        const target = match[1] as string;
        assert.ok(existsSync(join(dirname(file), target)), `${where} links to ${target}, which does not exist`);
        checked++;
      }
    }
  }
  assert.ok(checked > 10, `only ${checked} references checked`);
  // The one the issue found.
  assert.match(await readFile(join(REPO_ROOT, 'examples', 'f5-passthrough.yaml'), 'utf8'), /see docs\/kubernetes\.md/);
});

test('a /readyz monitor the NetworkPolicy would block is an error (BIG-IP would mark every replica down)', () => {
  const blind = passthrough({}, { proxy: {}, passive: { portMin: 40000, portMax: 40299, replicas: 3, address: VIP, requireSameAddress: false } });
  const errors = renderKubernetes(blind).errors;
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0] ?? '', /http-readyz probes the admin port .* mark every replica down/);
  const told = passthrough({ kubernetes: { networkPolicy: { allowFrom: ['10.1.0.0/24'] } } }, { proxy: {}, passive: { portMin: 40000, portMax: 40299, replicas: 3, address: VIP, requireSameAddress: false } });
  assert.deepEqual(renderKubernetes(told).errors, []);
});
