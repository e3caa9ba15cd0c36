/**
 * @module test/helpers/f5-schemas
 * Validators for rendered F5 objects, compiled from the vendored F5 schemas: the AS3 3.56
 * request schema (vendor/f5/as3-schema-3.56.0.json), the AS3 3.52 schema CIS 2.18-2.20.3
 * bundle and check every AS3 ConfigMap against (vendor/f5/as3-schema-3.52.0-5-cis.json),
 * and the openAPIV3Schema of the CIS
 * TransportServer CRD (vendor/f5/cis-crd-transportservers.cis.f5.com.yaml). Ajv runs with
 * strict off because both schemas carry vendor keywords (f5PostProcess, errorMessage,
 * x-kubernetes-*) that only F5's and Kubernetes' own validators act on; the formats F5 defines
 * are registered with checks written from AS3's description of them, so a bad address is
 * still rejected rather than waved through as an unknown format.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import { parse } from 'yaml';

// Compiled to dist/test/helpers/, so the repository root is three levels up.
const VENDOR = new URL('../../../vendor/f5/', import.meta.url);

/** AS3 `f5ip`: empty, or an IPv4/IPv6 address with an optional %route-domain and /prefix length. */
export function isF5Ip(value: string): boolean {
  if (value === '') return true;
  const match = /^([^%/]+)(%\d{1,5})?(\/(\d{1,3}))?$/.exec(value);
  if (!match || match[1] === undefined) return false;
  const family = isIP(match[1]);
  if (family === 0) return false;
  return match[4] === undefined || Number(match[4]) <= (family === 4 ? 32 : 128);
}

const POINTER_NAME = '[A-Za-z][0-9A-Za-z_]{0,63}';
/** AS3 `f5pointer`: a reference inside the declaration ("@", a number of levels up, name/name, optional "#"). */
const F5_POINTER = new RegExp(`^((@|\\d+)|((\\d*/)?((@|\\d+|${POINTER_NAME})/)*(\\d+|${POINTER_NAME})))?#?$`);
/** AS3 `f5bigip`: an absolute BIG-IP path without spaces, quotes, wildcards, brackets or braces. */
// eslint-disable-next-line no-control-regex -- AS3's pattern refuses NUL and the other controls
const F5_BIGIP = /^\/[^\x00-\x20"#'*<>?[\\\]{|}\x7f]+$/;

function newAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: its plugin is the module itself, seen from ESM as the default export.
  const addFormats = (ajvFormats as unknown as { default: (ajv: Ajv) => Ajv }).default;
  addFormats(ajv);
  ajv.addFormat('f5ip', isF5Ip);
  ajv.addFormat('f5pointer', F5_POINTER);
  ajv.addFormat('f5bigip', F5_BIGIP);
  return ajv;
}

let as3: ValidateFunction | undefined;
let cisAs3: ValidateFunction | undefined;
let transportServer: ValidateFunction | undefined;

function compileVendored(file: string): ValidateFunction {
  return newAjv().compile(JSON.parse(readFileSync(new URL(file, VENDOR), 'utf8')) as object);
}

/** The AS3 3.56 request/declaration validator (compiled once; the schema is 1.2 MB). */
export function as3Validator(): ValidateFunction {
  as3 ??= compileVendored('as3-schema-3.56.0.json');
  return as3;
}

/** The AS3 3.52.0-5 schema CIS 2.18-2.20.3 validate every AS3 ConfigMap against. */
export function cisBundledAs3Validator(): ValidateFunction {
  cisAs3 ??= compileVendored('as3-schema-3.52.0-5-cis.json');
  return cisAs3;
}

/**
 * Validates an AS3 request against both vendored AS3 schemas; returns one readable block per
 * schema that rejects it (empty: accepted by both).
 */
export function as3SchemaErrors(request: unknown): string[] {
  const problems: string[] = [];
  for (const [name, validate] of [
    ['AS3 3.56.0', as3Validator()],
    ['AS3 3.52.0-5 bundled with CIS 2.18-2.20.3', cisBundledAs3Validator()],
  ] as const) {
    if (!validate(request)) problems.push(`${name}:\n${describeErrors(validate.errors)}`);
  }
  return problems;
}

/** The schema of a TransportServer, as the CRD's first version declares it. */
export function transportServerSchema(): Record<string, unknown> {
  const crd = parse(readFileSync(new URL('cis-crd-transportservers.cis.f5.com.yaml', VENDOR), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: Record<string, unknown> } }[] };
  };
  const version = crd.spec.versions[0];
  if (version === undefined) throw new Error('the TransportServer CRD has no version');
  return version.schema.openAPIV3Schema;
}

export function transportServerValidator(): ValidateFunction {
  transportServer ??= newAjv().compile(transportServerSchema());
  return transportServer;
}

/** Errors as one readable line each, for assertion messages. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`).join('\n');
}
