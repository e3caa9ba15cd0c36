/**
 * @module config/load
 * Owns assembling the effective configuration: defaults < file (YAML/JSON) < env (KFTPD_*)
 * < CLI flags, validated by `configSchema`, deep-frozen. Every problem from every layer is
 * collected into one ConfigError, each with its dotted path and, when known, its origin
 * (file line, env var, flag).
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { ConfigError, ROOT_PATH } from './errors.js';
import type { ConfigIssue } from './errors.js';
import { configSchema } from './schema.js';
import type { Config } from './schema.js';
import { closestName, configLeaves, envOverrides, flagOverrides, NON_CONFIG_ENV } from './sources.js';
import type { ConfigLeaf } from './sources.js';

export interface LoadConfigOptions {
  /** Config file (YAML or JSON). Falls back to env KFTPD_CONFIG. */
  file?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Config flags (`--a.b=v`); non-config args are ignored here, the CLI handles them. */
  args?: string[];
}

export interface LoadedConfig {
  config: Readonly<Config>;
  /** The config file actually read, if any. */
  file?: string;
}

export const CONFIG_FILE_ENV = 'KFTPD_CONFIG';

type Path = readonly PropertyKey[];

/** Where values of the file layer live, to point validation problems at a line. */
interface FileLocator {
  file: string;
  doc: Document;
  lines: LineCounter;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Objects merge key by key; anything else (arrays included) is replaced by the override. */
function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const out: Record<string, unknown> = {};
  const assign = (key: string, value: unknown): void => {
    // defineProperty: a "__proto__" key from a file must stay a plain (and rejected) key.
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  };
  for (const [key, value] of Object.entries(base)) assign(key, value);
  for (const [key, value] of Object.entries(override)) {
    assign(key, Object.hasOwn(out, key) ? deepMerge(out[key], value) : value);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function getAt(value: unknown, path: Path): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    if (!Object.hasOwn(current, key)) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function dottedOf(path: Path): string {
  return path.length === 0 ? ROOT_PATH : path.map(String).join('.');
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function preview(value: unknown): string | undefined {
  if (value === undefined || (value !== null && typeof value === 'object' && !Array.isArray(value))) return undefined;
  const text = JSON.stringify(value);
  if (text === undefined) return undefined;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function locate(locator: FileLocator | undefined, path: Path, keyOf?: string): string | undefined {
  if (locator === undefined) return undefined;
  let range: readonly number[] | undefined;
  const node: unknown = path.length === 0 ? locator.doc.contents : locator.doc.getIn(path, true);
  if (keyOf !== undefined) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === keyOf);
      if (pair !== undefined && isScalar(pair.key)) range = pair.key.range ?? undefined;
    }
  } else if (node !== null && typeof node === 'object' && 'range' in node) {
    range = (node as { range?: readonly number[] | null }).range ?? undefined;
  }
  const offset = range?.[0];
  if (offset === undefined) return locator.file;
  const { line, col } = locator.lines.linePos(offset);
  return `${locator.file}:${line}:${col}`;
}

function childKeys(leaves: readonly ConfigLeaf[], parent: readonly string[]): string[] {
  const keys = new Set<string>();
  for (const leaf of leaves) {
    if (leaf.path.length > parent.length && parent.every((seg, i) => leaf.path[i] === seg)) {
      const key = leaf.path[parent.length];
      if (key !== undefined) keys.add(key);
    }
  }
  return [...keys];
}

function withSuggestion(message: string, suggestion: string | undefined): string {
  return suggestion === undefined ? message : `${message} (did you mean ${suggestion}?)`;
}

interface IssueContext {
  input: unknown;
  leaves: readonly ConfigLeaf[];
  /** dotted path -> origin, highest-precedence layer last merged in. */
  origins: Record<string, string>;
  locator?: FileLocator;
}

function originOf(ctx: IssueContext, path: Path): string | undefined {
  // The value at a path (or the list/section containing it) came from the most specific
  // env/flag that set it; otherwise, from the file if the file holds it.
  for (let n = path.length; n > 0; n--) {
    const origin = ctx.origins[path.slice(0, n).map(String).join('.')];
    if (origin !== undefined) return origin;
  }
  if (ctx.locator !== undefined && path.length > 0 && ctx.locator.doc.hasIn(path)) return locate(ctx.locator, path);
  return undefined;
}

function isSecretPath(leaves: readonly ConfigLeaf[], dotted: string): boolean {
  return leaves.some((leaf) => leaf.secret && (dotted === leaf.dotted || dotted.startsWith(`${leaf.dotted}.`)));
}

function zodIssuesToConfigIssues(zodIssues: readonly z.core.$ZodIssue[], ctx: IssueContext): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of zodIssues) {
    const path: Path = issue.path;
    if (issue.code === 'unrecognized_keys') {
      // One problem per key: each is a separate thing to fix, with its own line.
      const parent = path.map(String);
      for (const key of issue.keys) {
        const suggestion = closestName(key, childKeys(ctx.leaves, parent));
        const entry: ConfigIssue = {
          path: dottedOf([...path, key]),
          message: withSuggestion('unknown setting', suggestion),
        };
        const source = ctx.locator !== undefined ? locate(ctx.locator, path, key) : undefined;
        out.push(source === undefined ? entry : { ...entry, source });
      }
      continue;
    }
    const dotted = dottedOf(path);
    let message = issue.message;
    if (path.length === 0 && issue.code === 'invalid_type') {
      message = `the configuration must be an object of settings, got ${describeType(ctx.input)}`;
    } else if (!isSecretPath(ctx.leaves, dotted)) {
      const got = preview(getAt(ctx.input, path));
      if (got !== undefined) message = `${message}, got ${got}`;
    }
    const source = originOf(ctx, path);
    out.push(source === undefined ? { path: dotted, message } : { path: dotted, message, source });
  }
  return out;
}

/** Validates an already-assembled config object (no env/flags/file); throws ConfigError. */
export function parseConfigObject(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(zodIssuesToConfigIssues(result.error.issues, { input, leaves: configLeaves(), origins: {} }));
}

async function readConfigFile(file: string, issues: ConfigIssue[]): Promise<{ values: unknown; locator?: FileLocator }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    const reason = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    issues.push({ path: ROOT_PATH, message: `cannot read configuration file: ${reason}`, source: file });
    return { values: {} };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const { line, col } = lines.linePos(error.pos[0]);
      issues.push({ path: ROOT_PATH, message: `YAML syntax error: ${error.message}`, source: `${file}:${line}:${col}` });
    }
    return { values: {} };
  }
  let values: unknown;
  try {
    values = doc.toJS();
  } catch (error) {
    // e.g. an alias bomb exceeding yaml's maxAliasCount.
    issues.push({ path: ROOT_PATH, message: `cannot load YAML: ${(error as Error).message}`, source: file });
    return { values: {} };
  }
  // An empty file (or one with only comments) means "all defaults".
  if (values === null || values === undefined) return { values: {} };
  if (!isPlainObject(values)) {
    issues.push({
      path: ROOT_PATH,
      message: `the configuration file must contain a mapping of settings, got ${describeType(values)}`,
      source: file,
    });
    return { values: {} };
  }
  return { values, locator: { file, doc, lines } };
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const leaves = configLeaves();
  const issues: ConfigIssue[] = [];

  const envFile = env[CONFIG_FILE_ENV];
  const file = options.file ?? (envFile !== undefined && envFile !== '' ? envFile : undefined);
  const fileLayer = file === undefined ? { values: {} } : await readConfigFile(file, issues);

  const fromEnv = envOverrides(env, leaves);
  const envCandidates = [...leaves.map((leaf) => leaf.env), ...NON_CONFIG_ENV];
  for (const name of fromEnv.unknown) {
    issues.push({ path: name, message: withSuggestion('unknown environment variable', closestName(name, envCandidates)) });
  }

  const fromFlags = flagOverrides(options.args ?? [], leaves);
  const flagCandidates = leaves.map((leaf) => leaf.flag);
  for (const flag of fromFlags.unknown) {
    issues.push({ path: flag, message: withSuggestion('unknown option', closestName(flag, flagCandidates)) });
  }
  for (const { flag, dotted, message } of fromFlags.invalid) {
    issues.push({ path: dotted, message, source: `flag ${flag}` });
  }

  const input = deepMerge(deepMerge(fileLayer.values, fromEnv.values), fromFlags.values);
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const ctx: IssueContext = { input, leaves, origins: { ...fromEnv.origins, ...fromFlags.origins } };
    if (fileLayer.locator !== undefined) ctx.locator = fileLayer.locator;
    issues.push(...zodIssuesToConfigIssues(result.error.issues, ctx));
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);

  const config = deepFreeze(result.data);
  return file === undefined ? { config } : { config, file };
}
