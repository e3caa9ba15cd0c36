/**
 * @module test/unit/protocol/line-reader
 * Framing of the control connection: chunk splitting anywhere, Telnet stripping, the line
 * length bound and UTF-8 decoding of the LineReader.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LineReader } from '../../../src/protocol/line-reader.js';
import type { LineEvent } from '../../../src/protocol/line-reader.js';

const IAC = 0xff;
const IP = 0xf4;
const DM = 0xf2;
const NOP = 0xf1;
const AYT = 0xf6;
const WILL = 0xfb;
const WONT = 0xfc;
const DO = 0xfd;
const DONT = 0xfe;

function bytes(...parts: Array<string | number | readonly number[]>): Buffer {
  return Buffer.concat(
    parts.map((p) =>
      typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(typeof p === 'number' ? [p] : p),
    ),
  );
}

function feed(maxLineBytes: number, chunks: readonly Buffer[]): LineEvent[] {
  const reader = new LineReader({ maxLineBytes });
  return chunks.flatMap((c) => reader.push(c));
}

const line = (text: string): LineEvent => ({ type: 'line', line: text });
const tooLong: LineEvent = { type: 'too-long' };

describe('LineReader single push', () => {
  const cases: ReadonlyArray<{ name: string; max?: number; input: Buffer; expected: LineEvent[] }> = [
    { name: 'CRLF line', input: bytes('USER bob\r\n'), expected: [line('USER bob')] },
    { name: 'bare LF line', input: bytes('USER bob\n'), expected: [line('USER bob')] },
    { name: 'only one trailing CR stripped', input: bytes('NOOP\r\r\n'), expected: [line('NOOP\r')] },
    { name: 'inner CR kept', input: bytes('a\rb\r\n'), expected: [line('a\rb')] },
    { name: 'no terminator yet', input: bytes('USER bob'), expected: [] },
    { name: 'CR without LF is not a terminator', input: bytes('USER bob\r'), expected: [] },
    {
      name: 'pipelined commands in one chunk',
      input: bytes('USER a\r\nPASS b\r\nPWD\nSYST\r\nTYPE'),
      expected: [line('USER a'), line('PASS b'), line('PWD'), line('SYST')],
    },
    { name: 'empty lines', input: bytes('\r\n\n\r\n'), expected: [line(''), line(''), line('')] },
    { name: 'empty chunk', input: bytes(''), expected: [] },
    { name: 'UTF-8 file name', input: bytes('RETR grüße 日本.txt\r\n'), expected: [line('RETR grüße 日本.txt')] },
    { name: 'emoji (4-byte UTF-8)', input: bytes('MKD 📁\r\n'), expected: [line('MKD 📁')] },
    {
      name: 'Telnet IP/DM before ABOR (RFC 959 §4.1.3)',
      input: bytes(IAC, IP, IAC, DM, 'ABOR\r\n'),
      expected: [line('ABOR')],
    },
    { name: 'IAC IAC is a literal 0xFF (invalid UTF-8 -> U+FFFD)', input: bytes('a', IAC, IAC, 'b\n'), expected: [line('a\uFFFDb')] },
    { name: 'IAC NOP and AYT dropped', input: bytes('NO', IAC, NOP, 'O', IAC, AYT, 'P\r\n'), expected: [line('NOOP')] },
    {
      name: 'option negotiation dropped (3 bytes each)',
      input: bytes(IAC, WILL, 1, IAC, WONT, 3, IAC, DO, 0x41, IAC, DONT, 24, 'PWD\r\n'),
      expected: [line('PWD')],
    },
    { name: 'option byte that looks like LF is not a terminator', input: bytes('PW', IAC, DO, 0x0a, 'D\r\n'), expected: [line('PWD')] },
    { name: 'option byte that is IAC is consumed', input: bytes('A', IAC, DONT, IAC, 'B\n'), expected: [line('AB')] },
    { name: 'invalid UTF-8: bad continuation', input: bytes('x', [0xc3, 0x28], '\n'), expected: [line('x\uFFFD(')] },
    { name: 'invalid UTF-8: lone continuation', input: bytes([0x80], 'y\n'), expected: [line('\uFFFDy')] },
    { name: 'invalid UTF-8: truncated sequence at line end', input: bytes('z', [0xe2, 0x82], '\r\n'), expected: [line('z\uFFFD')] },
    { name: 'invalid UTF-8: overlong encoding', input: bytes([0xc0, 0xaf], '\n'), expected: [line('\uFFFD\uFFFD')] },
    { name: 'invalid UTF-8: surrogate code point', input: bytes([0xed, 0xa0, 0x80], '\n'), expected: [line('\uFFFD\uFFFD\uFFFD')] },
    { name: 'NUL byte passes through', input: bytes('a', 0, 'b\n'), expected: [line('a\0b')] },
    { name: 'line of exactly max bytes', max: 4, input: bytes('ABCD\r\n'), expected: [line('ABCD')] },
    { name: 'line of exactly max bytes, bare LF', max: 4, input: bytes('ABCD\n'), expected: [line('ABCD')] },
    { name: 'line of max+1 bytes', max: 4, input: bytes('ABCDE\r\nNOOP\r\n'), expected: [tooLong, line('NOOP')] },
    { name: 'max bytes then CR then data', max: 4, input: bytes('ABCD\rE\r\nPWD\n'), expected: [tooLong, line('PWD')] },
    { name: 'max counts UTF-8 bytes, not characters', max: 4, input: bytes('üü\nüüx\n'), expected: [line('üü'), tooLong] },
    { name: 'IAC IAC counts as one data byte', max: 2, input: bytes(IAC, IAC, 'a\n'), expected: [line('\uFFFDa')] },
    { name: 'Telnet commands do not count towards the limit', max: 2, input: bytes(IAC, IP, IAC, DM, IAC, WILL, 1, 'ab\n'), expected: [line('ab')] },
    {
      name: 'too-long emitted once however long the line',
      max: 3,
      input: bytes('x'.repeat(1000), '\r\nPWD\r\n'),
      expected: [tooLong, line('PWD')],
    },
    {
      name: 'consecutive too-long lines each reported',
      max: 3,
      input: bytes('abcdef\nghijkl\nok\n'),
      expected: [tooLong, tooLong, line('ok')],
    },
    {
      name: 'Telnet still decoded while discarding',
      max: 3,
      input: bytes('abcdef', IAC, DO, 0x0a, 'more\nok\n'),
      expected: [tooLong, line('ok')],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(feed(c.max ?? 512, [c.input]), c.expected);
    });
  }

  it('reports too-long as soon as the limit is crossed, before the LF arrives', () => {
    const reader = new LineReader({ maxLineBytes: 5 });
    assert.deepEqual(reader.push(bytes('12345')), []);
    assert.deepEqual(reader.push(bytes('6')), [tooLong]);
    assert.deepEqual(reader.push(bytes('7'.repeat(10_000))), []);
    assert.deepEqual(reader.push(bytes('\r\nQUIT\r\n')), [line('QUIT')]);
  });

  it('accepts a max-length line whose CR and LF arrive in later pushes', () => {
    const reader = new LineReader({ maxLineBytes: 3 });
    assert.deepEqual(reader.push(bytes('abc')), []);
    assert.deepEqual(reader.push(bytes('\r')), []);
    assert.deepEqual(reader.push(bytes('\n')), [line('abc')]);
  });

  it('handles lines longer than the initial buffer', () => {
    const long = 'é'.repeat(5000);
    assert.deepEqual(feed(20_000, [bytes(`RETR ${long}\r\n`)]), [line(`RETR ${long}`)]);
  });

  it('rejects an invalid maxLineBytes', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new LineReader({ maxLineBytes: bad }), RangeError);
    }
  });
});

describe('LineReader chunking', () => {
  // One stream exercising every feature, so a split can land inside each kind of token.
  const stream = bytes(
    'USER anonymous\r\n',
    'PASS x\n',
    IAC,
    IP,
    IAC,
    DM,
    'ABOR\r\n',
    'RETR da',
    IAC,
    IAC,
    'te ü日📁\r\n',
    IAC,
    WILL,
    0x0a,
    '\r\n',
    'STOR ',
    'y'.repeat(40),
    '\r\n',
    'MKD ok',
    [0xe2, 0x82],
    '\r\n',
    'NO',
    IAC,
    NOP,
    'OP\r\r\n',
    'QUIT\r\n',
    'PARTIAL',
  );
  const max = 24;
  const expected = feed(max, [stream]);

  it('has the expected events in one push', () => {
    assert.deepEqual(expected, [
      line('USER anonymous'),
      line('PASS x'),
      line('ABOR'),
      line('RETR da\uFFFDte ü日📁'),
      line(''),
      tooLong,
      line('MKD ok\uFFFD'),
      line('NOOP\r'),
      line('QUIT'),
    ]);
  });

  it('gives the same events when split at every single byte boundary', () => {
    for (let i = 0; i <= stream.length; i++) {
      assert.deepEqual(feed(max, [stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
    }
  });

  it('gives the same events when split at every pair of boundaries', () => {
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        const chunks = [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)];
        assert.deepEqual(feed(max, chunks), expected, `split at ${i}, ${j}`);
      }
    }
  });

  it('gives the same events when fed byte by byte', () => {
    const chunks = Array.from(stream, (b) => Buffer.from([b]));
    assert.deepEqual(feed(max, chunks), expected);
  });

  it('handles IAC sequences split across pushes', () => {
    const reader = new LineReader({ maxLineBytes: 64 });
    assert.deepEqual(reader.push(bytes('AB', IAC)), []);
    assert.deepEqual(reader.push(bytes(IP, IAC)), []);
    assert.deepEqual(reader.push(bytes(DM)), []);
    assert.deepEqual(reader.push(bytes('OR', IAC)), []);
    assert.deepEqual(reader.push(bytes(DO)), []);
    assert.deepEqual(reader.push(bytes(0x0a)), []);
    assert.deepEqual(reader.push(bytes(IAC)), []);
    assert.deepEqual(reader.push(bytes(IAC, '\r')), []);
    assert.deepEqual(reader.push(bytes('\n')), [line('ABOR\uFFFD')]);
  });

  it('property: random byte streams split randomly decode like a single push', () => {
    // Tokens biased towards the interesting bytes so Telnet and terminators occur often.
    const token = fc.oneof(
      fc.constantFrom(
        [IAC],
        [IAC, IAC],
        [IAC, IP],
        [IAC, WILL],
        [0x0d],
        [0x0a],
        [0x0d, 0x0a],
        [0xc3, 0xbc],
        [0xe6, 0x97, 0xa5],
        [0xf0, 0x9f, 0x93, 0x81],
        [0x80],
      ),
      fc.array(fc.integer({ min: 0x20, max: 0x7e }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 3 }),
    );
    fc.assert(
      fc.property(
        fc.array(token, { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 1, max: 16 }),
        (tokens, cuts, maxLineBytes) => {
          const all = Buffer.from(tokens.flat());
          const positions = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let prev = 0;
          for (const p of positions) {
            chunks.push(all.subarray(prev, p));
            prev = p;
          }
          chunks.push(all.subarray(prev));
          const whole = feed(maxLineBytes, [all]);
          assert.deepEqual(feed(maxLineBytes, chunks), whole);
          for (const e of whole) {
            if (e.type === 'line') {
              // Each input byte decodes to at most one character, so the bound carries over.
              assert.ok(Buffer.byteLength(e.line.replace(/\uFFFD/g, 'x')) <= maxLineBytes);
              assert.ok(!e.line.includes('\n'));
            }
          }
        },
      ),
      { seed: 0x5eed, numRuns: 300 },
    );
  });
});
