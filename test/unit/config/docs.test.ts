/** @module test/unit/config/docs — the generated reference covers every leaf; its example is valid. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { renderConfigDocs, renderExampleYaml } from '../../../src/config/docs.js';
import { configLeaves } from '../../../src/config/sources.js';
import { parseConfigObject } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';

test('every leaf has a table row with its env name and flag', () => {
  const docs = renderConfigDocs();
  for (const leaf of configLeaves()) {
    assert.ok(docs.includes(`| \`${leaf.dotted}\` |`), leaf.dotted);
    assert.ok(docs.includes(`\`${leaf.env}\``), leaf.env);
    assert.ok(docs.includes(`\`${leaf.flag}\``), leaf.flag);
  }
});

test('rendering is deterministic', () => {
  assert.equal(renderConfigDocs(), renderConfigDocs());
});

test('the example file is valid and equals the defaults', () => {
  const example = parse(renderExampleYaml()) as unknown;
  assert.deepEqual(parseConfigObject(example), configSchema.parse({}));
  assert.ok(renderConfigDocs().includes(renderExampleYaml().trimEnd()));
});
