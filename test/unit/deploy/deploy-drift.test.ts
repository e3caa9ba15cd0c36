/** @module test/unit/deploy/deploy-drift — deploy/ must be exactly what the generators render from examples/. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEPLOY_REGENERATE_COMMAND, renderDeployTree } from '../../../src/deploy/deploy-examples.js';

// Compiled to dist/test/unit/deploy/, so the repository root is four levels up.
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else out.push(relative(REPO_ROOT, path));
  }
  return out;
}

test('deploy/ holds exactly the rendered output of examples/ (regenerate with npm run render:deploy)', async () => {
  const expected = await renderDeployTree(REPO_ROOT);
  assert.ok(expected.size >= 4, 'the examples render several files');
  const committed = (await listFiles(join(REPO_ROOT, 'deploy'))).sort();
  assert.deepEqual(committed, [...expected.keys()].sort(), `deploy/ has missing or stale files: run ${DEPLOY_REGENERATE_COMMAND}`);
  for (const [path, text] of expected) {
    const onDisk = await readFile(join(REPO_ROOT, path), 'utf8');
    assert.ok(onDisk === text, `${path} differs from what the generator renders: run ${DEPLOY_REGENERATE_COMMAND}`);
  }
});
