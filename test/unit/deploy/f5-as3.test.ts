/**
 * @module test/unit/deploy/f5-as3 — `kftpd render f5-as3`: every declaration validates against
 * both vendored AS3 schemas (3.56, and the 3.52 bundle CIS 2.18-2.20.3 check against), and
 * means what the design says (one data virtual per
 * passive slice, to that replica alone, keeping the port; timeouts above the server's; PROXY
 * only where kftpd reads it; the ALG variant without data virtuals).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../../src/config/schema.js';
import type { Config, ConfigInput } from '../../../src/config/schema.js';
import { DeployLayoutError, deployLayout, f5TenantName } from '../../../src/deploy/layout.js';
import { RENDER_TARGETS } from '../../../src/deploy/render-targets.js';
import { buildAs3Request } from '../../../src/deploy/f5/as3-declaration.js';
import { renderF5As3 } from '../../../src/deploy/f5/render-f5.js';
import { READYZ_SEND } from '../../../src/deploy/f5/health-monitor.js';
import { as3SchemaErrors, as3Validator, cisBundledAs3Validator, describeErrors, isF5Ip } from '../../helpers/f5-schemas.js';

type Json = Record<string, unknown>;

const VIP = '192.0.2.10';

/** The 3-replica passthrough design with every feature on; `overrides` is merged in depth. */
const BASE: ConfigInput = {
  listen: { port: 2121 },
  passive: { portMin: 40000, portMax: 40299, replicas: 3, address: VIP },
  tls: { control: 'required', data: 'required', implicit: { enabled: true, port: 9990 } },
  proxy: { control: 'required', implicit: 'required', passive: 'required', trustedCidrs: ['10.1.0.0/24'] },
  admin: { enabled: true, port: 9090 },
  limits: { idleTimeoutMs: 900_000 },
  deploy: { name: 'kftpd', f5: { virtualAddress: VIP, tenant: 'kftpd', application: 'ftp' } },
};

function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof over !== 'object' || over === null || Array.isArray(over)) return over;
  const out: Json = { ...(base as Json) };
  for (const [key, value] of Object.entries(over as Json)) out[key] = merge(out[key], value);
  return out;
}

function makeConfig(overrides: unknown = {}): Config {
  return configSchema.parse(merge(BASE, overrides));
}

const CIS_EMPTY_POOLS = /leaves every pool empty/;

/**
 * Renders, checks the text is the request, validates it against both AS3 schemas, returns the
 * Application. Render errors fail the test unless `allowErrors` (the empty-pool error of CIS
 * members, which most tests here use because the pools read simply, is always let through).
 */
function render(config: Config, allowErrors = false): { request: Json; app: Record<string, Json>; warnings: readonly string[]; errors: readonly string[] } {
  const output = renderF5As3(config);
  assert.ok(output.text.endsWith('}\n'));
  const request = JSON.parse(output.text) as Json;
  assert.deepEqual(request, JSON.parse(JSON.stringify(buildAs3Request(config).request)));
  assert.deepEqual(as3SchemaErrors(request), []);
  const errors = output.errors.filter((error) => !CIS_EMPTY_POOLS.test(error));
  if (!allowErrors) assert.deepEqual(errors, []);
  const declaration = request['declaration'] as Json;
  const tenant = declaration[f5TenantName(config)] as Json;
  return { request, app: tenant[config.deploy.f5.application] as Record<string, Json>, warnings: output.warnings, errors };
}

function objectsOf(app: Record<string, Json>, cls: string): [string, Json][] {
  return Object.entries(app).filter(([, value]) => typeof value === 'object' && value['class'] === cls);
}

function used(pointer: unknown): string {
  const use = (pointer as { use?: unknown }).use;
  assert.equal(typeof use, 'string', `not an AS3 use-pointer: ${JSON.stringify(pointer)}`);
  return use as string;
}

function expandPorts(entry: unknown): number[] {
  const [min, max = min] = String(entry).split('-').map(Number);
  assert.ok(min !== undefined && max !== undefined && Number.isInteger(min) && Number.isInteger(max));
  const ports: number[] = [];
  for (let port = min; port <= max; port++) ports.push(port);
  return ports;
}

test('the request envelope: AS3 deploy, persisted, ADC with the lowest schemaVersion its features need, a stable id, label and remark', () => {
  const { request } = render(makeConfig());
  assert.equal(request['class'], 'AS3');
  assert.equal(request['action'], 'deploy');
  assert.equal(request['persist'], true);
  const declaration = request['declaration'] as Json;
  assert.equal(declaration['class'], 'ADC');
  // Port-list data virtuals arrived in AS3 3.46.0; nothing else rendered needs more.
  assert.equal(declaration['schemaVersion'], '3.46.0');
  assert.equal(declaration['id'], 'kftpd-kftpd-kftpd-ftp');
  assert.equal(typeof declaration['label'], 'string');
  assert.equal(typeof declaration['remark'], 'string');
  assert.equal(renderF5As3(makeConfig()).text, renderF5As3(makeConfig()).text, 'deterministic');
});

test('passthrough, 3 replicas, CIS: port lists are exactly the layout slices, disjoint, each to one replica', () => {
  const config = makeConfig({ deploy: { f5: { poolMembers: 'cis' } } });
  const { app } = render(config);
  const layout = deployLayout(config);
  const dataVirtuals = objectsOf(app, 'Service_TCP').filter(([name]) => name.startsWith('data'));
  assert.equal(dataVirtuals.length, 3);
  const seen = new Set<number>();
  for (const replica of layout.replicaLayouts) {
    const virtual = app[`data${replica.index}`];
    assert.ok(virtual, `data${replica.index}`);
    assert.equal(virtual['translateServerPort'], false);
    assert.deepEqual(virtual['persistenceMethods'], []);
    assert.deepEqual(virtual['virtualAddresses'], [VIP]);
    const portList = app[used(virtual['virtualPort'])];
    assert.equal(portList?.['class'], 'Net_Port_List');
    const ports = (portList?.['ports'] as unknown[]).flatMap(expandPorts);
    assert.deepEqual(ports, [...replica.ports], `replica ${replica.index}'s port list is its slice`);
    for (const port of ports) {
      assert.ok(!seen.has(port), `port ${port} in two port lists`);
      seen.add(port);
    }
    const pool = app[used(virtual['pool'])];
    assert.equal(pool?.['class'], 'Pool');
    const members = pool?.['members'] as Json[];
    assert.equal(members.length, 1, 'one member block');
    // CIS: filled from the replica's own data Service, matched by one of its ports.
    assert.deepEqual(members[0], { servicePort: replica.slice.min, serverAddresses: [] });
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), layout.replicaLayouts.flatMap((replica) => [...replica.ports]), 'the lists cover the slices exactly');
  // Control and implicit pools: CIS matches servicePort against the Service's ports (21, 990).
  assert.deepEqual((app['controlPool']?.['members'] as Json[])[0], { servicePort: 21, serverAddresses: [] });
  assert.deepEqual((app['implicitPool']?.['members'] as Json[])[0], { servicePort: 990, serverAddresses: [] });
  assert.equal(app['control']?.['virtualPort'], 21);
  assert.equal(app['implicit']?.['virtualPort'], 990);
  assert.equal(used(app['implicit']?.['pool']), 'implicitPool');
});

test('static members: pod addresses in ordinal order, data pools one address each, container ports', () => {
  const members = ['10.244.1.15', '10.244.2.23', '10.244.3.9'];
  const config = makeConfig({ deploy: { f5: { poolMembers: 'static', memberAddresses: members } } });
  const { app } = render(config);
  assert.deepEqual(app['controlPool']?.['members'], [{ servicePort: 2121, serverAddresses: members }]);
  assert.deepEqual(app['implicitPool']?.['members'], [{ servicePort: 9990, serverAddresses: members }]);
  members.forEach((address, index) => {
    const pool = app[used(app[`data${index}`]?.['pool'])];
    assert.deepEqual(pool?.['members'], [{ servicePort: 0, serverAddresses: [address] }]);
  });
});

test('static members: a count that does not match passive.replicas, or a non-address, is refused', () => {
  assert.throws(() => buildAs3Request(makeConfig({ deploy: { f5: { poolMembers: 'static', memberAddresses: ['10.0.0.1', '10.0.0.2'] } } })), DeployLayoutError);
  assert.throws(() => buildAs3Request(makeConfig({ deploy: { f5: { poolMembers: 'static', memberAddresses: ['10.0.0.1', '10.0.0.2', 'pod-3'] } } })), DeployLayoutError);
});

test('no VIP: a clear DeployLayoutError', () => {
  assert.throws(
    () => buildAs3Request(makeConfig({ passive: { address: '' }, deploy: { f5: { virtualAddress: '' } } })),
    (error: unknown) => error instanceof DeployLayoutError && /deploy\.f5\.virtualAddress/.test(error.message),
  );
});

test('allowFrom becomes [VIP, CIDR] pairs on every virtual; a SNAT pool path becomes a bigip pointer', () => {
  const config = makeConfig({ deploy: { f5: { allowFrom: ['198.51.100.0/24', '203.0.113.7'], snat: '/Common/snat-ftp' } } });
  const { app } = render(config);
  for (const [name, virtual] of objectsOf(app, 'Service_TCP')) {
    assert.deepEqual(virtual['virtualAddresses'], [[VIP, '198.51.100.0/24'], [VIP, '203.0.113.7']], name);
    assert.deepEqual(virtual['snat'], { bigip: '/Common/snat-ftp' }, name);
  }
  assert.throws(() => buildAs3Request(makeConfig({ deploy: { f5: { allowFrom: ['2001:db8::/32'] } } })), DeployLayoutError, 'family must match the VIP');
  assert.throws(() => buildAs3Request(makeConfig({ deploy: { f5: { allowFrom: ['nonsense'] } } })), DeployLayoutError);
});

test('snat keywords pass through as strings', () => {
  for (const snat of ['auto', 'self', 'none'] as const) {
    const { app, warnings } = render(makeConfig({ deploy: { f5: { snat } } }));
    assert.equal(app['control']?.['snat'], snat);
    assert.equal(warnings.some((w) => /snat is none/.test(w)), snat === 'none');
  }
});

test('idle timeouts: derived above limits.idleTimeoutMs (control and data), or taken from deploy.f5.idleTimeoutSeconds', () => {
  for (const idleTimeoutMs of [60_000, 900_000, 3_600_500]) {
    const config = makeConfig({ limits: { idleTimeoutMs } });
    const { app } = render(config);
    const control = app[used(app['control']?.['profileTCP'])];
    const data = app[used(app['data0']?.['profileTCP'])];
    assert.equal(control?.['class'], 'TCP_Profile');
    assert.equal(control?.['idleTimeout'], Math.ceil(idleTimeoutMs / 1000) + 60);
    assert.ok((control?.['idleTimeout']) * 1000 > idleTimeoutMs);
    assert.ok((data?.['idleTimeout'] as number) * 1000 > idleTimeoutMs);
    assert.ok((data?.['idleTimeout'] as number) * 1000 >= config.passive.acceptTimeoutMs);
    assert.equal(used(app['implicit']?.['profileTCP']), used(app['control']?.['profileTCP']));
  }
  const fixed = render(makeConfig({ deploy: { f5: { idleTimeoutSeconds: 3600 } } }));
  assert.equal(fixed.app['tcpControl']?.['idleTimeout'], 3600);
  const tooShort = render(makeConfig({ deploy: { f5: { idleTimeoutSeconds: 300 } } }));
  assert.ok(tooShort.warnings.some((w) => /idleTimeoutSeconds/.test(w)));
});

test('idle timeouts with SFTP on: the shared control profile outlasts the longer of limits.idleTimeoutMs and sftp.idleTimeoutMs', () => {
  for (const [ftp, ssh] of [[900_000, 3_600_000], [3_600_000, 600_000]] as const) {
    const { app } = render(makeConfig({ limits: { idleTimeoutMs: ftp }, sftp: { enabled: true, idleTimeoutMs: ssh } }));
    const sftpProfile = app[used(app['sftp']?.['profileTCP'])];
    assert.equal(sftpProfile?.['idleTimeout'], Math.ceil(Math.max(ftp, ssh) / 1000) + 60);
    assert.equal(used(app['sftp']?.['profileTCP']), used(app['control']?.['profileTCP']));
  }
  const never = render(makeConfig({ sftp: { enabled: true, idleTimeoutMs: 0 } }));
  assert.equal(never.app['tcpControl']?.['idleTimeout'], 86_400);
  assert.ok(never.warnings.some((w) => /sftp\.idleTimeoutMs is 0/.test(w)));
});

test('monitor http-readyz: GET /readyz on the admin port for control pools, /healthz for data pools', () => {
  const { app } = render(makeConfig({ admin: { port: 9191 }, shutdown: { readinessDelayMs: 30_000 } }));
  const health = app[used((app['controlPool']?.['monitors'] as unknown[])[0])];
  assert.equal(health?.['class'], 'Monitor');
  assert.equal(health?.['monitorType'], 'http');
  assert.equal(health?.['targetPort'], 9191);
  assert.equal(health?.['send'], 'GET /readyz HTTP/1.1\\r\\nHost: kftpd\\r\\nConnection: close\\r\\n\\r\\n');
  assert.equal(health?.['send'], READYZ_SEND);
  assert.match(String(health?.['receive']), /200/);
  // BIG-IP must see readiness fail before kftpd closes its listeners.
  assert.ok((health?.['timeout'] as number) * 1000 < 30_000);
  assert.equal(health?.['timeout'], 16);
  assert.equal(health?.['interval'], 5);
  const alive = app[used((app['dataPool0']?.['monitors'] as unknown[])[0])];
  assert.equal(alive?.['targetPort'], 9191);
  assert.match(String(alive?.['send']), /^GET \/healthz /);
  assert.deepEqual(app['implicitPool']?.['monitors'], app['controlPool']?.['monitors']);
});

test('monitor tcp and tcp-half-open: the control port through the alias port, for every pool', () => {
  for (const monitor of ['tcp', 'tcp-half-open'] as const) {
    const { app, request } = render(makeConfig({ deploy: { f5: { monitor } } }), true);
    const pools = objectsOf(app, 'Pool');
    const names = new Set(pools.map(([, pool]) => used((pool['monitors'] as unknown[])[0])));
    assert.equal(names.size, 1, 'one monitor for all pools');
    const [name] = [...names];
    assert.ok(name !== undefined);
    assert.equal(app[name]?.['monitorType'], monitor);
    assert.equal(app[name]?.['targetPort'], 2121);
    assert.equal(app[name]?.['send'], undefined);
    // A tcp monitor without send/receive strings needs AS3 3.29 (older schemas require send).
    assert.equal((request['declaration'] as Json)['schemaVersion'], '3.46.0');
  }
});

test('monitor tcp with proxy.control required is an error (the defender would ban the monitor); optional only warns', () => {
  const required = render(makeConfig({ deploy: { f5: { monitor: 'tcp' } } }), true);
  assert.equal(required.errors.length, 1, required.errors.join('\n'));
  assert.match(required.errors[0] ?? '', /monitor tcp .* proxy\.control is required.*tcp-half-open/);
  const optional = render(makeConfig({ proxy: { control: 'optional' }, deploy: { f5: { monitor: 'tcp' } } }));
  assert.ok(optional.warnings.some((w) => /without a PROXY header/.test(w)));
  const halfOpen = render(makeConfig({ deploy: { f5: { monitor: 'tcp-half-open' } } }));
  assert.deepEqual(halfOpen.errors, []);
});

test('PROXY on: the v1 iRule on every virtual, IPv4 and IPv6, route domains cut off', () => {
  const { app } = render(makeConfig());
  for (const [name, virtual] of objectsOf(app, 'Service_TCP')) assert.deepEqual(virtual['iRules'], [{ use: 'proxyProtocolV1' }], name);
  const rule = String(app['proxyProtocolV1']?.['iRule']);
  assert.match(rule, /when SERVER_CONNECTED/);
  assert.match(rule, /TCP::respond/);
  assert.match(rule, /TCP4/);
  assert.match(rule, /TCP6/);
  assert.match(rule, /"%"/);
  assert.match(rule, /\\r\\n/);
});

test('PROXY off: no iRule anywhere, and a warning that the client address is lost behind SNAT', () => {
  const { app, warnings } = render(makeConfig({ proxy: { control: 'off', implicit: 'off', passive: 'off', trustedCidrs: [] } }));
  for (const [name, virtual] of objectsOf(app, 'Service_TCP')) assert.equal(virtual['iRules'], undefined, name);
  assert.equal(app['proxyProtocolV1'], undefined);
  assert.ok(warnings.some((w) => /proxy\.control, proxy\.implicit, proxy\.passive off while BIG-IP SNATs/.test(w)), warnings.join('\n'));
});

test('PROXY per listener: only the virtuals whose listener reads it, and the data-address trap is an error', () => {
  const { app, errors } = render(makeConfig({ proxy: { control: 'required', implicit: 'off', passive: 'off' } }), true);
  assert.deepEqual(app['control']?.['iRules'], [{ use: 'proxyProtocolV1' }]);
  assert.equal(app['implicit']?.['iRules'], undefined);
  assert.equal(app['data1']?.['iRules'], undefined);
  assert.ok(errors.some((e) => /requireSameAddress refuses/.test(e)), errors.join('\n'));
  const relaxed = render(makeConfig({ passive: { requireSameAddress: false }, proxy: { control: 'required', implicit: 'off', passive: 'off' } }));
  assert.deepEqual(relaxed.errors, []);
});

test('no implicit TLS: no implicit virtual or pool', () => {
  const { app } = render(makeConfig({ tls: { implicit: { enabled: false } }, proxy: { implicit: 'off' } }));
  assert.equal(app['implicit'], undefined);
  assert.equal(app['implicitPool'], undefined);
});

test('a long release name still gives schema-valid remarks and labels', () => {
  const name = 'a'.repeat(52);
  const { app, request } = render(makeConfig({ passive: { portMin: 60000, portMax: 65535, replicas: 3 }, deploy: { name, f5: { tenant: '' } } }));
  assert.ok((request['declaration'] as Json)[name], 'the tenant is the release name');
  assert.ok(String(app['data2']?.['remark']).length <= 64);
});

test('a port offset cannot work with port-keeping data virtuals', () => {
  assert.throws(() => buildAs3Request(makeConfig({ passive: { portOffset: 1000 } })), DeployLayoutError);
});

test('an IPv6 VIP validates too', () => {
  const vip = '2001:db8::10';
  const { app } = render(makeConfig({ passive: { address: vip }, deploy: { f5: { virtualAddress: vip, allowFrom: ['2001:db8:1::/48'] } } }));
  assert.deepEqual(app['control']?.['virtualAddresses'], [[vip, '2001:db8:1::/48']]);
});

test('ftp-profile mode: one control virtual with the FTP ALG, no data virtuals, FTPS impossible, AS3 3.20', () => {
  const config = makeConfig({
    passive: { address: '', portMax: 40199, replicas: 2 },
    tls: { control: 'off', data: 'optional', implicit: { enabled: false } },
    proxy: { control: 'off', implicit: 'off', passive: 'off', trustedCidrs: [] },
    deploy: { f5: { mode: 'ftp-profile' } },
  });
  const { app, warnings, request } = render(config);
  const virtuals = objectsOf(app, 'Service_TCP');
  assert.deepEqual(virtuals.map(([name]) => name), ['control']);
  assert.equal(objectsOf(app, 'Net_Port_List').length, 0);
  const profile = app[used(app['control']?.['profileFTP'])];
  assert.equal(profile?.['class'], 'FTP_Profile');
  assert.equal(profile?.['translateExtendedEnabled'], true);
  assert.equal(profile?.['activeModeEnabled'], false);
  assert.equal(profile?.['ftpsMode'], 'disallow');
  assert.equal(profile?.['port'], 20);
  assert.deepEqual(app['control']?.['persistenceMethods'], []);
  assert.ok(!warnings.some((w) => /passive\.address/.test(w)));
  // An FTP profile by `use` needs AS3 3.20; no port lists, so nothing newer.
  assert.equal((request['declaration'] as Json)['schemaVersion'], '3.20.0');
});

test('ftp-profile mode: required TLS is refused; an advertised address and PROXY required on data are errors', () => {
  const ftp = { deploy: { f5: { mode: 'ftp-profile' } } };
  assert.throws(() => buildAs3Request(makeConfig(ftp)), (error: unknown) => error instanceof DeployLayoutError && /tls\.control/.test(error.message));
  const { warnings, errors } = render(makeConfig(merge(ftp, { tls: { control: 'optional', data: 'optional', implicit: { enabled: false } } })), true);
  assert.ok(errors.some((e) => /passive\.address is 192\.0\.2\.10/.test(e)), errors.join('\n'));
  assert.ok(errors.some((e) => /proxy\.passive is required/.test(e)));
  assert.ok(warnings.some((w) => /tls\.control is optional/.test(w)));
});

test('the validator really rejects: a virtual port of 70000, an unknown Pool property, a bad address', () => {
  const validate = as3Validator();
  const good = JSON.parse(renderF5As3(makeConfig()).text) as Json;
  assert.equal(validate(good), true);
  const appOf = (request: Json): Record<string, Json> => ((request['declaration'] as Json)['kftpd'] as Json)['ftp'] as Record<string, Json>;

  const badPort = structuredClone(good);
  (appOf(badPort)['control'] as Json)['virtualPort'] = 70000;
  assert.equal(validate(badPort), false);

  const unknownProperty = structuredClone(good);
  (appOf(unknownProperty)['controlPool'] as Json)['stickiness'] = 'yes';
  assert.equal(validate(unknownProperty), false);
  assert.match(describeErrors(validate.errors), /additionalProperty/);

  const badAddress = structuredClone(good);
  (appOf(badAddress)['data0'] as Json)['virtualAddresses'] = ['192.0.2.300'];
  assert.equal(validate(badAddress), false);

  const badRange = structuredClone(good);
  (appOf(badRange)['tcpData'] as Json)['idleTimeout'] = 0;
  assert.equal(validate(badRange), false);
});

test('the CIS-bundled 3.52 schema really rejects what CIS 2.18-2.20.3 skip: a schemaVersion above 3.52', () => {
  const good = JSON.parse(renderF5As3(makeConfig()).text) as Json;
  const cis = cisBundledAs3Validator();
  assert.equal(cis(good), true, describeErrors(cis.errors));
  const pinned = structuredClone(good);
  (pinned['declaration'] as Json)['schemaVersion'] = '3.56.0';
  assert.equal(cis(pinned), false, 'the old pin, 3.56.0, is what CIS skipped');
  assert.equal(as3Validator()(pinned), true, 'while AS3 3.56 itself accepts it');
  assert.ok(as3SchemaErrors(pinned).length === 1);
});

test('f5ip as AS3 describes it: address, optional %route domain, optional /prefix', () => {
  for (const good of ['', '10.0.0.1', '10.0.0.0/8', '10.0.0.1%2', '10.0.0.0%2/24', '2001:db8::1', '2001:db8::/32']) assert.equal(isF5Ip(good), true, good);
  for (const bad of ['10.0.0.256', '10.0.0.0/33', '2001:db8::/129', 'example.com', '10.0.0.1%x', ' 10.0.0.1']) assert.equal(isF5Ip(bad), false, bad);
});

test('the registry knows f5-as3 and its committed file name', () => {
  assert.equal(RENDER_TARGETS['f5-as3']?.fileName, 'f5-as3.json');
  assert.equal(RENDER_TARGETS['f5-as3']?.render(makeConfig()).text, renderF5As3(makeConfig()).text);
});
