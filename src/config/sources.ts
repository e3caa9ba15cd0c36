/**
 * @module config/sources
 * Reads the config's external sources: string-to-value coercion of a leaf, and the parsing of
 * env (KFTPD_*) and argv (--a.b) into nested override objects, with near-miss suggestions for
 * unknown names. The leaves themselves and their spellings are in config/config-leaves
 * (re-exported here). Pure: no I/O.
 */
import { camelToKebab, configLeaves, ENV_PREFIX, NON_CONFIG_ENV, type ConfigLeaf } from './config-leaves.js';

export {
  camelToKebab,
  camelToUpperSnake,
  configLeaves,
  configSections,
  describeSchema,
  ENV_PREFIX,
  envNameFor,
  isSecretLeafName,
  NON_CONFIG_ENV,
  type ConfigLeaf,
  type ConfigLeafType,
  type ConfigSection,
  type SchemaDescription,
} from './config-leaves.js';

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

export function isBooleanWord(raw: string): boolean {
  const word = raw.trim().toLowerCase();
  return TRUE_WORDS.has(word) || FALSE_WORDS.has(word);
}

/**
 * Converts an env/flag string to the leaf's type. Anything that does not convert is
 * returned unchanged so schema validation reports it with the leaf's path.
 */
export function coerceLeafValue(leaf: Pick<ConfigLeaf, 'type'>, raw: string): unknown {
  switch (leaf.type) {
    case 'integer':
    case 'number': {
      const trimmed = raw.trim();
      // Number('') is 0: an empty variable must not silently mean zero.
      if (trimmed === '') return raw;
      const n = Number(trimmed);
      return Number.isFinite(n) ? n : raw;
    }
    case 'boolean': {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      return raw;
    }
    case 'string-array':
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    case 'enum':
    case 'string':
      return raw;
  }
}

/** Sets a value at a path in a nested plain object, creating intermediate objects. */
export function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let current = target;
  path.forEach((key, index) => {
    if (index === path.length - 1) {
      current[key] = value;
      return;
    }
    const next = current[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      const created: Record<string, unknown> = {};
      current[key] = created;
      current = created;
    } else {
      current = next as Record<string, unknown>;
    }
  });
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** The closest candidate to a misspelt name, if it is close enough to be a plausible typo. */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

export interface EnvOverrides {
  values: Record<string, unknown>;
  unknown: string[];
  /** dotted leaf path -> `env NAME`, so validation problems can name their origin. */
  origins: Record<string, string>;
}

export function envOverrides(env: NodeJS.ProcessEnv, leaves: readonly ConfigLeaf[] = configLeaves()): EnvOverrides {
  const byEnv = new Map(leaves.map((leaf) => [leaf.env, leaf]));
  const values: Record<string, unknown> = {};
  const unknown: string[] = [];
  const origins: Record<string, string> = {};
  // Sorted so results (and error messages) do not depend on the environment's order.
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const leaf = byEnv.get(name);
    if (leaf === undefined) {
      if (!NON_CONFIG_ENV.includes(name)) unknown.push(name);
      continue;
    }
    setIn(values, leaf.path, coerceLeafValue(leaf, raw));
    origins[leaf.dotted] = `env ${name}`;
  }
  return { values, unknown, origins };
}

export interface FlagOverrides {
  values: Record<string, unknown>;
  /** Config-shaped flags (dotted, or under a known section) that match no leaf, as typed. */
  unknown: string[];
  /** Args that are not config flags, in order, for the CLI to handle. */
  rest: string[];
  /** Known flags used wrongly (missing value, --no- on a non-boolean). */
  invalid: { flag: string; dotted: string; message: string }[];
  /** dotted leaf path -> `flag --name`. */
  origins: Record<string, string>;
}

function segmentMatches(input: string, segment: string): boolean {
  return input === segment || input === camelToKebab(segment);
}

function findLeafByFlagName(name: string, leaves: readonly ConfigLeaf[]): ConfigLeaf | undefined {
  const parts = name.split('.');
  return leaves.find(
    (leaf) => leaf.path.length === parts.length && leaf.path.every((seg, i) => segmentMatches(parts[i] ?? '', seg)),
  );
}

function isConfigShaped(name: string, leaves: readonly ConfigLeaf[]): boolean {
  const bare = name.startsWith('no-') ? name.slice(3) : name;
  if (bare.includes('.')) return true;
  return leaves.some((leaf) => leaf.path[0] !== undefined && segmentMatches(bare, leaf.path[0]));
}

/** Parses `--a.b=v`, `--a.b v`, `--a.b` (boolean true), `--no-a.b` (false); kebab segments accepted. */
export function flagOverrides(args: readonly string[], leaves: readonly ConfigLeaf[] = configLeaves()): FlagOverrides {
  const result: FlagOverrides = { values: {}, unknown: [], rest: [], invalid: [], origins: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      // Conventional end of options: everything after belongs to the CLI untouched.
      result.rest.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith('--')) {
      result.rest.push(arg);
      continue;
    }
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const next = args[i + 1];

    let leaf = findLeafByFlagName(name, leaves);
    let negated = false;
    if (leaf === undefined && name.startsWith('no-')) {
      leaf = findLeafByFlagName(name.slice(3), leaves);
      negated = leaf !== undefined;
    }
    if (leaf === undefined) {
      if (!isConfigShaped(name, leaves)) {
        result.rest.push(arg);
        continue;
      }
      result.unknown.push(`--${name}`);
      // Swallow a likely value so it is not misread as a positional argument as well.
      if (inline === undefined && next !== undefined && !next.startsWith('-')) i++;
      continue;
    }

    const flag = `--${name}`;
    let raw: string | boolean;
    if (negated) {
      if (leaf.type !== 'boolean') {
        result.invalid.push({ flag, dotted: leaf.dotted, message: 'the --no- prefix only applies to boolean settings' });
        continue;
      }
      if (inline !== undefined) {
        result.invalid.push({ flag, dotted: leaf.dotted, message: 'a --no- flag takes no value' });
        continue;
      }
      raw = false;
    } else if (inline !== undefined) {
      raw = inline;
    } else if (leaf.type === 'boolean') {
      // `--x false` reads naturally; only consume the next arg when it is a boolean word.
      if (next !== undefined && isBooleanWord(next)) {
        raw = next;
        i++;
      } else {
        raw = true;
      }
    } else if (next !== undefined && !next.startsWith('--')) {
      raw = next;
      i++;
    } else {
      result.invalid.push({ flag, dotted: leaf.dotted, message: `missing value (${flag}=<value> or ${flag} <value>)` });
      continue;
    }
    setIn(result.values, leaf.path, typeof raw === 'boolean' ? raw : coerceLeafValue(leaf, raw));
    result.origins[leaf.dotted] = `flag ${flag}`;
  }
  return result;
}
