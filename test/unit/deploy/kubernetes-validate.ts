/**
 * @module test/unit/deploy/kubernetes-validate
 * Validates rendered Kubernetes objects against the OpenAPI schema of Kubernetes v1.33.0
 * (KUBERNETES_SCHEMA_VERSION: the schema kubernetes-models 4.5.1 is generated from), and
 * against typos the schema alone would let through.
 *
 * kubernetes-models runs the upstream OpenAPI schema through compiled ajv validators. That
 * schema never says additionalProperties: false, so a misspelt field (`publishNotReadyAddress`)
 * validates and the API server later drops it silently. To catch those, the object is handed
 * to the validator behind a Proxy that records every property the validator reads: the
 * compiled code reads each property the schema knows, so a property nobody read is unknown to
 * the schema. (Map-typed fields such as labels are iterated, so their keys count as read.)
 *
 * Kinds outside Kubernetes core (cert-manager Certificate, Prometheus Operator
 * ServiceMonitor) have no schema in kubernetes-models: they are checked structurally here
 * (required fields and their types, from the CRDs' documented specs), and the tests say so.
 */
import assert from 'node:assert/strict';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';

interface Validating {
  readonly prototype: { validate(): void };
}

const CORE_MODELS: Readonly<Record<string, Validating>> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

type Plain = Record<string, unknown>;

function isObject(value: unknown): value is Plain {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** True when `apiVersion/kind` is validated against the real schema (not structurally). */
export function hasCoreSchema(object: { apiVersion: string; kind: string }): boolean {
  return Object.hasOwn(CORE_MODELS, `${object.apiVersion}/${object.kind}`);
}

/**
 * Throws (an ajv ValidationError from kubernetes-models, or an AssertionError listing the
 * unknown fields) unless `object` is valid for its kind in Kubernetes v1.33.0.
 */
export function validateCore(object: Plain & { apiVersion: string; kind: string }): void {
  const model = CORE_MODELS[`${object.apiVersion}/${object.kind}`];
  assert.ok(model, `no kubernetes-models schema registered for ${object.apiVersion}/${object.kind}`);
  const read = new WeakMap<object, Set<PropertyKey>>();
  const wrapped = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const existing = wrapped.get(value);
    if (existing) return existing;
    const seen = new Set<PropertyKey>();
    read.set(value, seen);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        seen.add(key);
        return wrap(Reflect.get(target, key, receiver));
      },
    });
    wrapped.set(value, proxy);
    return proxy;
  };
  model.prototype.validate.call(wrap(object));
  const unknown: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, `${path}[${index}]`));
    } else if (isObject(value)) {
      const seen = read.get(value);
      for (const [key, child] of Object.entries(value)) {
        if (!seen?.has(key)) unknown.push(`${path}.${key}`);
        walk(child, `${path}.${key}`);
      }
    }
  };
  walk(object, object.kind);
  assert.deepEqual(unknown, [], `fields unknown to the Kubernetes schema in ${object.kind} ${String((object['metadata'] as Plain | undefined)?.['name'])}`);
}

function requireString(object: Plain, key: string, where: string): string {
  const value = object[key];
  assert.equal(typeof value, 'string', `${where}.${key} must be a string`);
  assert.notEqual(value, '', `${where}.${key} must not be empty`);
  return value as string;
}

function requireObject(object: Plain, key: string, where: string): Plain {
  const value = object[key];
  assert.ok(isObject(value), `${where}.${key} must be an object`);
  return value;
}

function checkMetadata(object: Plain): void {
  const metadata = requireObject(object, 'metadata', object['kind'] as string);
  requireString(metadata, 'name', 'metadata');
  requireString(metadata, 'namespace', 'metadata');
}

/**
 * cert-manager.io/v1 Certificate, structurally (not in kubernetes-models): spec.secretName
 * and spec.issuerRef.name are required by the CRD; at least one subject name is required by
 * cert-manager's webhook; issuerRef.kind is Issuer or ClusterIssuer.
 */
export function validateCertificate(object: Plain): void {
  assert.equal(object['apiVersion'], 'cert-manager.io/v1');
  assert.equal(object['kind'], 'Certificate');
  checkMetadata(object);
  const spec = requireObject(object, 'spec', 'Certificate');
  requireString(spec, 'secretName', 'spec');
  const issuerRef = requireObject(spec, 'issuerRef', 'spec');
  requireString(issuerRef, 'name', 'spec.issuerRef');
  assert.ok(['Issuer', 'ClusterIssuer'].includes(issuerRef['kind'] as string), 'spec.issuerRef.kind');
  assert.equal(issuerRef['group'], 'cert-manager.io');
  const names = [...((spec['dnsNames'] as unknown[] | undefined) ?? []), ...((spec['ipAddresses'] as unknown[] | undefined) ?? [])];
  assert.ok(names.length > 0 && names.every((name) => typeof name === 'string' && name !== ''), 'spec.dnsNames or spec.ipAddresses');
  const known = new Set(['secretName', 'issuerRef', 'dnsNames', 'ipAddresses', 'usages', 'privateKey']);
  assert.deepEqual(Object.keys(spec).filter((key) => !known.has(key)), [], 'unexpected Certificate spec fields');
}

/**
 * monitoring.coreos.com/v1 ServiceMonitor, structurally (not in kubernetes-models): the
 * CRD requires spec.selector; each endpoint names a Service port (`port`) and may give a
 * path and an interval (a Prometheus duration).
 */
export function validateServiceMonitor(object: Plain): void {
  assert.equal(object['apiVersion'], 'monitoring.coreos.com/v1');
  assert.equal(object['kind'], 'ServiceMonitor');
  checkMetadata(object);
  const spec = requireObject(object, 'spec', 'ServiceMonitor');
  const selector = requireObject(spec, 'selector', 'spec');
  assert.ok(isObject(selector['matchLabels']) && Object.keys(selector['matchLabels']).length > 0, 'spec.selector.matchLabels');
  const endpoints = spec['endpoints'];
  assert.ok(Array.isArray(endpoints) && endpoints.length > 0, 'spec.endpoints');
  for (const endpoint of endpoints as Plain[]) {
    requireString(endpoint, 'port', 'spec.endpoints[]');
    assert.match(requireString(endpoint, 'path', 'spec.endpoints[]'), /^\//);
    assert.match(requireString(endpoint, 'interval', 'spec.endpoints[]'), /^([0-9]+(ms|s|m|h|d|w|y))+$/);
  }
}

/** Validates any rendered object: core kinds against the schema, the two CRDs structurally. */
export function validateObject(object: Plain & { apiVersion: string; kind: string }): void {
  if (object.kind === 'Certificate') validateCertificate(object);
  else if (object.kind === 'ServiceMonitor') validateServiceMonitor(object);
  else validateCore(object);
}
