import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { youngGenerationSized } from '../../../src/cli/young-generation.js';

const MODULE = fileURLToPath(new URL('../../../src/cli/young-generation.js', import.meta.url));

/**
 * Runs a fresh node that (optionally) applies the CLI's setting, then allocates a burst of
 * short-lived objects with a few survivors, as a wave of logins does, and prints the young
 * generation's committed size in KiB.
 */
function newSpaceAfterBurst(apply: boolean, nodeFlags: string[] = []): number {
  const script = `
    import v8 from 'node:v8';
    const { keepYoungGenerationSmall } = await import(${JSON.stringify(MODULE)});
    if (${apply}) keepYoungGenerationSmall();
    const keep = [];
    for (let i = 0; i < 400000; i++) { const o = { i, s: 'x'.repeat(i % 64), a: [i, i + 1] }; if (i % 50 === 0) keep.push(o); }
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(Math.round(space.space_size / 1024), keep.length);
  `;
  const r = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.split(' ')[0]);
}

describe('cli/young-generation', () => {
  it('keeps the young generation at its initial size through an allocation burst; without it V8 grows it', () => {
    const small = newSpaceAfterBurst(true);
    const grown = newSpaceAfterBurst(false);
    assert.ok(small <= 2048, `new space ${small} KiB with the setting`);
    assert.ok(grown > small * 2, `new space ${grown} KiB without the setting vs ${small} KiB with it`);
  });

  it('leaves the young generation alone when the operator sized it', () => {
    assert.equal(youngGenerationSized(['--max-semi-space-size=16'], undefined), true);
    assert.equal(youngGenerationSized([], '--max-old-space-size=512 --max_semi_space_size=8'), true);
    assert.equal(youngGenerationSized([], '--semi-space-growth-factor=2'), true);
    assert.equal(youngGenerationSized(['--enable-source-maps'], '--max-old-space-size=512'), false);
    assert.equal(youngGenerationSized([], undefined), false);
    const sized = newSpaceAfterBurst(true, ['--max-semi-space-size=16']);
    assert.ok(sized > 2048, `new space ${sized} KiB: the operator's size was overridden`);
  });
});
