/**
 * @module test/unit/deploy/f5-versions — issue 16, defect 1: the declaration carries the lowest
 * AS3 schemaVersion its features need (so CIS 2.18-2.20.3, which validate against AS3 3.52,
 * accept it), every declaration of the matrix and of the examples validates against both
 * vendored AS3 schemas, and render refuses what the stated AS3 or BIG-IP version cannot run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';
import type { Config, ConfigInput } from '../../../src/config/schema.js';
import { DEPLOY_EXAMPLES } from '../../../src/deploy/deploy-examples.js';
import { buildAs3Request } from '../../../src/deploy/f5/as3-declaration.js';
import { compareVersions, F5_REQUIREMENTS } from '../../../src/deploy/f5/f5-versions.js';
import { renderF5As3, renderF5Cis } from '../../../src/deploy/f5/render-f5.js';
import { RENDER_TARGETS } from '../../../src/deploy/render-targets.js';
import { as3SchemaErrors } from '../../helpers/f5-schemas.js';

type Json = Record<string, unknown>;

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const VIP = '192.0.2.10';

function passthrough(extra: { f5?: Json; server?: Json } = {}): Config {
  const input: ConfigInput = {
    listen: { port: 2121 },
    passive: { portMin: 40000, portMax: 40299, replicas: 3, address: VIP },
    tls: { control: 'required', data: 'required', implicit: { enabled: true, port: 9990 } },
    proxy: { control: 'required', implicit: 'required', passive: 'required', trustedCidrs: ['10.1.0.0/24'] },
    admin: { enabled: true },
    ...extra.server,
    deploy: { name: 'kftpd', f5: { virtualAddress: VIP, ...extra.f5 } },
  };
  return configSchema.parse(input);
}

function ftpProfile(extra: { f5?: Json; server?: Json } = {}): Config {
  return configSchema.parse({
    passive: { portMin: 40000, portMax: 40199, replicas: 2, requireSameAddress: false },
    tls: { control: 'off', data: 'optional' },
    proxy: { control: 'required', trustedCidrs: ['10.1.0.0/24'] },
    ...extra.server,
    deploy: { name: 'legacy', f5: { virtualAddress: VIP, mode: 'ftp-profile', ...extra.f5 } },
  });
}

function schemaVersionOf(request: unknown): string {
  return String(((request as Json)['declaration'] as Json)['schemaVersion']);
}

test('versions compare numerically, part by part', () => {
  assert.ok(compareVersions('3.9', '3.46.0') < 0);
  assert.ok(compareVersions('3.52', '3.46.0') > 0);
  assert.equal(compareVersions('3.52', '3.52.0'), 0);
  assert.ok(compareVersions('14.1', '15.1') < 0);
  assert.ok(compareVersions('17.1.1', '17.1') > 0);
});

test('schemaVersion is the lowest the features need: 3.46.0 for port-list virtuals, 3.20.0 for the FTP profile, 3.29.0 with a bare tcp monitor', () => {
  assert.equal(schemaVersionOf(buildAs3Request(passthrough()).request), F5_REQUIREMENTS.portList.as3);
  assert.equal(schemaVersionOf(buildAs3Request(passthrough()).request), '3.46.0');
  assert.equal(schemaVersionOf(buildAs3Request(ftpProfile()).request), '3.20.0');
  assert.equal(schemaVersionOf(buildAs3Request(ftpProfile({ f5: { monitor: 'tcp-half-open' } })).request), '3.20.0');
  assert.equal(schemaVersionOf(buildAs3Request(ftpProfile({ f5: { monitor: 'tcp' } })).request), '3.29.0');
  // SFTP's virtual is a plain Service_TCP on one port: it needs nothing newer in either design.
  const sftp = { sftp: { enabled: true }, proxy: { control: 'required', implicit: 'required', passive: 'required', sftp: 'required', trustedCidrs: ['10.1.0.0/24'] } };
  assert.equal(schemaVersionOf(buildAs3Request(passthrough({ server: sftp })).request), '3.46.0');
  assert.equal(schemaVersionOf(buildAs3Request(ftpProfile({ server: sftp })).request), '3.20.0');
  assert.equal(schemaVersionOf(buildAs3Request(ftpProfile({ f5: { monitor: 'tcp' }, server: sftp })).request), '3.29.0');
  // Never above what CIS 2.18-2.20.3 accept.
  for (const config of [passthrough(), ftpProfile(), ftpProfile({ f5: { monitor: 'tcp' } })]) {
    assert.ok(compareVersions(schemaVersionOf(buildAs3Request(config).request), '3.52') <= 0);
  }
});

test('an AS3 older than the features is refused with the feature and the version named; the FTP profile works from 3.20', () => {
  const old = buildAs3Request(passthrough({ f5: { as3Version: '3.45' } }));
  assert.equal(old.errors.length, 1, old.errors.join('\n'));
  assert.match(old.errors[0] ?? '', /port list .* needs AS3 3\.46\.0 or later, but deploy\.f5\.as3Version is 3\.45/);
  assert.deepEqual(buildAs3Request(passthrough({ f5: { as3Version: '3.46' } })).errors, []);
  assert.deepEqual(buildAs3Request(ftpProfile({ f5: { as3Version: '3.20', tmosVersion: '14.1' } })).errors, []);
  assert.match(buildAs3Request(ftpProfile({ f5: { as3Version: '3.19' } })).errors.join('\n'), /FTP profile .* needs AS3 3\.20\.0/);
  // Through the render target too, so `kftpd render` refuses it.
  assert.match(renderF5Cis(passthrough({ f5: { as3Version: '3.40' } })).errors.join('\n'), /needs AS3 3\.46\.0/);
});

test('BIG-IP versions: port-list virtuals need 14.1, the FTP profile 14.0, AS3 3.50+ needs 15.1', () => {
  assert.match(buildAs3Request(passthrough({ f5: { tmosVersion: '14.0', as3Version: '3.49' } })).errors.join('\n'), /needs BIG-IP 14\.1 or later, but deploy\.f5\.tmosVersion is 14\.0/);
  assert.deepEqual(buildAs3Request(passthrough({ f5: { tmosVersion: '14.1', as3Version: '3.49' } })).errors, []);
  assert.match(buildAs3Request(passthrough({ f5: { tmosVersion: '14.1', as3Version: '3.52' } })).errors.join('\n'), /as3Version 3\.52 does not run on BIG-IP 14\.1/);
  assert.match(buildAs3Request(ftpProfile({ f5: { tmosVersion: '13.1', as3Version: '3.45' } })).errors.join('\n'), /FTP profile .* needs BIG-IP 14\.0/);
  assert.equal(buildAs3Request(passthrough()).tmosVersion, '14.1');
  assert.equal(buildAs3Request(ftpProfile()).tmosVersion, '14.0');
});

test('a malformed version is a config error', () => {
  assert.throws(() => configSchema.parse({ deploy: { f5: { as3Version: '3.x' } } }));
  assert.throws(() => configSchema.parse({ deploy: { f5: { tmosVersion: 'fifteen' } } }));
});

/** Every combination of the settings that change the declaration's shape. */
function matrix(): { name: string; config: Config }[] {
  const out: { name: string; config: Config }[] = [];
  for (const members of ['cis', 'static'] as const) {
    for (const monitor of ['http-readyz', 'tcp-half-open', 'tcp'] as const) {
      for (const allowFrom of [[], ['198.51.100.0/24', '203.0.113.7']]) {
        for (const snat of ['auto', '/Common/snat-ftp']) {
          const f5 = { poolMembers: members, memberAddresses: members === 'static' ? ['10.244.1.15', '10.244.2.23', '10.244.3.9'] : [], monitor, allowFrom, snat };
          // SFTP (its plain TCP virtual on 22, with the PROXY iRule) in half the matrix.
          const sftp = snat === 'auto' ? 'off' : 'required';
          const sftpServer = sftp === 'off' ? {} : { sftp: { enabled: true } };
          const proxy = { control: monitor === 'tcp' ? 'optional' : 'required', implicit: 'required', passive: 'required', sftp, trustedCidrs: ['10.1.0.0/24'] };
          out.push({ name: `passthrough ${members} ${monitor} allow=${allowFrom.length} snat=${snat} sftp=${sftp}`, config: passthrough({ f5, server: { proxy, ...sftpServer } }) });
          out.push({
            name: `ftp-profile ${members} ${monitor} allow=${allowFrom.length} snat=${snat} sftp=${sftp}`,
            config: ftpProfile({ f5: { ...f5, memberAddresses: members === 'static' ? ['10.244.1.15', '10.244.2.23'] : [] }, server: { proxy: { control: 'required', sftp, trustedCidrs: ['10.1.0.0/24'] }, ...sftpServer } }),
          });
        }
      }
    }
  }
  const v6 = '2001:db8::10';
  out.push({ name: 'passthrough IPv6', config: passthrough({ f5: { virtualAddress: v6, allowFrom: ['2001:db8:1::/48'] }, server: { passive: { portMin: 40000, portMax: 40299, replicas: 3, address: v6 } } }) });
  out.push({ name: 'passthrough without implicit TLS or PROXY', config: passthrough({ server: { tls: { control: 'required', data: 'required' }, proxy: {}, passive: { portMin: 40000, portMax: 40299, replicas: 3, address: VIP, requireSameAddress: false } } }) });
  out.push({ name: 'passthrough, one replica, two ports', config: passthrough({ server: { passive: { portMin: 40000, portMax: 40001, replicas: 1, address: VIP } } }) });
  return out;
}

test('the test matrix: every declaration (f5-as3, and f5-cis for CIS members) validates against AS3 3.56 and the CIS-bundled 3.52', () => {
  const cases = matrix();
  assert.ok(cases.length >= 50);
  for (const { name, config } of cases) {
    const as3 = renderF5As3(config);
    assert.deepEqual(as3SchemaErrors(JSON.parse(as3.text)), [], name);
    const versionProblems = as3.errors.filter((error) => /needs (AS3|BIG-IP)/.test(error));
    assert.deepEqual(versionProblems, [], `${name}: the defaults (AS3 3.52, BIG-IP 15.1) carry every feature`);
    if (config.deploy.f5.poolMembers === 'cis') {
      const cis = renderF5Cis(config);
      const configMap = parseAllDocuments(cis.text)[0]?.toJS() as { data: { template: string } };
      assert.deepEqual(as3SchemaErrors(JSON.parse(configMap.data.template)), [], `${name} (f5-cis)`);
    }
  }
});

test('the examples: every AS3 declaration they render validates against both schemas, with no warning or error', async () => {
  let declarations = 0;
  for (const example of DEPLOY_EXAMPLES) {
    const { config } = await loadConfig({ file: join(REPO_ROOT, 'examples', `${example.name}.yaml`), env: {}, args: [] });
    for (const targetName of example.targets) {
      const output = RENDER_TARGETS[targetName]?.render(config);
      assert.ok(output !== undefined);
      assert.deepEqual(output.warnings, [], `${example.name} ${targetName}`);
      assert.deepEqual(output.errors, [], `${example.name} ${targetName}`);
    }
    if (config.deploy.f5.virtualAddress === '') continue;
    const { request } = buildAs3Request(config);
    assert.deepEqual(as3SchemaErrors(request), [], example.name);
    declarations++;
  }
  assert.equal(declarations, 4);
});
