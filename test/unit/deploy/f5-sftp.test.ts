/**
 * @module test/unit/deploy/f5-sftp — `kftpd render f5-as3` / `f5-cis` with SFTP on (issue 13):
 * one plain TCP virtual on VIP:22 (no port list, no FTP profile) to a pool of every replica,
 * the PROXY iRule exactly when proxy.sftp reads it, the control pools' monitor, in both
 * designs; valid against both vendored AS3 schemas (3.56, and the 3.52 CIS bundles), the
 * TransportServer alternative still valid against the CIS CRD, and every CIS pool backed by the
 * Service `render kubernetes` labels for it, on the port the member names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import type { Config } from '../../../src/config/schema.js';
import { buildAs3Request } from '../../../src/deploy/f5/as3-declaration.js';
import { cisSftpTransportServer, cisTransportServer } from '../../../src/deploy/f5/cis-transport-server.js';
import { renderF5As3, renderF5Cis } from '../../../src/deploy/f5/render-f5.js';
import { CIS_LABEL_KEYS } from '../../../src/deploy/kubernetes/cis-labels.js';
import { kubernetesManifests } from '../../../src/deploy/kubernetes/render-kubernetes.js';
import { f5TenantName } from '../../../src/deploy/layout.js';
import { as3SchemaErrors, describeErrors, transportServerValidator } from '../../helpers/f5-schemas.js';

type Json = Record<string, unknown>;

const VIP = '192.0.2.10';
const KEYS = ['keys/ssh_host_ed25519_key', 'keys/ssh_host_rsa_key'];

function passthrough(over: { f5?: Json; proxySftp?: 'off' | 'optional' | 'required'; sftp?: boolean } = {}): Config {
  return configSchema.parse({
    listen: { port: 2121 },
    passive: { portMin: 40000, portMax: 40299, replicas: 3, address: VIP },
    tls: { control: 'required', data: 'required', implicit: { enabled: true, port: 9990 } },
    sftp: { enabled: over.sftp ?? true, port: 2222, hostKeyFiles: KEYS },
    proxy: { control: 'required', implicit: 'required', passive: 'required', sftp: over.proxySftp ?? 'required', trustedCidrs: ['10.1.0.0/24'] },
    admin: { enabled: true },
    deploy: { name: 'kftpd', kubernetes: { image: 'ghcr.io/kftpd/kftpd:0.1.0', networkPolicy: { allowFrom: ['10.1.0.0/24'] } }, f5: { virtualAddress: VIP, ...over.f5 } },
  });
}

function ftpProfile(f5: Json = {}): Config {
  return configSchema.parse({
    passive: { portMin: 40000, portMax: 40199, replicas: 2, requireSameAddress: false },
    tls: { control: 'off', data: 'optional' },
    sftp: { enabled: true, hostKeyFiles: KEYS },
    proxy: { control: 'required', sftp: 'required', trustedCidrs: ['10.1.0.0/24'] },
    deploy: { name: 'legacy', f5: { virtualAddress: VIP, mode: 'ftp-profile', ...f5 } },
  });
}

function applicationOf(config: Config, request: Json): Record<string, Json> {
  return ((request['declaration'] as Json)[f5TenantName(config)] as Json)[config.deploy.f5.application] as Record<string, Json>;
}

/** f5-as3's request, checked against both AS3 schemas. */
function as3(config: Config): { app: Record<string, Json>; request: Json; warnings: readonly string[]; errors: readonly string[] } {
  const output = renderF5As3(config);
  const request = JSON.parse(output.text) as Json;
  assert.deepEqual(as3SchemaErrors(request), []);
  return { app: applicationOf(config, request), request, warnings: output.warnings, errors: output.errors.filter((e) => !/leaves every pool empty/.test(e)) };
}

test('passthrough: one plain TCP virtual on VIP:22 to every replica, the PROXY iRule, the control monitor, no port list', () => {
  const config = passthrough();
  const { app, warnings, errors } = as3(config);
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
  const sftp = app['sftp'] as Json;
  assert.deepEqual(sftp, {
    class: 'Service_TCP',
    remark: 'SFTP over SSH (all replicas)',
    virtualAddresses: [VIP],
    virtualPort: 22,
    pool: { use: 'sftpPool' },
    snat: 'auto',
    profileTCP: { use: 'tcpControl' },
    iRules: [{ use: 'proxyProtocolV1' }],
    persistenceMethods: [],
    translateServerPort: true,
  });
  assert.equal(app['sftp']?.['profileFTP'], undefined, 'no FTP profile');
  assert.deepEqual(app['sftpPool']?.['members'], [{ servicePort: 22, serverAddresses: [] }]);
  assert.deepEqual(app['sftpPool']?.['monitors'], app['controlPool']?.['monitors'], 'the same readiness monitor as the FTP control pool');
  assert.equal(app['sftpPool']?.['loadBalancingMode'], app['controlPool']?.['loadBalancingMode']);
  // Still one port list per replica and nothing for SSH.
  assert.equal(Object.values(app).filter((o) => typeof o === 'object' && o['class'] === 'Net_Port_List').length, 3);
});

test('static members: the pod addresses on the SFTP listener port', () => {
  const members = ['10.244.1.15', '10.244.2.23', '10.244.3.9'];
  const { app, errors } = as3(passthrough({ f5: { poolMembers: 'static', memberAddresses: members } }));
  assert.deepEqual(errors, []);
  assert.deepEqual(app['sftpPool']?.['members'], [{ servicePort: 2222, serverAddresses: members }]);
});

test('PROXY only where kftpd reads it: proxy.sftp off leaves the SFTP virtual without the iRule and warns behind SNAT', () => {
  const { app, warnings } = as3(passthrough({ proxySftp: 'off' }));
  assert.equal(app['sftp']?.['iRules'], undefined);
  assert.deepEqual(app['control']?.['iRules'], [{ use: 'proxyProtocolV1' }]);
  assert.ok(warnings.some((w) => /proxy\.sftp off while BIG-IP SNATs/.test(w)), warnings.join('\n'));
  const optional = as3(passthrough({ proxySftp: 'optional' }));
  assert.deepEqual(optional.app['sftp']?.['iRules'], [{ use: 'proxyProtocolV1' }]);
  assert.ok(!as3(passthrough({ proxySftp: 'off', f5: { snat: 'none' } })).warnings.some((w) => /proxy\.sftp/.test(w)));
});

test('every monitor design: the SFTP pool follows the control pool', () => {
  for (const monitor of ['http-readyz', 'tcp-half-open'] as const) {
    const { app } = as3(passthrough({ f5: { monitor } }));
    assert.deepEqual(app['sftpPool']?.['monitors'], app['controlPool']?.['monitors'], monitor);
  }
});

test('ftp-profile mode: the FTP ALG on the control virtual only; SFTP is a plain TCP virtual beside it', () => {
  const config = ftpProfile();
  const { app, errors, request } = as3(config);
  assert.deepEqual(errors, []);
  assert.deepEqual(Object.entries(app).filter(([, o]) => typeof o === 'object' && o['class'] === 'Service_TCP').map(([name]) => name), ['control', 'sftp']);
  assert.deepEqual(app['control']?.['profileFTP'], { use: 'ftpAlg' });
  assert.equal(app['sftp']?.['profileFTP'], undefined);
  assert.deepEqual(app['sftp']?.['iRules'], [{ use: 'proxyProtocolV1' }]);
  assert.equal((request['declaration'] as Json)['schemaVersion'], '3.20.0');
});

test('SFTP off: no SFTP virtual or pool', () => {
  const { app } = as3(passthrough({ sftp: false }));
  assert.equal(app['sftp'], undefined);
  assert.equal(app['sftpPool'], undefined);
});

test('f5-cis: the ConfigMap\'s template validates against both AS3 schemas; the TransportServer alternative against the CRD', () => {
  for (const config of [passthrough(), ftpProfile()]) {
    const { text, errors, warnings } = renderF5Cis(config);
    assert.deepEqual(errors, []);
    assert.deepEqual(warnings, []);
    assert.match(text, /sftpPool/);
    const configMap = parseAllDocuments(text)[0]?.toJS() as { data: { template: string } };
    const template = JSON.parse(configMap.data.template) as Json;
    assert.deepEqual(as3SchemaErrors(template), []);
    assert.deepEqual(template, JSON.parse(JSON.stringify(buildAs3Request(config, { poolMembers: 'cis' }).request)));
    assert.equal(applicationOf(config, template)['sftp']?.['virtualPort'], 22);
    const validate = transportServerValidator();
    assert.equal(validate(JSON.parse(JSON.stringify(cisTransportServer(config)))), true, describeErrors(validate.errors));
  }
});

test('every pool CIS fills has exactly one Service labelled for it, with the member\'s servicePort', () => {
  const config = passthrough();
  const app = applicationOf(config, buildAs3Request(config, { poolMembers: 'cis' }).request as unknown as Json);
  const services = kubernetesManifests(config).objects.filter((object) => object.kind === 'Service');
  const pools = Object.entries(app).filter(([, o]) => typeof o === 'object' && o['class'] === 'Pool');
  assert.ok(pools.some(([name]) => name === 'sftpPool'));
  for (const [name, pool] of pools) {
    const labelled = services.filter((service) => service.metadata.labels[CIS_LABEL_KEYS.pool] === name);
    assert.equal(labelled.length, 1, name);
    const port = ((pool['members'] as Json[])[0] as Json)['servicePort'];
    const ports = ((labelled[0]?.['spec'] as Json)['ports'] as Json[]).map((p) => p['port']);
    assert.ok(ports.includes(port), `${name}: servicePort ${String(port)} in ${ports.join(',')}`);
  }
});

test('the CRD-mode alternative: a second commented TransportServer for VIP:22, valid against the CIS CRD once uncommented', () => {
  const validate = transportServerValidator();
  for (const proxySftp of ['required', 'off'] as const) {
    const config = passthrough({ proxySftp });
    const { text } = renderF5Cis(config);
    const lines = text.split('\n');
    const start = lines.indexOf('# apiVersion: cis.f5.com/v1');
    assert.ok(start > 0);
    const documents = parseAllDocuments(lines.slice(start).map((line) => line.slice(2)).join('\n')) as unknown as { toJS(): unknown }[];
    assert.equal(documents.length, 2, 'control, then SFTP');
    const sftp = documents[1]?.toJS() as Json;
    assert.deepEqual(sftp, JSON.parse(JSON.stringify(cisSftpTransportServer(config))));
    assert.equal(validate(sftp), true, describeErrors(validate.errors));
    const spec = sftp['spec'] as Json;
    assert.equal(spec['virtualServerPort'], 22);
    assert.deepEqual(spec['pool'] && { service: (spec['pool'] as Json)['service'], servicePort: (spec['pool'] as Json)['servicePort'] }, { service: 'kftpd', servicePort: 22 });
    assert.deepEqual(spec['iRules'], proxySftp === 'off' ? undefined : ['/Common/kftpd-proxy-v1']);
  }
  assert.equal(cisSftpTransportServer(passthrough({ sftp: false })), null);
});
