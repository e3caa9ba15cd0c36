/**
 * @module test/unit/protocol/hash-reply
 * The wire format of HASH (draft-bryan-ftpext-hash-02), RANG (draft-bryan-ftp-range-08) and
 * the XCRC/XMD5/XSHA* arguments: table-driven, pure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_HASH_ALGORITHM,
  formatHashFeat,
  formatHashReply,
  parseHashAlgorithm,
  parseHashReply,
  parseRangArgument,
  parseXHashArgument,
} from '../../../src/protocol/hash-reply.js';

describe('protocol/hash-reply', () => {
  it('FEAT line stars the selected algorithm; SHA-256 is the default', () => {
    assert.equal(DEFAULT_HASH_ALGORITHM, 'SHA-256');
    assert.equal(formatHashFeat('SHA-256'), 'HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32');
    assert.equal(formatHashFeat('CRC32'), 'HASH SHA-256;SHA-512;SHA-1;MD5;CRC32*');
  });

  it('algorithm names are case-insensitive and accept the dashless spelling', () => {
    const table: [string, string | null][] = [
      ['SHA-256', 'SHA-256'],
      ['sha-256', 'SHA-256'],
      ['SHA256', 'SHA-256'],
      ['sha-1', 'SHA-1'],
      ['md5', 'MD5'],
      ['crc32', 'CRC32'],
      ['SHA-512', 'SHA-512'],
      ['SHA-384', null],
      ['', null],
      ['MD4', null],
    ];
    for (const [input, expected] of table) assert.equal(parseHashAlgorithm(input), expected, input);
  });

  it('213 text is "<alg> <start>-<end> <hex> <path>" and parses back', () => {
    const result = { algorithm: 'SHA-1' as const, start: 0, end: 49, hex: 'ab'.repeat(20), path: 'dir/a file.txt' };
    const text = formatHashReply(result);
    assert.equal(text, `SHA-1 0-49 ${'ab'.repeat(20)} dir/a file.txt`);
    assert.deepEqual(parseHashReply(text), result);
    assert.equal(parseHashReply('SHA-1 0-x ab f'), null);
    assert.equal(parseHashReply('NOPE 0-1 ab f'), null);
  });

  it('RANG: two offsets, end >= start; "1 0" resets', () => {
    assert.deepEqual(parseRangArgument('0 49'), { kind: 'range', start: 0, end: 49 });
    assert.deepEqual(parseRangArgument(' 10   10 '), { kind: 'range', start: 10, end: 10 });
    assert.deepEqual(parseRangArgument('1 0'), { kind: 'reset' });
    for (const bad of ['', '5', '5 4', 'a b', '1 2 3', '-1 5', '99999999999999999 1']) assert.equal(parseRangArgument(bad), null, bad);
  });

  it('XCRC arguments: quoted paths, up to two trailing offsets, end >= start', () => {
    const table: [string, ReturnType<typeof parseXHashArgument>][] = [
      ['file.bin', { path: 'file.bin', quoted: false }],
      ['"a b.bin"', { path: 'a b.bin', quoted: true }],
      ['"a b.bin" 10', { path: 'a b.bin', quoted: true, start: 10 }],
      ['"a b.bin" 10 20', { path: 'a b.bin', quoted: true, start: 10, end: 20 }],
      ['file.bin 5 9', { path: 'file.bin', quoted: false, start: 5, end: 9 }],
      ['my file 5', { path: 'my file', quoted: false, start: 5 }],
      ['"a" 9 5', null],
      ['"unterminated', null],
      ['"a" x', null],
      ['', null],
    ];
    for (const [input, expected] of table) assert.deepEqual(parseXHashArgument(input), expected, input);
  });
});
