import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CidrList, isCidrList, parseCidr } from '../../../src/core/cidr.js';

describe('CidrList', () => {
  const list = new CidrList(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);
  const cases: [string, boolean][] = [
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['::ffff:10.9.9.9', true],
    ['2001:db8:1::5', true],
    ['2001:db9::1', false],
    ['not-an-ip', false],
  ];
  for (const [address, expected] of cases) {
    it(`${address} -> ${expected}`, () => assert.equal(list.has(address), expected));
  }
  it('rejects malformed entries', () => {
    assert.throws(() => new CidrList(['10.0.0.0/33']), RangeError);
    assert.equal(parseCidr('10.0.0.0/8/1'), null);
    assert.equal(parseCidr('example.com'), null);
    assert.equal(isCidrList(['0.0.0.0/0', '::/0']), true);
    assert.equal(isCidrList(['0.0.0.0/0', 'x']), false);
  });
});
