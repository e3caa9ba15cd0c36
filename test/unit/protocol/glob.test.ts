import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob, hasGlob } from '../../../src/protocol/glob.js';

describe('glob', () => {
  it('detects metacharacters', () => {
    assert.equal(hasGlob('*.csv'), true);
    assert.equal(hasGlob('a?b'), true);
    assert.equal(hasGlob('[ab]c'), true);
    assert.equal(hasGlob('plain name.txt'), false);
  });

  const cases: [string, string, boolean][] = [
    ['*.csv', 'a.csv', true],
    ['*.csv', 'a.csv.bak', false],
    ['*.csv', '.hidden.csv', true],
    ['report-202?-*.txt', 'report-2024-01.txt', true],
    ['report-202?-*.txt', 'report-20245-01.txt', false],
    ['[ab]*', 'alpha', true],
    ['[ab]*', 'charlie', false],
    ['[!ab]*', 'charlie', true],
    ['[a-c]x', 'bx', true],
    ['[a-c]x', 'dx', false],
    ['a.b', 'axb', false],
    ['(x)+$', '(x)+$', true],
    ['*', 'résumé 2024.pdf', true],
  ];
  for (const [pattern, name, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${name}`, () => {
      assert.equal(compileGlob(pattern)?.test(name), expected);
    });
  }

  it('rejects an unclosed bracket', () => {
    assert.equal(compileGlob('[abc'), null);
  });
});
