/**
 * @module config/redact
 * Owns hiding secret values before a config is printed or logged. Which leaves are secret
 * is decided once, in config/config-leaves (SECRET_PATHS plus a name heuristic that spares
 * paths to key/password FILES); this module only applies that decision.
 */
import type { Config } from './schema.js';
import { configLeaves } from './sources.js';
import type { ConfigLeaf } from './sources.js';

export const REDACTED = '<redacted>';

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

/**
 * Deep copy of `config` with every non-empty secret leaf replaced by '<redacted>' (list
 * items individually, so the shape stays visible). Empty secrets are kept: "not set" is
 * useful to see and reveals nothing.
 */
export function redactConfig(config: Config): unknown {
  return redactWithLeaves(config, configLeaves());
}

/** Same as redactConfig for any value shaped by `leaves` (tests use synthetic schemas). */
export function redactWithLeaves(config: unknown, leaves: readonly ConfigLeaf[]): unknown {
  const copy = structuredClone(config);
  for (const leaf of leaves) {
    if (!leaf.secret) continue;
    let parent: unknown = copy;
    for (const key of leaf.path.slice(0, -1)) {
      parent = parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[key] : undefined;
    }
    const name = leaf.path[leaf.path.length - 1];
    if (name === undefined || parent === null || typeof parent !== 'object') continue;
    const holder = parent as Record<string, unknown>;
    const value = holder[name];
    if (isEmpty(value)) continue;
    holder[name] = Array.isArray(value) ? (value as unknown[]).map((item) => (isEmpty(item) ? item : REDACTED)) : REDACTED;
  }
  return copy;
}
