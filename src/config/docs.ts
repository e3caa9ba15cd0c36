/**
 * @module config/docs
 * Owns the reference documentation of the configuration (docs/configuration.md), rendered
 * entirely from the schema-derived leaves and sections so it cannot drift from the code
 * (a test compares the committed file with this output). Pure and deterministic.
 */
import { camelToKebab, configLeaves, configSections } from './sources.js';
import type { ConfigLeaf, ConfigSection } from './sources.js';

export const DOCS_REGENERATE_COMMAND =
  'npm run build && node --input-type=module -e "import(\'./dist/src/config/write-docs.js\').then(m=>m.writeConfigDocs(\'docs/configuration.md\'))"';

const TOP_LEVEL_TITLE = 'Top-level settings';

function code(text: string): string {
  // A backtick inside a code span needs a longer fence; none of ours have one today.
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function typeText(leaf: ConfigLeaf): string {
  switch (leaf.type) {
    case 'enum':
      return `one of ${(leaf.enumValues ?? []).map(code).join(', ')}`;
    case 'string-array':
      return 'list of strings';
    case 'integer':
    case 'number': {
      const { minimum: min, maximum: max } = leaf;
      if (min !== undefined && max !== undefined) return `${leaf.type} (${min}–${max})`;
      if (min !== undefined) return `${leaf.type} (≥ ${min})`;
      if (max !== undefined) return `${leaf.type} (≤ ${max})`;
      return leaf.type;
    }
    case 'string':
    case 'boolean':
      return leaf.type;
  }
}

/** A YAML-valid literal: JSON scalars and flow lists are YAML too, and quoting is explicit. */
function yamlLiteral(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

function defaultText(leaf: ConfigLeaf): string {
  return leaf.default === undefined ? '(not set)' : code(yamlLiteral(leaf.default));
}

function leafDescription(leaf: ConfigLeaf): string {
  const parts = [leaf.description === '' ? '' : leaf.description];
  if (leaf.secret) parts.push('**Secret**: redacted by `check-config`.');
  return parts.filter((p) => p !== '').join(' ');
}

interface Group {
  title: string;
  description: string;
  leaves: ConfigLeaf[];
}

/** One group per top-level section, plus one for top-level leaves, in schema order. */
function groups(leaves: readonly ConfigLeaf[], sections: readonly ConfigSection[]): Group[] {
  const byKey = new Map<string, Group>();
  const ordered: Group[] = [];
  for (const leaf of leaves) {
    const isTop = leaf.path.length === 1;
    const key = isTop ? '' : (leaf.path[0] ?? '');
    let group = byKey.get(key);
    if (group === undefined) {
      const section = sections.find((s) => s.dotted === key);
      group = isTop
        ? { title: TOP_LEVEL_TITLE, description: 'Settings that are not part of a section.', leaves: [] }
        : { title: code(key), description: section?.description ?? '', leaves: [] };
      byKey.set(key, group);
      ordered.push(group);
    }
    group.leaves.push(leaf);
  }
  return ordered;
}

function renderTable(group: Group): string[] {
  const lines = [`### ${group.title}`, ''];
  if (group.description !== '') lines.push(group.description, '');
  lines.push('| Key | Type | Default | Env | Flag | Description |', '| --- | --- | --- | --- | --- | --- |');
  for (const leaf of group.leaves) {
    const row = [code(leaf.dotted), typeText(leaf), defaultText(leaf), code(leaf.env), code(leaf.flag), leafDescription(leaf)];
    lines.push(`| ${row.map(cell).join(' | ')} |`);
  }
  lines.push('');
  return lines;
}

function yamlComment(text: string, indent: string): string[] {
  return text === '' ? [] : [`${indent}# ${text.replace(/\r?\n/g, ' ')}`];
}

/** The example file: every leaf with its default, nested as in the schema, commented. */
export function renderExampleYaml(
  leaves: readonly ConfigLeaf[] = configLeaves(),
  sections: readonly ConfigSection[] = configSections(),
): string {
  const lines = ['# kftpd configuration: every setting with its default value.'];
  const opened: string[] = [];
  for (const leaf of leaves) {
    const parents = leaf.path.slice(0, -1);
    // Close sections not shared with this leaf, then open the new ones (schema order keeps
    // a section's leaves contiguous, since they come from one object's properties).
    let shared = 0;
    while (shared < opened.length && shared < parents.length && opened[shared] === parents[shared]) shared++;
    opened.length = shared;
    for (let depth = shared; depth < parents.length; depth++) {
      const name = parents[depth] ?? '';
      const indent = '  '.repeat(depth);
      const dotted = parents.slice(0, depth + 1).join('.');
      if (depth === 0) lines.push('');
      lines.push(...yamlComment(sections.find((s) => s.dotted === dotted)?.description ?? '', indent));
      lines.push(`${indent}${name}:`);
      opened.push(name);
    }
    const indent = '  '.repeat(parents.length);
    if (parents.length === 0) lines.push('');
    const notes = [leaf.description];
    if (leaf.type === 'enum') notes.push(`One of: ${(leaf.enumValues ?? []).join(', ')}.`);
    if (leaf.secret) notes.push('Secret.');
    lines.push(...yamlComment(notes.filter((n) => n !== '').join(' '), indent));
    const name = leaf.path[leaf.path.length - 1] ?? '';
    lines.push(
      leaf.default === undefined ? `${indent}# ${name}:  (not set by default)` : `${indent}${name}: ${yamlLiteral(leaf.default)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Prefers a nested camelCase leaf: it shows the section, the snake case and the kebab form. */
function pickExample(leaves: readonly ConfigLeaf[], test: (leaf: ConfigLeaf) => boolean): ConfigLeaf | undefined {
  const camel = (leaf: ConfigLeaf): boolean => /[A-Z]/.test(leaf.path[leaf.path.length - 1] ?? '');
  return (
    leaves.find((leaf) => leaf.path.length > 1 && camel(leaf) && test(leaf)) ??
    leaves.find((leaf) => leaf.path.length > 1 && test(leaf)) ??
    leaves.find(test)
  );
}

function exampleValue(leaf: ConfigLeaf): string {
  if (leaf.type === 'integer' || leaf.type === 'number') {
    const base = typeof leaf.default === 'number' ? leaf.default : (leaf.minimum ?? 1);
    const candidate = base + 1;
    return String(leaf.maximum !== undefined && candidate > leaf.maximum ? base : candidate);
  }
  if (leaf.type === 'boolean') return String(leaf.default !== true);
  return 'value';
}

function renderIntro(leaves: readonly ConfigLeaf[]): string[] {
  const lines = [
    '# Configuration',
    '',
    // No command in the comment: "--" is not allowed inside an HTML comment.
    '<!-- Generated from src/config/schema.ts by src/config/docs.ts: do not edit by hand; see test/unit/config/docs-drift.test.ts to regenerate. -->',
    '',
    'kftpd builds its configuration from four layers; each one overrides the previous:',
    '',
    '1. built-in defaults (listed below);',
    '2. a YAML or JSON file, named by `--config <file>` (`-c <file>`) or the `KFTPD_CONFIG` environment variable;',
    '3. environment variables `KFTPD_*`;',
    '4. command-line flags `--<path>`.',
    '',
    'Sections are merged key by key across layers; a list set in a higher layer replaces the whole list.',
    'Validation is strict: an unknown key in the file, an unknown `KFTPD_*` variable or an unknown',
    'config flag is an error, so a typo never silently falls back to a default. Every problem is',
    'reported at once, each with its dotted path and where the value came from.',
    '`kftpd check-config` prints the effective configuration (secrets redacted) or the list of problems.',
    '',
    '## Names',
    '',
    'Every setting has a dotted path made of its section and key names.',
    '',
    '- **Environment variable**: `KFTPD_` followed by each path segment converted from camelCase to',
    '  UPPER_SNAKE_CASE, joined by `_`.',
    '- **Flag**: `--` followed by the path, as `--<path>=<value>` or `--<path> <value>`. Each segment may',
    '  also be written in kebab-case.',
    '- **Booleans** accept `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`. A boolean flag alone means',
    '  `true`; `--no-<path>` means `false`.',
    '- **Lists** are comma-separated in variables and flags; an empty value is the empty list.',
    '',
  ];
  const num = pickExample(leaves, (l) => l.type === 'integer' || l.type === 'number');
  const bool = pickExample(leaves, (l) => l.type === 'boolean');
  if (num !== undefined || bool !== undefined) {
    lines.push('For example:', '', '| Setting | Environment variable | Flag |', '| --- | --- | --- |');
    for (const leaf of [num, bool]) {
      if (leaf === undefined) continue;
      const kebab = `--${leaf.path.map(camelToKebab).join('.')}`;
      const value = exampleValue(leaf);
      const flags =
        leaf.type === 'boolean'
          ? `${code(value === 'true' ? leaf.flag : `--no-${leaf.dotted}`)}, ${code(`${kebab}=${value}`)}`
          : `${code(`${leaf.flag}=${value}`)}, ${code(`${kebab} ${value}`)}`;
      lines.push(`| ${code(leaf.dotted)} | ${code(`${leaf.env}=${value}`)} | ${cell(flags)} |`);
    }
    lines.push('');
  }
  return lines;
}

export function renderConfigDocs(): string {
  const leaves = configLeaves();
  const sections = configSections();
  const lines = [...renderIntro(leaves), '## Settings', ''];
  for (const group of groups(leaves, sections)) lines.push(...renderTable(group));
  lines.push(
    '## Example file',
    '',
    'Every setting with its default value. A file only needs the settings that differ.',
    '',
    '```yaml',
    renderExampleYaml(leaves, sections).trimEnd(),
    '```',
    '',
  );
  return lines.join('\n');
}
