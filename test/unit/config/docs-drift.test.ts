/** @module test/unit/config/docs-drift — docs/configuration.md must match the schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { renderConfigDocs } from '../../../src/config/docs.js';

// Compiled to dist/test/unit/config/, so the repository root is four levels up.
const DOCS_FILE = new URL('../../../../docs/configuration.md', import.meta.url);

const REGENERATE = [
  'docs/configuration.md is out of date with src/config/schema.ts. Regenerate it from the repository root with:',
  '  npm run build',
  `  node --input-type=module -e "import('./dist/src/config/write-docs.js').then(m=>m.writeConfigDocs('docs/configuration.md'))"`,
].join('\n');

test('docs/configuration.md is up to date', async () => {
  let committed: string;
  try {
    committed = await readFile(DOCS_FILE, 'utf8');
  } catch {
    assert.fail(`docs/configuration.md is missing. ${REGENERATE}`);
  }
  assert.ok(committed === renderConfigDocs(), REGENERATE);
});
