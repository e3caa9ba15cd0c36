/** @module test/unit/config/errors — ConfigError message format (one problem per line). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/errors.js';

test('ConfigError lists every problem, one per line, with path and source', () => {
  const error = new ConfigError([
    { path: 'passive.portMax', message: 'must be >= passive.portMin' },
    { path: '(root)', message: 'YAML syntax error: bad\nthing', source: 'a.yaml:3:1' },
  ]);
  assert.equal(error.code, 'KFTPD_CONFIG_INVALID');
  assert.equal(error.name, 'ConfigError');
  assert.ok(error instanceof Error);
  assert.equal(
    error.message,
    [
      'invalid configuration (2 problems):',
      '  - passive.portMax: must be >= passive.portMin',
      '  - (root): YAML syntax error: bad thing (from a.yaml:3:1)',
    ].join('\n'),
  );
  assert.equal(error.issues.length, 2);
  assert.ok(Object.isFrozen(error.issues));
});

test('ConfigError uses the singular for one problem', () => {
  assert.match(new ConfigError([{ path: 'a', message: 'b' }]).message, /^invalid configuration \(1 problem\):\n {2}- a: b$/);
});
