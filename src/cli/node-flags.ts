/**
 * @module cli/node-flags
 * Whether the operator gave node a flag, on its command line or in NODE_OPTIONS: the CLI's own
 * V8 settings (cli/young-generation.ts, cli/old-generation-growth.ts) yield to the operator's.
 */

/** True when one of node's flags (`execArgv`, then NODE_OPTIONS) matches `flag`. */
export function nodeFlagGiven(flag: RegExp, execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((given) => flag.test(given));
}
