/**
 * @module test/unit/protocol/command
 * Verb/argument splitting of control lines: the argument must reach handlers byte-for-byte.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCommand } from '../../../src/protocol/command.js';

describe('parseCommand', () => {
  const cases: ReadonlyArray<[input: string, verb: string | null, arg?: string]> = [
    ['', null],
    ['   ', null],
    ['\r', null],
    [' \t ', null],
    ['NOOP', 'NOOP', ''],
    ['noop', 'NOOP', ''],
    ['NoOp\r', 'NOOP', ''],
    ['retr my file.txt', 'RETR', 'my file.txt'],
    ['RETR  two leading spaces', 'RETR', ' two leading spaces'],
    ['RETR trailing spaces  ', 'RETR', 'trailing spaces  '],
    ['RETR a  b   c', 'RETR', 'a  b   c'],
    ['RETR ', 'RETR', ''],
    ['RETR  ', 'RETR', ' '],
    ['STOR "quoted name.txt"', 'STOR', '"quoted name.txt"'],
    ["STOR it's \"both\"", 'STOR', "it's \"both\""],
    ['LIST -la', 'LIST', '-la'],
    ['RETR -rf', 'RETR', '-rf'],
    ['DELE --', 'DELE', '--'],
    ['RETR grüße 日本 📁.txt', 'RETR', 'grüße 日本 📁.txt'],
    ['RETR x\r', 'RETR', 'x'],
    ['RETR x\r\r', 'RETR', 'x\r'],
    ['RETR x\ty', 'RETR', 'x\ty'],
    ['RETR back\\slash', 'RETR', 'back\\slash'],
    ['   pwd', 'PWD', ''],
    ['  cwd /a b', 'CWD', '/a b'],
    ['OPTS UTF8 ON', 'OPTS', 'UTF8 ON'],
    ['site chmod 755 f', 'SITE', 'chmod 755 f'],
    ['X-1 arg', 'X-1', 'arg'],
    ['stor5 a', 'STOR5', 'a'],
    ['é x', 'é', 'x'],
    // ASCII-only upper-casing: "ſ" (long s) must not become "S" and smuggle in a real verb.
    ['ſtor x', 'ſTOR', 'x'],
    ['ıNFO', 'ıNFO', ''],
    ['PASS  secret with spaces ', 'PASS', ' secret with spaces '],
  ];
  for (const [input, verb, arg] of cases) {
    it(JSON.stringify(input), () => {
      const parsed = parseCommand(input);
      if (verb === null) assert.equal(parsed, null);
      else assert.deepEqual(parsed, { verb, arg });
    });
  }

  it('property: "VERB arg" round-trips any argument verbatim', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z]{3,4}$/),
        fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.endsWith('\r')),
        (verb, arg) => {
          assert.deepEqual(parseCommand(`${verb} ${arg}`), { verb: verb.toUpperCase(), arg });
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});
