/**
 * @module config/errors
 * The single error type of configuration loading. It carries every problem found (file,
 * env, flags, validation) at once, so an operator fixes them all in one pass instead of
 * discovering them one restart at a time.
 */

/** One configuration problem. `path` is dotted (`passive.portMax`), '(root)' for the top. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  /** Where the offending value came from: `file.yaml:12:3`, `env KFTPD_X`, `flag --x`. */
  readonly source?: string;
}

/** Path label used for problems that concern the whole configuration. */
export const ROOT_PATH = '(root)';

/** Formats one issue as a message line (without the leading bullet). */
export function formatConfigIssue(issue: ConfigIssue): string {
  const suffix = issue.source === undefined ? '' : ` (from ${issue.source})`;
  return `${issue.path}: ${issue.message}${suffix}`;
}

export class ConfigError extends Error {
  readonly code = 'KFTPD_CONFIG_INVALID' as const;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const list = issues.map((issue) => ({ ...issue }));
    const count = list.length;
    const header = `invalid configuration (${count} problem${count === 1 ? '' : 's'}):`;
    // Problems may contain user-provided text; keep one problem per line whatever they hold.
    const lines = list.map((issue) => `  - ${formatConfigIssue(issue).replace(/\r?\n/g, ' ')}`);
    super([header, ...lines].join('\n'));
    this.name = 'ConfigError';
    this.issues = Object.freeze(list.map((issue) => Object.freeze(issue)));
  }
}
