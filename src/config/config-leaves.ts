/**
 * @module config/config-leaves
 * The config schema's leaves and sections, derived from the JSON schema of `configSchema`
 * (never hard-coded), with their external spellings: env names (KFTPD_*), CLI flags (--a.b),
 * whether a leaf is a secret. config/sources parses env and argv with them; config/docs
 * documents them. Pure: no I/O.
 */
import { z } from 'zod';
import { configSchema, SECRET_PATHS } from './schema.js';

export type ConfigLeafType = 'string' | 'integer' | 'number' | 'boolean' | 'string-array' | 'enum';

export interface ConfigLeaf {
  path: string[];
  dotted: string;
  env: string;
  flag: string;
  type: ConfigLeafType;
  enumValues?: string[];
  description: string;
  default: unknown;
  secret: boolean;
  /** Numeric bounds, when the schema sets meaningful ones (documentation only). */
  minimum?: number;
  maximum?: number;
}

export const ENV_PREFIX = 'KFTPD_';

/**
 * KFTPD_* variables the CLI reads that are not config leaves (so not "unknown"): the config
 * file, the doctor's password, and the admin URL and token of `kftpd bans` (a shell that
 * exports them must still be able to start a server).
 */
export const NON_CONFIG_ENV: readonly string[] = ['KFTPD_CONFIG', 'KFTPD_DOCTOR_PASSWORD', 'KFTPD_ADMIN_URL', 'KFTPD_ADMIN_TOKEN'];

/** Minimal view of the JSON Schema nodes zod emits; only what the walk needs. */
interface JsonNode {
  type?: string | string[];
  properties?: Record<string, JsonNode>;
  additionalProperties?: boolean | JsonNode;
  items?: JsonNode;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonNode[];
  oneOf?: JsonNode[];
  allOf?: JsonNode[];
  $ref?: string;
  $defs?: Record<string, JsonNode>;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
}

/** passive.portMin -> PORT_MIN; handles acronyms (tlsCAFile -> TLS_CA_FILE) and digits. */
export function camelToUpperSnake(segment: string): string {
  return segment
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[-.\s]+/g, '_')
    .toUpperCase();
}

/** portMin -> port-min, derived from the same rule as env names so both stay consistent. */
export function camelToKebab(segment: string): string {
  return camelToUpperSnake(segment).toLowerCase().replace(/_/g, '-');
}

export function envNameFor(path: readonly string[]): string {
  return ENV_PREFIX + path.map(camelToUpperSnake).join('_');
}

const SECRET_NAME = /password|passphrase|secret|token|credential|privateKey|key$/i;
// A leaf naming where a secret lives (a key FILE, a Secret's NAME, a header NAME) is not
// itself secret, and redacting it would hide exactly what an operator needs to debug.
const NOT_SECRET_SUFFIX = /(File|Files|Path|Paths|Dir|Directory|Name|Names|Header|Algorithm|Id|Env)$/;

/** Name heuristic for secrets. Only string-like leaves can hold secret material. */
export function isSecretLeafName(name: string, type: ConfigLeafType): boolean {
  if (type !== 'string' && type !== 'string-array') return false;
  return SECRET_NAME.test(name) && !NOT_SECRET_SUFFIX.test(name);
}

function resolveRef(root: JsonNode, node: JsonNode): JsonNode {
  let current = node;
  // Bounded: a ref cycle in a schema would otherwise hang startup.
  for (let hops = 0; current.$ref !== undefined && hops < 32; hops++) {
    const match = /^#\/\$defs\/(.+)$/.exec(current.$ref);
    const target = match?.[1] === undefined ? undefined : root.$defs?.[match[1]];
    if (target === undefined) throw new Error(`config schema: unresolvable $ref ${current.$ref}`);
    const { $ref: _ignored, ...rest } = current;
    current = { ...target, ...rest };
  }
  return current;
}

function typesOf(node: JsonNode): string[] {
  if (node.type === undefined) return [];
  return Array.isArray(node.type) ? node.type : [node.type];
}

/** Strips nullable/optional wrappers, keeping the outermost description and default. */
function unwrap(root: JsonNode, input: JsonNode): JsonNode {
  let node = resolveRef(root, input);
  for (let depth = 0; depth < 8; depth++) {
    const alternatives = node.anyOf ?? node.oneOf;
    const wrapped = node.allOf?.length === 1 ? node.allOf : undefined;
    const branches = (alternatives ?? wrapped)?.map((b) => resolveRef(root, b));
    if (branches === undefined) break;
    const nonNull = branches.filter((b) => !(typesOf(b).length === 1 && typesOf(b)[0] === 'null'));
    if (nonNull.length === 1 && nonNull[0] !== undefined) {
      const { anyOf: _a, oneOf: _o, allOf: _l, ...outer } = node;
      node = { ...nonNull[0], ...definedOnly(outer) };
      continue;
    }
    // A union of string literals is an enum in everything but name.
    const literals = nonNull.map((b) => (b.const !== undefined ? [b.const] : b.enum));
    if (literals.every((l) => l !== undefined && l.every((v) => typeof v === 'string'))) {
      const { anyOf: _a, oneOf: _o, allOf: _l, ...outer } = node;
      node = { ...definedOnly(outer), type: 'string', enum: literals.flat() };
    }
    break;
  }
  return node;
}

function definedOnly(node: JsonNode): JsonNode {
  return Object.fromEntries(Object.entries(node).filter(([, v]) => v !== undefined));
}

function stringEnum(node: JsonNode): string[] | undefined {
  const values = node.const !== undefined ? [node.const] : node.enum;
  if (values === undefined) return undefined;
  if (!values.every((v): v is string => typeof v === 'string')) return undefined;
  return values;
}

function classify(node: JsonNode, dotted: string): { type: ConfigLeafType; enumValues?: string[] } {
  const types = typesOf(node).filter((t) => t !== 'null');
  const enumValues = stringEnum(node);
  if (enumValues !== undefined) return { type: 'enum', enumValues };
  if (types.length === 1) {
    switch (types[0]) {
      case 'string':
      case 'integer':
      case 'number':
      case 'boolean':
        return { type: types[0] };
      case 'array': {
        const items = node.items;
        if (items !== undefined && (typesOf(items).includes('string') || stringEnum(items) !== undefined)) {
          return { type: 'string-array' };
        }
        break;
      }
      default:
        break;
    }
  }
  // Fail loudly at startup/test time: a leaf that cannot be set from env/flags or
  // documented must be noticed by whoever adds it to the schema.
  throw new Error(
    `config schema: leaf ${dotted} has a shape config/config-leaves.ts cannot map to env/flags (${JSON.stringify(node)})`,
  );
}

function getAt(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function isSection(node: JsonNode): boolean {
  return typesOf(node).includes('object') && node.properties !== undefined;
}

/** A non-leaf object of the schema (e.g. `passive`), for documentation. */
export interface ConfigSection {
  path: string[];
  dotted: string;
  description: string;
}

export interface SchemaDescription {
  leaves: ConfigLeaf[];
  sections: ConfigSection[];
}

/**
 * Derives leaves and sections of any zod object schema. Exposed (beyond `configLeaves`) so
 * tests can exercise shapes the real schema does not have yet (secrets, nullable, nesting).
 */
export function describeSchema(schema: z.ZodType, secretPaths: readonly string[] = []): SchemaDescription {
  const root = z.toJSONSchema(schema, { io: 'input' }) as JsonNode;
  // Effective defaults come from the schema itself (handles section-level defaults too);
  // the JSON `default` is only a fallback when {} is not a valid input.
  const parsedDefaults = schema.safeParse({});
  const leaves: ConfigLeaf[] = [];
  const sections: ConfigSection[] = [];

  const walk = (input: JsonNode, path: string[]): void => {
    const node = unwrap(root, input);
    const dotted = path.join('.');
    if (path.length > 0 && !isSection(node)) {
      const { type, enumValues } = classify(node, dotted);
      const last = path[path.length - 1] ?? '';
      const explicitSecret = secretPaths.some((p) => p === dotted || dotted.startsWith(`${p}.`));
      const leaf: ConfigLeaf = {
        path: [...path],
        dotted,
        env: envNameFor(path),
        flag: `--${dotted}`,
        type,
        description: (node.description ?? '').trim(),
        default: parsedDefaults.success ? getAt(parsedDefaults.data, path) : node.default,
        secret: explicitSecret || isSecretLeafName(last, type),
      };
      if (enumValues !== undefined) leaf.enumValues = enumValues;
      // zod emits safe-integer bounds for every int; they carry no information for humans.
      if (node.minimum !== undefined && Math.abs(node.minimum) < Number.MAX_SAFE_INTEGER) leaf.minimum = node.minimum;
      if (node.maximum !== undefined && Math.abs(node.maximum) < Number.MAX_SAFE_INTEGER) leaf.maximum = node.maximum;
      leaves.push(leaf);
      return;
    }
    if (!isSection(node)) throw new Error('config schema: the root must be an object with properties');
    if (path.length > 0) sections.push({ path: [...path], dotted, description: (node.description ?? '').trim() });
    for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, [...path, key]);
  };
  walk(root, []);

  const byEnv = new Map<string, string>();
  for (const leaf of leaves) {
    const clash = byEnv.get(leaf.env);
    if (clash !== undefined) throw new Error(`config schema: ${clash} and ${leaf.dotted} both map to ${leaf.env}`);
    byEnv.set(leaf.env, leaf.dotted);
  }
  for (const p of secretPaths) {
    if (!leaves.some((l) => l.dotted === p || l.dotted.startsWith(`${p}.`))) {
      throw new Error(`config schema: SECRET_PATHS entry ${p} matches no leaf`);
    }
  }
  return { leaves, sections };
}

let cached: { leaves: readonly ConfigLeaf[]; sections: readonly ConfigSection[] } | undefined;

function described(): { leaves: readonly ConfigLeaf[]; sections: readonly ConfigSection[] } {
  if (cached === undefined) {
    const { leaves, sections } = describeSchema(configSchema, SECRET_PATHS);
    const freeze = <T extends { path: string[] }>(item: T): T => {
      Object.freeze(item.path);
      return Object.freeze(item);
    };
    leaves.forEach((leaf) => leaf.enumValues !== undefined && Object.freeze(leaf.enumValues));
    cached = { leaves: Object.freeze(leaves.map(freeze)), sections: Object.freeze(sections.map(freeze)) };
  }
  return cached;
}

/** Leaves of the real config schema, in schema order. Computed once; leaves are frozen. */
export function configLeaves(): ConfigLeaf[] {
  return [...described().leaves];
}

/** Sections (nested objects) of the real config schema, in schema order. */
export function configSections(): ConfigSection[] {
  return [...described().sections];
}
