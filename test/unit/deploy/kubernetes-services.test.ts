/**
 * @module test/unit/deploy/kubernetes-services
 * The Services `kftpd render kubernetes` produces: each replica's data Service carries exactly
 * its slice (never split, whatever its size), the control and implicit Services map the
 * public ports, node ports stay inside the node-port range, and the F5 CIS discovery labels
 * name each pool on exactly one Service, with the pool names the F5 renderer uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATIONS_MAX_BYTES, ENDPOINT_SLICE_MAX_PORTS } from '../../../src/deploy/kubernetes/api-limits.js';
import { CIS_LABEL_KEYS } from '../../../src/deploy/kubernetes/cis-labels.js';
import { DeployLayoutError, deployLayout, f5ControlPoolName, f5DataPoolName, f5ImplicitPoolName, f5TenantName, PUBLIC_PORTS } from '../../../src/deploy/layout.js';
import { all, only, render, scenario, SCENARIOS } from './kubernetes-fixtures.js';
import type { Loose } from './kubernetes-fixtures.js';

test('data Services: one per replica, exactly its slice port by port, slices disjoint', () => {
  for (const input of Object.values(SCENARIOS)) {
    const { config, objects } = render(input);
    const layout = deployLayout(config);
    const services = all(objects, 'Service').filter((service: Loose) => service.metadata.labels['kftpd/service'] === 'data');
    assert.equal(services.length, layout.replicas);
    const seen = new Set<number>();
    for (const replica of layout.replicaLayouts) {
      const service = only(objects, 'Service', replica.dataServiceName);
      assert.deepEqual(service.spec.selector['statefulset.kubernetes.io/pod-name'], `${layout.name}-${replica.index}`);
      const ports = service.spec.ports.map((port: Loose) => port.port);
      const expected: number[] = [];
      for (let port = replica.slice.min; port <= replica.slice.max; port++) expected.push(port);
      assert.deepEqual(ports, expected, replica.dataServiceName);
      for (const port of service.spec.ports) {
        assert.equal(port.targetPort, port.port);
        assert.equal(port.protocol, 'TCP');
        assert.ok(port.name.length <= 15, port.name);
        assert.ok(!seen.has(port.port), `port ${port.port} in two slices`);
        seen.add(port.port);
        if (config.deploy.kubernetes.dataServiceType === 'NodePort') assert.equal(port.nodePort, port.port);
        else assert.equal(port.nodePort, undefined);
      }
      assert.ok(ports.every((port: number) => port >= config.passive.portMin && port <= config.passive.portMax));
      assert.equal(service.spec.publishNotReadyAddresses, true, 'a draining replica keeps its data connections');
      assert.equal(service.spec.clusterIP, config.deploy.kubernetes.dataServiceType === 'NodePort' ? undefined : 'None');
    }
  }
});

test(`a slice over the 100 ports the API reference mentions stays one Service (EndpointSlices hold ${ENDPOINT_SLICE_MAX_PORTS})`, () => {
  const { objects } = render(scenario('slice of 250 ports'));
  assert.equal(only(objects, 'Service', 'kftpd-data-0').spec.ports.length, 250);
  assert.equal(only(objects, 'Service', 'kftpd-data-1').spec.ports.length, 250);
  const atLimit = render({ passive: { portMin: 10000, portMax: 10000 + ENDPOINT_SLICE_MAX_PORTS - 1, replicas: 1, address: 'ftp.example.com' } });
  assert.equal(only(atLimit.objects, 'Service', 'kftpd-data-0').spec.ports.length, ENDPOINT_SLICE_MAX_PORTS);
  assert.throws(
    () => render({ passive: { portMin: 10000, portMax: 10000 + ENDPOINT_SLICE_MAX_PORTS, replicas: 1, address: 'ftp.example.com' } }),
    (error: unknown) => error instanceof DeployLayoutError && /20001 ports, more than the 20000/.test(error.message),
  );
});

test('a data Service too large for client-side kubectl apply is reported', () => {
  const big = render({ passive: { portMin: 40000, portMax: 44999, replicas: 1, address: 'ftp.example.com' }, deploy: { kubernetes: { image: 'kftpd:1' } } });
  const service = only(big.objects, 'Service', 'kftpd-data-0');
  assert.ok(JSON.stringify(service).length > ANNOTATIONS_MAX_BYTES);
  assert.equal(big.warnings.filter((warning) => warning.includes('--server-side')).length, 1);
  assert.match(big.warnings.find((warning) => warning.includes('--server-side')) ?? '', /^Service kftpd-data-0 /);
  const small = render(scenario('slice of 250 ports'));
  assert.equal(small.warnings.filter((warning) => warning.includes('--server-side')).length, 0);
});

test('CIS discovery labels: one Service per pool, pool names shared with the F5 renderer', () => {
  const { config, objects } = render(scenario('defaults, 3 replicas'));
  const byPool = new Map<string, string>();
  for (const service of all(objects, 'Service')) {
    const labels = service.metadata.labels;
    const pool = labels[CIS_LABEL_KEYS.pool];
    if (pool === undefined) continue;
    // The tenant defaults to the release name (deploy.f5.tenant empty).
    assert.equal(labels[CIS_LABEL_KEYS.tenant], f5TenantName(config));
    assert.equal(labels[CIS_LABEL_KEYS.tenant], config.deploy.name);
    assert.equal(labels[CIS_LABEL_KEYS.application], config.deploy.f5.application);
    assert.ok(!byPool.has(pool), `CIS fails discovery when two Services carry pool ${pool}`);
    byPool.set(pool, service.metadata.name);
  }
  assert.deepEqual(Object.fromEntries(byPool), {
    [f5ControlPoolName()]: 'kftpd',
    [f5DataPoolName(0)]: 'kftpd-data-0',
    [f5DataPoolName(1)]: 'kftpd-data-1',
    [f5DataPoolName(2)]: 'kftpd-data-2',
  });
  assert.equal(f5ControlPoolName(), 'controlPool');
  assert.equal(f5DataPoolName(7), 'dataPool7');
  const staticMembers = render({ ...scenario('defaults, 3 replicas'), deploy: { f5: { poolMembers: 'static' } } });
  for (const service of all(staticMembers.objects, 'Service')) assert.equal(service.metadata.labels[CIS_LABEL_KEYS.pool], undefined);
  assert.throws(() => render({ ...scenario('defaults, 3 replicas'), deploy: { f5: { tenant: 'ends-with-dash-' } } }), DeployLayoutError);
});

test('control Service: 21 to the control port, ClusterIP without node-port fields', () => {
  const { objects } = render(scenario('defaults, 3 replicas'));
  const control = only(objects, 'Service', 'kftpd');
  assert.equal(control.spec.type, 'ClusterIP');
  assert.deepEqual(control.spec.ports, [{ name: 'ftp', port: PUBLIC_PORTS.control, targetPort: 2121, protocol: 'TCP' }]);
  assert.equal(control.spec.externalTrafficPolicy, undefined);
  assert.equal(control.spec.loadBalancerIP, undefined);
  assert.equal(control.metadata.annotations, undefined);
});

test('control Service: LoadBalancer with a fixed address and the operator\'s annotations', () => {
  const { objects } = render(scenario('LoadBalancer with a fixed IP'));
  const control = only(objects, 'Service', 'kftpd');
  assert.equal(control.spec.type, 'LoadBalancer');
  assert.equal(control.spec.loadBalancerIP, '203.0.113.10');
  assert.equal(control.spec.externalTrafficPolicy, 'Local');
  assert.deepEqual(control.metadata.annotations, {
    'metallb.io/loadBalancerIPs': '203.0.113.10',
    'cis.f5.com/ip': '203.0.113.10',
    'example.com/owner': 'ftp-team',
  });
  assert.equal(only(objects, 'Service', 'kftpd-data-0').metadata.annotations['example.com/owner'], 'ftp-team');
});

test('implicit FTPS: 990 on the control Service, and its own Service for CIS\'s implicitPool', () => {
  const input = scenario('implicit TLS on port 990, privileged control port');
  const { objects } = render(input);
  const control = only(objects, 'Service', 'kftpd');
  assert.deepEqual(
    control.spec.ports.map((port: Loose) => [port.name, port.port, port.targetPort]),
    [
      ['ftp', 21, 21],
      ['ftps', PUBLIC_PORTS.implicit, 990],
    ],
  );
  const implicit = only(objects, 'Service', 'kftpd-implicit');
  assert.equal(implicit.spec.type, 'ClusterIP');
  assert.deepEqual(implicit.spec.ports, [{ name: 'ftps', port: PUBLIC_PORTS.implicit, targetPort: 990, protocol: 'TCP' }]);
  assert.equal(implicit.metadata.labels[CIS_LABEL_KEYS.pool], f5ImplicitPoolName());
  assert.deepEqual(implicit.spec.selector, control.spec.selector);
  const pools = all(objects, 'Service').map((service: Loose) => service.metadata.labels[CIS_LABEL_KEYS.pool]).filter(Boolean);
  assert.deepEqual(pools, [f5ControlPoolName(), f5ImplicitPoolName(), f5DataPoolName(0), f5DataPoolName(1), f5DataPoolName(2)]);
  // Not needed when CIS does not fill the pools: the control Service's 990 serves everyone.
  const noCis = render({ ...input, deploy: { ...input.deploy, f5: { virtualAddress: '203.0.113.10', poolMembers: 'static', memberAddresses: ['10.2.0.1', '10.2.0.2', '10.2.0.3'] } } });
  assert.equal(all(noCis.objects, 'Service').filter((service: Loose) => service.metadata.name === 'kftpd-implicit').length, 0);
  // With NodePort (CIS in nodeport mode) the fixed implicit nodePort goes to the Service CIS
  // reads, but BIG-IP in front of node ports is refused (issue 16: every node in every pool).
  const nodePort = render({
    ...input,
    passive: { ...input.passive, portMin: 30100, portMax: 30111 },
    deploy: { ...input.deploy, kubernetes: { service: { type: 'NodePort', controlNodePort: 30021, implicitNodePort: 30990 } } },
  });
  const nodePortImplicit = only(nodePort.objects, 'Service', 'kftpd-implicit');
  assert.equal(nodePortImplicit.spec.type, 'NodePort');
  assert.equal(nodePortImplicit.spec.ports[0].nodePort, 30990);
  assert.equal(nodePortImplicit.spec.externalTrafficPolicy, 'Local');
  const nodePortControl = only(nodePort.objects, 'Service', 'kftpd');
  assert.deepEqual(nodePortControl.spec.ports.map((port: Loose) => port.nodePort), [30021, undefined]);
  assert.equal(nodePort.errors.length, 1);
  assert.match(nodePort.errors[0] ?? '', /--pool-member-type=cluster/);
});

test('NodePort: requested node ports inside 30000-32767, passive nodePort == port, no clashes', () => {
  const { objects, warnings, errors } = render(scenario('NodePort data Services'));
  const control = only(objects, 'Service', 'kftpd');
  assert.equal(control.spec.type, 'NodePort');
  assert.equal(control.spec.ports[0].nodePort, 30021);
  assert.equal(control.spec.externalTrafficPolicy, 'Cluster');
  assert.equal(only(objects, 'Service', 'kftpd-data-1').spec.type, 'NodePort');
  assert.equal(only(objects, 'Service', 'kftpd-data-1').spec.externalTrafficPolicy, 'Cluster');
  assert.deepEqual(warnings, []);
  assert.deepEqual(errors, []);
  const outside = { passive: { portMin: 50000, portMax: 50099, replicas: 2, address: 'ftp.example.com' }, deploy: { kubernetes: { dataServiceType: 'NodePort' as const } } };
  assert.throws(() => render(outside), (error: unknown) => error instanceof DeployLayoutError && /outside the node-port range 30000-32767/.test(error.message));
  const straddling = { ...outside, passive: { ...outside.passive, portMin: 32700, portMax: 32799 } };
  assert.throws(() => render(straddling), DeployLayoutError);
  const clash = { ...scenario('NodePort data Services'), deploy: { kubernetes: { service: { type: 'NodePort' as const, controlNodePort: 30105 }, dataServiceType: 'NodePort' as const } } };
  assert.throws(() => render(clash), (error: unknown) => error instanceof DeployLayoutError && /nodePort 30105 is requested twice/.test(error.message));
  const controlOutside = { ...scenario('defaults, 3 replicas'), deploy: { kubernetes: { service: { type: 'NodePort' as const, controlNodePort: 2121 } } } };
  assert.throws(() => render(controlOutside), DeployLayoutError);
});
