/**
 * @module test/unit/protocol/address
 * PORT/PASV (RFC 959) and EPRT/EPSV (RFC 2428) argument parsing and reply text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  addressFamily,
  formatEpsvText,
  formatPasvText,
  normalizeAddress,
  parseEprtArgument,
  parseEpsvArgument,
  parsePortArgument,
} from '../../../src/protocol/address.js';
import type { EprtResult, EpsvArgument, HostPort } from '../../../src/protocol/address.js';

describe('parsePortArgument', () => {
  const cases: ReadonlyArray<[string, HostPort | null]> = [
    ['127,0,0,1,195,80', { host: '127.0.0.1', port: 50000 }],
    ['10,1,2,3,0,21', { host: '10.1.2.3', port: 21 }],
    ['0,0,0,0,0,0', { host: '0.0.0.0', port: 0 }],
    ['255,255,255,255,255,255', { host: '255.255.255.255', port: 65535 }],
    ['010,001,002,003,004,005', { host: '10.1.2.3', port: 1029 }],
    ['', null],
    ['1,2,3,4,5', null],
    ['1,2,3,4,5,6,7', null],
    ['1,2,3,4,5,6,', null],
    [',1,2,3,4,5,6', null],
    ['1,,2,3,4,5', null],
    ['256,0,0,1,1,1', null],
    ['1,2,3,4,256,1', null],
    ['1,2,3,4,1,256', null],
    ['1,2,3,-4,5,6', null],
    ['1,2,3,+4,5,6', null],
    ['1, 2,3,4,5,6', null],
    [' 1,2,3,4,5,6', null],
    ['1,2,3,4,5,6 ', null],
    ['1.2.3.4,5,6', null],
    ['1,2,3,4,5,6\r', null],
    ['0x1,2,3,4,5,6', null],
    ['1,2,3,4,5,1000', null],
    ['1,2,3,4,5,٣', null],
    ['a,b,c,d,e,f', null],
    ['1,2,3,4,5,6.0', null],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => assert.deepEqual(parsePortArgument(input), expected));
  }

  it('property: formatPasvText output parses back with parsePortArgument', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (host, port) => {
        const text = formatPasvText(host, port);
        const inner = /\(([^)]*)\)$/.exec(text)?.[1] ?? '';
        assert.deepEqual(parsePortArgument(inner), { host, port });
      }),
      { seed: 3, numRuns: 200 },
    );
  });
});

describe('formatPasvText', () => {
  const cases: ReadonlyArray<[string, number, string]> = [
    ['127.0.0.1', 50000, 'Entering Passive Mode (127,0,0,1,195,80)'],
    ['10.0.0.1', 21, 'Entering Passive Mode (10,0,0,1,0,21)'],
    ['::ffff:192.168.1.2', 65535, 'Entering Passive Mode (192,168,1,2,255,255)'],
    ['::FFFF:192.168.1.2', 256, 'Entering Passive Mode (192,168,1,2,1,0)'],
  ];
  for (const [host, port, expected] of cases) {
    it(`${host}:${port}`, () => assert.equal(formatPasvText(host, port), expected));
  }
  it('throws for non-IPv4 hosts and bad ports', () => {
    for (const host of ['::1', '2001:db8::1', 'localhost', '', '1.2.3', '::ffff:1.2.3.256']) {
      assert.throws(() => formatPasvText(host, 1000), TypeError, host);
    }
    for (const port of [-1, 65536, 1.5, Number.NaN]) {
      assert.throws(() => formatPasvText('1.2.3.4', port), RangeError, String(port));
    }
  });
});

describe('parseEprtArgument', () => {
  const syntax: EprtResult = { ok: false, error: 'syntax' };
  const family: EprtResult = { ok: false, error: 'family' };
  const cases: ReadonlyArray<[string, EprtResult]> = [
    ['|1|132.235.1.2|6275|', { ok: true, family: 1, host: '132.235.1.2', port: 6275 }],
    ['|2|1080::8:800:200C:417A|5282|', { ok: true, family: 2, host: '1080::8:800:200C:417A', port: 5282 }],
    ['|2|::1|1|', { ok: true, family: 2, host: '::1', port: 1 }],
    ['|2|::ffff:10.0.0.1|65535|', { ok: true, family: 2, host: '::ffff:10.0.0.1', port: 65535 }],
    ['!1!10.0.0.1!21!', { ok: true, family: 1, host: '10.0.0.1', port: 21 }],
    ['#1#10.0.0.1#021#', { ok: true, family: 1, host: '10.0.0.1', port: 21 }],
    ['~1~10.0.0.1~21~', { ok: true, family: 1, host: '10.0.0.1', port: 21 }],
    ['|3|10.0.0.1|21|', family],
    ['|0|10.0.0.1|21|', family],
    ['|99|anything|21|', family],
    ['', syntax],
    ['|', syntax],
    ['||||', syntax],
    ['|1|10.0.0.1|21', syntax],
    ['1|10.0.0.1|21|', syntax],
    ['|1|10.0.0.1|21||', syntax],
    ['|1|10.0.0.1|21|x', syntax],
    ['|1|10.0.0.1|0|', syntax],
    ['|1|10.0.0.1|65536|', syntax],
    ['|1|10.0.0.1|-1|', syntax],
    ['|1|10.0.0.1|+21|', syntax],
    ['|1|10.0.0.1|21 |', syntax],
    ['|1|10.0.0.1||', syntax],
    ['|1||21|', syntax],
    ['|1|::1|21|', syntax],
    ['|1|::ffff:10.0.0.1|21|', syntax],
    ['|2|10.0.0.1|21|', syntax],
    ['|1|256.0.0.1|21|', syntax],
    ['|1|10.0.0|21|', syntax],
    ['|1|host.example|21|', syntax],
    ['|1| 10.0.0.1|21|', syntax],
    ['|x|10.0.0.1|21|', syntax],
    ['||10.0.0.1|21|', syntax],
    ['|-1|10.0.0.1|21|', syntax],
    [' |1|10.0.0.1|21|', syntax],
    ['\t1\t10.0.0.1\t21\t', syntax],
    ['\x7f1\x7f10.0.0.1\x7f21\x7f', syntax],
    ['é1é10.0.0.1é21é', syntax],
    [':2:::1:21:', syntax],
    ['.1.10.0.0.1.21.', syntax],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => assert.deepEqual(parseEprtArgument(input), expected));
  }
});

describe('parseEpsvArgument', () => {
  const cases: ReadonlyArray<[string, EpsvArgument]> = [
    ['', { kind: 'any' }],
    [' ', { kind: 'any' }],
    ['ALL', { kind: 'all' }],
    ['all', { kind: 'all' }],
    ['aLl', { kind: 'all' }],
    ['1', { kind: 'family', family: 1 }],
    ['2', { kind: 'family', family: 2 }],
    [' 2 ', { kind: 'family', family: 2 }],
    ['3', { kind: 'unsupported-family' }],
    ['0', { kind: 'unsupported-family' }],
    ['01', { kind: 'family', family: 1 }],
    ['99999999999999999999', { kind: 'unsupported-family' }],
    ['-1', { kind: 'syntax' }],
    ['1.0', { kind: 'syntax' }],
    ['ALLX', { kind: 'syntax' }],
    ['AL L', { kind: 'syntax' }],
    ['|||', { kind: 'syntax' }],
    ['x', { kind: 'syntax' }],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => assert.deepEqual(parseEpsvArgument(input), expected));
  }
});

describe('formatEpsvText', () => {
  it('formats the RFC 2428 §3 reply text', () => {
    assert.equal(formatEpsvText(6446), 'Entering Extended Passive Mode (|||6446|)');
    assert.equal(formatEpsvText(65535), 'Entering Extended Passive Mode (|||65535|)');
  });
  it('throws for bad ports', () => {
    for (const port of [-1, 65536, 2.5]) assert.throws(() => formatEpsvText(port), RangeError);
  });
});

describe('normalizeAddress / addressFamily', () => {
  const cases: ReadonlyArray<[input: string, normalized: string, family: 1 | 2]> = [
    ['::ffff:10.0.0.1', '10.0.0.1', 1],
    ['::FFFF:10.0.0.1', '10.0.0.1', 1],
    ['10.0.0.1', '10.0.0.1', 1],
    ['::1', '::1', 2],
    ['2001:db8::1', '2001:db8::1', 2],
    ['fe80::1%eth0', 'fe80::1%eth0', 2],
    ['::ffff:a00:1', '::ffff:a00:1', 2],
    ['::', '::', 2],
  ];
  for (const [input, normalized, family] of cases) {
    it(input, () => {
      assert.equal(normalizeAddress(input), normalized);
      assert.equal(addressFamily(input), family);
    });
  }
  it('leaves non-addresses unchanged', () => {
    for (const s of ['', 'localhost', '::ffff:', '::ffff:300.1.1.1']) assert.equal(normalizeAddress(s), s);
  });
  it('addressFamily throws for non-IP strings', () => {
    for (const s of ['', 'localhost', '1.2.3']) assert.throws(() => addressFamily(s), TypeError);
  });
});
