/**
 * @module test/unit/security/address-key
 * Defender keys: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 masked to the prefix in RFC 5952
 * text, operator input given as an address or a network.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressKey, keyFromOperatorInput } from '../../../src/security/address-key.js';

describe('addressKey', () => {
  const cases: [string, number, string | null][] = [
    ['192.0.2.1', 64, '192.0.2.1'],
    ['::ffff:192.0.2.1', 64, '192.0.2.1'],
    ['::FFFF:10.0.0.1', 64, '10.0.0.1'],
    ['2001:db8:1:2:3:4:5:6', 64, '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002::0006', 64, '2001:db8:1:2::/64'],
    ['2001:db8::1', 128, '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', 128, '2001:db8::1:0:0:1'],
    ['2001:db8:abcd:ef12:1::', 48, '2001:db8:abcd::/48'],
    ['2001:db8:abcd:ef12::', 56, '2001:db8:abcd:ef00::/56'],
    ['fe80::1%eth0', 64, 'fe80::/64'],
    ['::1', 128, '::1'],
    ['::', 64, '::/64'],
    ['64:ff9b::192.0.2.33', 128, '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:7:8', 128, '1:2:3:4:5:6:7:8'],
    ['not-an-address', 64, null],
    ['', 64, null],
  ];
  for (const [address, prefix, expected] of cases) {
    it(`${address} /${prefix} -> ${String(expected)}`, () => assert.equal(addressKey(address, prefix), expected));
  }
  it('operator input: an address or a network, with the prefix applied', () => {
    assert.equal(keyFromOperatorInput('2001:db8:1:2::/64', 64), '2001:db8:1:2::/64');
    assert.equal(keyFromOperatorInput(' 2001:db8:1:2::77 ', 64), '2001:db8:1:2::/64');
    assert.equal(keyFromOperatorInput('192.0.2.1', 64), '192.0.2.1');
    assert.equal(keyFromOperatorInput('192.0.2.0/24', 64), '192.0.2.0');
  });
});
