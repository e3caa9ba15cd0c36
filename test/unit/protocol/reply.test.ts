/**
 * @module test/unit/protocol/reply
 * Reply wire format (RFC 959 §4.2) and the CR/LF injection guard.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReplyCode, formatReply, sanitizeReplyText } from '../../../src/protocol/reply.js';

describe('ReplyCode', () => {
  it('has three-digit codes with the expected values', () => {
    assert.equal(ReplyCode.ServiceReady, 220);
    assert.equal(ReplyCode.EnteringExtendedPassive, 229);
    assert.equal(ReplyCode.NetworkProtocolNotSupported, 522);
    assert.equal(ReplyCode.FileNameNotAllowed, 553);
    for (const value of Object.values(ReplyCode)) assert.match(String(value), /^[1-5]\d\d$/);
  });
});

describe('sanitizeReplyText', () => {
  const cases: ReadonlyArray<[string, string]> = [
    ['plain', 'plain'],
    ['', ''],
    ['a\r\nb', 'a  b'],
    ['a\nb', 'a b'],
    ['a\rb', 'a b'],
    ['\r\n\r\n', '    '],
    ['tab\tstays', 'tab\tstays'],
    ['日本\n', '日本 '],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => assert.equal(sanitizeReplyText(input), expected));
  }
});

describe('formatReply', () => {
  const cases: ReadonlyArray<{ name: string; code: number; text: string | readonly string[]; expected: string }> = [
    { name: 'single line', code: 200, text: 'OK', expected: '200 OK\r\n' },
    { name: 'empty text', code: 200, text: '', expected: '200 \r\n' },
    { name: 'quoted path', code: 257, text: '"/a b" is current directory', expected: '257 "/a b" is current directory\r\n' },
    { name: 'array of one is single-line', code: 230, text: ['Logged in'], expected: '230 Logged in\r\n' },
    { name: 'empty array is single-line', code: 211, text: [], expected: '211 \r\n' },
    {
      name: 'two-line reply',
      code: 211,
      text: ['Features:', 'End'],
      expected: '211-Features:\r\n211 End\r\n',
    },
    {
      name: 'multi-line FEAT',
      code: 211,
      text: ['Features:', ' UTF8', ' EPSV', ' MLST type*;size*;', 'End'],
      expected: '211-Features:\r\n UTF8\r\n EPSV\r\n MLST type*;size*;\r\n211 End\r\n',
    },
    {
      name: 'middle line starting with a digit is indented',
      code: 214,
      text: ['Help:', '214 looks like the end', '5 more', 'x', 'Done'],
      expected: '214-Help:\r\n 214 looks like the end\r\n 5 more\r\nx\r\n214 Done\r\n',
    },
    {
      name: 'first and last lines are not indented',
      code: 213,
      text: ['1 first', '2 last'],
      expected: '213-1 first\r\n213 2 last\r\n',
    },
    {
      name: 'injection in single line',
      code: 550,
      text: 'evil\r\n230 Logged in: No such file',
      expected: '550 evil  230 Logged in: No such file\r\n',
    },
    {
      name: 'bare LF injection in single line',
      code: 550,
      text: 'a\n200 b',
      expected: '550 a 200 b\r\n',
    },
    {
      name: 'injection in every position of a multi-line reply',
      code: 250,
      text: ['x\r\n250 fake', 'y\n250 fake', 'z\r250 end'],
      expected: '250-x  250 fake\r\ny 250 fake\r\n250 z 250 end\r\n',
    },
    {
      name: 'middle line that becomes digit-led after sanitizing is still indented',
      code: 250,
      text: ['a', '9\nb', 'c'],
      expected: '250-a\r\n 9 b\r\n250 c\r\n',
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(formatReply(c.code, c.text), c.expected));
  }

  it('rejects codes that are not three digits', () => {
    for (const bad of [0, 99, 600, 1000, 20.5, Number.NaN, -200]) {
      assert.throws(() => formatReply(bad, 'x'), RangeError);
    }
  });

  it('property: exactly one CRLF per line and the reply ends with "<code> "', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 6 }),
        (code, lines) => {
          const out = formatReply(code, lines);
          assert.ok(out.endsWith('\r\n'));
          const wireLines = out.slice(0, -2).split('\r\n');
          assert.equal(wireLines.length, lines.length);
          for (const l of wireLines) assert.ok(!/[\r\n]/.test(l));
          // Only the final line may start with "<code> " (RFC 959 §4.2 end-of-reply marker).
          const terminators = wireLines.filter((l) => l.startsWith(`${code} `));
          assert.equal(terminators.length, 1);
          assert.ok(wireLines.at(-1)?.startsWith(`${code} `));
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });
});
