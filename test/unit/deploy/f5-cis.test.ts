/**
 * @module test/unit/deploy/f5-cis — `kftpd render f5-cis`: a ConfigMap CIS (AS3 ConfigMap mode)
 * accepts, carrying the full AS3 request with every pool left to CIS discovery, valid against
 * the AS3 schema; and the TransportServer alternative, present only as a comment, valid against
 * the CIS CRD's own schema once uncommented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigMap } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import type { Config, ConfigInput } from '../../../src/config/schema.js';
import { DeployLayoutError, f5TenantName } from '../../../src/deploy/layout.js';
import { RENDER_TARGETS } from '../../../src/deploy/render-targets.js';
import { buildAs3Request } from '../../../src/deploy/f5/as3-declaration.js';
import { cisTransportServer } from '../../../src/deploy/f5/cis-transport-server.js';
import { renderF5Cis } from '../../../src/deploy/f5/render-f5.js';
import { as3SchemaErrors, describeErrors, transportServerValidator } from '../../helpers/f5-schemas.js';

type Json = Record<string, unknown>;

const VIP = '192.0.2.10';

function makeConfig(f5: Json = {}, server: Json = {}): Config {
  const input: ConfigInput = {
    listen: { port: 2121 },
    passive: { portMin: 40000, portMax: 40299, replicas: 3, address: VIP },
    tls: { control: 'required', data: 'required', implicit: { enabled: true, port: 9990 } },
    proxy: { control: 'required', implicit: 'required', passive: 'required', trustedCidrs: ['10.1.0.0/24'] },
    admin: { enabled: true },
    ...server,
    deploy: { name: 'kftpd', kubernetes: { namespace: 'ftp' }, f5: { virtualAddress: VIP, cisNamespace: 'ftp', ...f5 } },
  };
  return configSchema.parse(input);
}

interface Rendered {
  readonly configMap: Json;
  readonly template: Json;
  /** The commented-out TransportServer, uncommented and parsed. */
  readonly transportServer: Json;
  readonly warnings: readonly string[];
  readonly errors: readonly string[];
  readonly text: string;
}

/** Renders, parses, and checks data.template against both AS3 schemas (3.56 and CIS's bundled 3.52). */
function render(config: Config): Rendered {
  const { text, warnings, errors } = renderF5Cis(config);
  const documents = parseAllDocuments(text);
  assert.ok(Array.isArray(documents));
  assert.ok(documents.every((doc) => doc.errors.length === 0), 'valid YAML');
  assert.equal(documents.length, 2, 'the ConfigMap, then a comment-only document');
  const configMap = documents[0]?.toJS() as Json;
  assert.equal(documents[1]?.toJS(), null, 'kubectl apply sees nothing in the second document');
  // Uncomment the way an operator would: everything from "# apiVersion:" on, without "# ".
  const lines = text.split('\n');
  const start = lines.indexOf('# apiVersion: cis.f5.com/v1');
  assert.ok(start > lines.indexOf('---'), 'the TransportServer is in the second document');
  const body = lines
    .slice(start)
    .map((line) => {
      assert.ok(line === '' || line.startsWith('# ') || line === '#', `uncommented line ${JSON.stringify(line)}`);
      return line.slice(2);
    })
    .join('\n');
  const transportServer = parseAllDocuments(body) as unknown as { toJS(): unknown }[];
  const template = JSON.parse(String((configMap['data'] as Json)['template'])) as Json;
  assert.deepEqual(as3SchemaErrors(template), []);
  return { configMap, template, transportServer: transportServer[0]?.toJS() as Json, warnings, errors, text };
}

function applicationOf(config: Config, template: Json): Record<string, Json> {
  return ((template['declaration'] as Json)[f5TenantName(config)] as Json)[config.deploy.f5.application] as Record<string, Json>;
}

test('the ConfigMap: CIS labels, the CIS namespace, and a valid Kubernetes object', () => {
  const config = makeConfig();
  const { configMap } = render(config);
  assert.equal(configMap['kind'], 'ConfigMap');
  const metadata = configMap['metadata'] as { name: string; namespace: string; labels: Record<string, string> };
  assert.equal(metadata.namespace, 'ftp');
  assert.equal(metadata.labels['f5type'], 'virtual-server');
  assert.equal(metadata.labels['as3'], 'true', 'a string, as the label selector needs');
  new ConfigMap(configMap).validate();
  // The check is real: a boolean label value (what an unquoted `as: true` would be) is refused.
  const broken = structuredClone(configMap) as { metadata: { labels: Record<string, unknown> } };
  broken.metadata.labels['as3'] = true;
  assert.throws(() => new ConfigMap(broken as unknown as ConstructorParameters<typeof ConfigMap>[0]).validate());
});

test('data.template is the full AS3 request (class AS3 with the declaration), valid against both AS3 schemas', () => {
  const config = makeConfig();
  const { template, errors, warnings } = render(config);
  assert.deepEqual(as3SchemaErrors(template), []);
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
  assert.equal(template['class'], 'AS3');
  // Port-list virtuals need AS3 3.46: stamped so, within what CIS 2.18-2.20.3 accept (3.52).
  assert.equal((template['declaration'] as Json)['schemaVersion'], '3.46.0');
  assert.equal((template['declaration'] as Json)['class'], 'ADC');
  assert.deepEqual(template, JSON.parse(JSON.stringify(buildAs3Request(config, { poolMembers: 'cis' }).request)));
});

test('every pool is left to CIS: members[0].serverAddresses empty, servicePort a port of its Service', () => {
  const config = makeConfig();
  const app = applicationOf(config, render(config).template);
  const pools = Object.entries(app).filter(([, value]) => typeof value === 'object' && value['class'] === 'Pool');
  assert.equal(pools.length, 2 + 3);
  for (const [name, pool] of pools) {
    const members = pool['members'] as Json[];
    assert.equal(members.length, 1, name);
    assert.deepEqual(members[0]?.['serverAddresses'], [], name);
  }
  assert.equal((app['controlPool']?.['members'] as Json[])[0]?.['servicePort'], 21);
  assert.equal((app['dataPool2']?.['members'] as Json[])[0]?.['servicePort'], 40200);
});

test('f5-cis needs CIS discovery: static members are refused with a pointer to f5-as3', () => {
  assert.throws(
    () => renderF5Cis(makeConfig({ poolMembers: 'static', memberAddresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] })),
    (error: unknown) => error instanceof DeployLayoutError && /f5-as3/.test(error.message),
  );
});

test('a ConfigMap outside the Services\' namespace is warned about (CIS looks there unless in hub mode)', () => {
  assert.ok(!render(makeConfig()).warnings.some((w) => /cisNamespace/.test(w)));
  assert.ok(render(makeConfig({ cisNamespace: 'kube-system' })).warnings.some((w) => /cisNamespace \(kube-system\)/.test(w)));
});

test('the TransportServer alternative: commented out, for the control port, valid against the CRD schema', () => {
  const config = makeConfig();
  const { transportServer, text } = render(config);
  assert.match(text, /never both/);
  assert.deepEqual(transportServer, JSON.parse(JSON.stringify(cisTransportServer(config))));
  assert.equal(transportServer['apiVersion'], 'cis.f5.com/v1');
  assert.equal(transportServer['kind'], 'TransportServer');
  const spec = transportServer['spec'] as Json;
  assert.equal(spec['virtualServerPort'], 21);
  assert.equal(spec['virtualServerAddress'], VIP);
  assert.deepEqual(spec['iRules'], ['/Common/kftpd-proxy-v1']);
  assert.equal((spec['pool'] as Json)['service'], 'kftpd');
  assert.equal((spec['pool'] as Json)['servicePort'], 21);
  const validate = transportServerValidator();
  assert.equal(validate(transportServer), true, describeErrors(validate.errors));
});

test('the TransportServer for every monitor and without PROXY stays valid', () => {
  const validate = transportServerValidator();
  for (const monitor of ['http-readyz', 'tcp', 'tcp-half-open']) {
    const config = makeConfig({ monitor, snat: '/Common/snat-ftp' }, { proxy: { control: 'off', implicit: 'off', passive: 'off', trustedCidrs: [] } });
    const { transportServer } = render(config);
    assert.equal(validate(transportServer), true, `${monitor}: ${describeErrors(validate.errors)}`);
    const spec = transportServer['spec'] as Json;
    assert.equal(spec['iRules'], undefined);
    assert.equal(((spec['pool'] as Json)['monitor'] as Json)['type'], monitor === 'http-readyz' ? 'http' : 'tcp');
  }
});

test('the CRD validator really rejects: a port list is no virtualServerPort, and mode is required', () => {
  const validate = transportServerValidator();
  const good = JSON.parse(JSON.stringify(cisTransportServer(makeConfig()))) as Json;
  const range = structuredClone(good);
  (range['spec'] as Json)['virtualServerPort'] = '40000-40099';
  assert.equal(validate(range), false);
  const noMode = structuredClone(good);
  delete (noMode['spec'] as Json)['mode'];
  assert.equal(validate(noMode), false);
  const tooHigh = structuredClone(good);
  (tooHigh['spec'] as Json)['virtualServerPort'] = 70000;
  assert.equal(validate(tooHigh), false);
});

test('ftp-profile mode renders through CIS too', () => {
  const config = makeConfig(
    { mode: 'ftp-profile' },
    {
      passive: { portMin: 40000, portMax: 40199, replicas: 2, address: '' },
      tls: { control: 'off', data: 'optional', implicit: { enabled: false } },
      proxy: { control: 'off', implicit: 'off', passive: 'off', trustedCidrs: [] },
    },
  );
  const { template, errors } = render(config);
  assert.deepEqual(errors, []);
  assert.equal(applicationOf(config, template)['ftpAlg']?.['class'], 'FTP_Profile');
  assert.equal((template['declaration'] as Json)['schemaVersion'], '3.20.0');
});

test('deterministic, and registered as f5-cis / f5-cis.yaml', () => {
  assert.equal(renderF5Cis(makeConfig()).text, renderF5Cis(makeConfig()).text);
  assert.equal(RENDER_TARGETS['f5-cis']?.fileName, 'f5-cis.yaml');
});
