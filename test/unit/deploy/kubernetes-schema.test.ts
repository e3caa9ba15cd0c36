/**
 * @module test/unit/deploy/kubernetes-schema
 * Every object `kftpd render kubernetes` produces, in every scenario, is valid for
 * Kubernetes v1.33.0: core kinds against the OpenAPI schema kubernetes-models 4.5.1 is
 * generated from (plus a check for fields the schema does not know, see
 * kubernetes-validate.ts); the cert-manager Certificate and the ServiceMonitor, whose CRDs
 * are not in kubernetes-models, structurally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { KUBERNETES_SCHEMA_VERSION } from '../../../src/deploy/kubernetes/api-limits.js';
import { renderKubernetes } from '../../../src/deploy/kubernetes/render-kubernetes.js';
import { configOf, only, render, scenario, SCENARIOS } from './kubernetes-fixtures.js';
import { hasCoreSchema, validateCore, validateObject } from './kubernetes-validate.js';

test('the schema version is the one kubernetes-models 4.5.1 was generated from', () => {
  // kubernetes-models CHANGELOG 4.5.0: "Update schema version to v1.33.0"; 4.5.1 changed no schema.
  assert.equal(KUBERNETES_SCHEMA_VERSION, '1.33.0');
});

for (const [name, input] of Object.entries(SCENARIOS)) {
  test(`${name}: every rendered object is valid for Kubernetes ${KUBERNETES_SCHEMA_VERSION}`, () => {
    const { objects } = render(input);
    assert.ok(objects.length >= 6, 'ConfigMap, three Services, StatefulSet, PDB at least');
    for (const object of objects) {
      assert.doesNotThrow(() => validateObject(object), `${object.kind} ${object.metadata.name}`);
    }
  });

  test(`${name}: the YAML text reads back (as YAML 1.1, like kubectl) to exactly the objects`, () => {
    const config = configOf(input);
    const { objects } = render(input);
    const docs = parseAllDocuments(renderKubernetes(config).text, { version: '1.1' });
    assert.ok(Array.isArray(docs));
    for (const doc of docs) assert.deepEqual(doc.errors, []);
    assert.deepEqual(
      docs.map((doc) => doc.toJS() as unknown),
      objects.map((object) => structuredClone(object)),
    );
  });
}

test('the core kinds are checked against the real schema, the two CRDs are not in kubernetes-models', () => {
  const { objects } = render(scenario('cert-manager and ServiceMonitor'));
  const kinds = new Map(objects.map((object) => [object.kind, hasCoreSchema(object)]));
  assert.deepEqual(Object.fromEntries(kinds), {
    ConfigMap: true,
    Certificate: false,
    PersistentVolumeClaim: true,
    Service: true,
    StatefulSet: true,
    PodDisruptionBudget: true,
    NetworkPolicy: true,
    ServiceMonitor: false,
  });
});

test('the validator rejects what it should: wrong types and misspelt fields', () => {
  const { objects } = render(scenario('defaults, 3 replicas'));
  const statefulSet = structuredClone(only(objects, 'StatefulSet'));
  statefulSet.spec.replicas = '3';
  assert.throws(() => validateCore(statefulSet), /replicas must be integer/);
  const service = structuredClone(only(objects, 'Service', 'kftpd-headless'));
  service.spec.publishNotReadyAddress = true;
  assert.throws(() => validateCore(service), /publishNotReadyAddress/);
  const preStop = structuredClone(only(objects, 'StatefulSet'));
  preStop.spec.template.spec.containers[0].lifecycle.preStop.sleep = { second: 5 };
  assert.throws(() => validateCore(preStop));
  const certificate = structuredClone(only(render(scenario('cert-manager and ServiceMonitor')).objects, 'Certificate'));
  delete certificate.spec.issuerRef;
  assert.throws(() => validateObject(certificate), /issuerRef/);
});
