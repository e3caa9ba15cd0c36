/**
 * @module test/unit/cli/old-generation-growth
 * When the CLI relaxes V8's old-generation growth and when it leaves the operator's choice
 * alone. What the setting buys (far fewer full collections while transfers run) is measured by
 * bench/ (A/B with BENCH_KFTPD_NODE_FLAGS=--heap-growing-percent=0), not asserted here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { oldGenerationGrowthSet } from '../../../src/cli/old-generation-growth.js';

const MODULE = fileURLToPath(new URL('../../../src/cli/old-generation-growth.js', import.meta.url));

/** Whether a fresh node given `nodeFlags` / `nodeOptions` applies the setting. */
function applies(nodeFlags: string[], nodeOptions = ''): boolean {
  const script = `
    const { relaxOldGenerationGrowth } = await import(${JSON.stringify(MODULE)});
    console.log(String(relaxOldGenerationGrowth()));
  `;
  const r = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: nodeOptions } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() === 'true';
}

describe('cli/old-generation-growth', () => {
  it('applies the growth factor unless the operator set one on the node command line', () => {
    assert.equal(applies([]), true);
    assert.equal(applies(['--heap-growing-percent=0']), false);
    assert.equal(applies(['--heap_growing_percent=50']), false);
    assert.equal(applies(['--max-old-space-size=256'], '--max-old-space-size=300'), true);
  });

  it('recognises the flag in both spellings, with a value, among others', () => {
    assert.equal(oldGenerationGrowthSet(['--heap-growing-percent=50'], undefined), true);
    assert.equal(oldGenerationGrowthSet([], '--max-old-space-size=512 --heap_growing_percent=20'), true);
    assert.equal(oldGenerationGrowthSet(['--max-semi-space-size=16'], '--max-old-space-size=512'), false);
    assert.equal(oldGenerationGrowthSet([], undefined), false);
  });
});
