/** @module test/unit/deploy/shared-address-warning — the render warning that saves a deployment from banning all clients. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { defenderSharedAddressWarning, sharedClientAddressCause } from '../../../src/deploy/shared-address-warning.js';

const base: ConfigInput = { passive: { portMin: 40000, portMax: 40099, replicas: 2 } };
const parse = (extra: ConfigInput) => configSchema.parse({ ...base, ...extra });

test('BIG-IP SNAT without PROXY makes every client share an address: the defender would ban them all', () => {
  const config = parse({ deploy: { f5: { virtualAddress: '192.0.2.10' } } });
  assert.match(sharedClientAddressCause(config) ?? '', /SNAT/);
  assert.match(defenderSharedAddressWarning(config) ?? '', /ban/);
});

test('kube-proxy masquerading (externalTrafficPolicy Cluster) is the same problem', () => {
  const config = parse({ deploy: { kubernetes: { service: { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster' } } } });
  assert.match(defenderSharedAddressWarning(config) ?? '', /masquerading/);
});

test('no warning with PROXY on, with the defender off, with a safe list, or without a hiding balancer', () => {
  const snat = { deploy: { f5: { virtualAddress: '192.0.2.10' } } };
  assert.equal(defenderSharedAddressWarning(parse({ ...snat, proxy: { control: 'required', passive: 'required', trustedCidrs: ['10.0.0.0/8'] } })), null);
  assert.equal(defenderSharedAddressWarning(parse({ ...snat, defender: { enabled: false } })), null);
  assert.equal(defenderSharedAddressWarning(parse({ ...snat, defender: { safeList: ['10.1.0.0/24'] } })), null);
  assert.equal(defenderSharedAddressWarning(parse({ deploy: { f5: { virtualAddress: '192.0.2.10', snat: 'none' } } })), null);
  assert.equal(defenderSharedAddressWarning(parse({})), null);
});
