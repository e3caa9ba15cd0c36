/**
 * @module test/unit/proxy/proxy-header.test
 * The PROXY header parser and encoders (haproxy proxy-protocol.txt sections 2.1 and 2.2):
 * table-driven valid and invalid v1/v2 headers, every truncation point, foreign bytes, the size
 * caps, and encode→parse round trips for random addresses, ports and TLVs (fast-check).
 * Must not: open sockets (that is accept-proxy-header.test).
 */
import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  encodeProxyV1,
  encodeProxyV2,
  parseProxyHeader,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_MAX_LENGTH,
  PROXY_V2_SIGNATURE,
  ProxyTlvType,
  type ProxyHeader,
} from '../../../src/protocol/proxy-header.js';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

/** A raw v2 header: signature, version/command byte, family byte, then `body` with its length. */
function v2(versionCommand: number, family: number, body: Buffer | number[] = [], declaredLength?: number): Buffer {
  const data = Buffer.from(body);
  const fixed = Buffer.alloc(4);
  fixed.writeUInt8(versionCommand, 0);
  fixed.writeUInt8(family, 1);
  fixed.writeUInt16BE(declaredLength ?? data.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, data]);
}

function tlv(type: number, value: Buffer | string): Buffer {
  const bytes = Buffer.from(value);
  const head = Buffer.alloc(3);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/** TCP over IPv4 address block: 192.0.2.1:51000 → 198.51.100.2:21. */
const INET_BLOCK = Buffer.from([192, 0, 2, 1, 198, 51, 100, 2, 0xc7, 0x38, 0x00, 0x15]);
/** TCP over IPv6 address block: 2001:db8::1:443 → ::ffff:10.0.0.1:990. */
const INET6_BLOCK = Buffer.concat([
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from('00000000000000000000ffff0a000001', 'hex'),
  Buffer.from([0x01, 0xbb, 0x03, 0xde]),
]);

const FULL_V6 = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';

interface ValidCase {
  readonly name: string;
  readonly bytes: Buffer;
  readonly header: ProxyHeader;
}

const VALID: readonly ValidCase[] = [
  {
    name: 'v1 TCP4',
    bytes: ascii('PROXY TCP4 192.0.2.1 198.51.100.2 51000 21\r\n'),
    header: { version: 1, command: 'PROXY', family: 'tcp4', source: { address: '192.0.2.1', port: 51000 }, destination: { address: '198.51.100.2', port: 21 } },
  },
  {
    name: 'v1 TCP6, canonicalised like socket.remoteAddress',
    bytes: ascii('PROXY TCP6 2001:DB8:0:0:0:0:0:1 2001:0db8::0:2 0 65535\r\n'),
    header: { version: 1, command: 'PROXY', family: 'tcp6', source: { address: '2001:db8::1', port: 0 }, destination: { address: '2001:db8::2', port: 65535 } },
  },
  {
    name: 'v1 TCP6 with an IPv4-mapped source',
    bytes: ascii('PROXY TCP6 ::ffff:10.0.0.1 ::1 1 2\r\n'),
    header: { version: 1, command: 'PROXY', family: 'tcp6', source: { address: '::ffff:10.0.0.1', port: 1 }, destination: { address: '::1', port: 2 } },
  },
  { name: 'v1 UNKNOWN alone', bytes: ascii('PROXY UNKNOWN\r\n'), header: { version: 1, command: 'PROXY', family: 'unknown' } },
  {
    name: 'v1 UNKNOWN at the 107-byte worst case (rest of line ignored)',
    bytes: ascii(`PROXY UNKNOWN ${FULL_V6} ${FULL_V6} 65535 65535\r\n`),
    header: { version: 1, command: 'PROXY', family: 'unknown' },
  },
  {
    name: 'v2 PROXY TCP4',
    bytes: v2(0x21, 0x11, INET_BLOCK),
    header: { version: 2, command: 'PROXY', family: 'tcp4', source: { address: '192.0.2.1', port: 51000 }, destination: { address: '198.51.100.2', port: 21 } },
  },
  {
    name: 'v2 PROXY TCP6 with an IPv4-mapped destination',
    bytes: v2(0x21, 0x21, INET6_BLOCK),
    header: { version: 2, command: 'PROXY', family: 'tcp6', source: { address: '2001:db8::1', port: 443 }, destination: { address: '::ffff:10.0.0.1', port: 990 } },
  },
  {
    name: 'v2 PROXY TCP4 with TLVs (ALPN, AUTHORITY, empty NOOP, custom 0xE0, duplicate ALPN ignored)',
    bytes: v2(0x21, 0x11, Buffer.concat([INET_BLOCK, tlv(ProxyTlvType.ALPN, 'ftp'), tlv(ProxyTlvType.AUTHORITY, 'ftp.example.com'), tlv(ProxyTlvType.NOOP, ''), tlv(0xe0, Buffer.from([1, 2, 3])), tlv(ProxyTlvType.ALPN, 'h2')])),
    header: {
      version: 2,
      command: 'PROXY',
      family: 'tcp4',
      source: { address: '192.0.2.1', port: 51000 },
      destination: { address: '198.51.100.2', port: 21 },
      tlvs: new Map([
        [ProxyTlvType.ALPN, ascii('ftp')],
        [ProxyTlvType.AUTHORITY, ascii('ftp.example.com')],
        [ProxyTlvType.NOOP, Buffer.alloc(0)],
        [0xe0, Buffer.from([1, 2, 3])],
      ]),
    },
  },
  {
    name: 'v2 PROXY TCP6 with a 4096-byte block (the cap)',
    bytes: v2(0x21, 0x21, Buffer.concat([INET6_BLOCK, tlv(ProxyTlvType.NOOP, Buffer.alloc(4096 - 36 - 3))])),
    header: {
      version: 2,
      command: 'PROXY',
      family: 'tcp6',
      source: { address: '2001:db8::1', port: 443 },
      destination: { address: '::ffff:10.0.0.1', port: 990 },
      tlvs: new Map([[ProxyTlvType.NOOP, Buffer.alloc(4096 - 36 - 3)]]),
    },
  },
  { name: 'v2 LOCAL (health check), UNSPEC, empty', bytes: v2(0x20, 0x00), header: { version: 2, command: 'LOCAL', family: 'unknown' } },
  {
    name: 'v2 LOCAL carrying addresses and TLVs: block discarded but consumed',
    bytes: v2(0x20, 0x11, Buffer.concat([INET_BLOCK, tlv(ProxyTlvType.ALPN, 'x')])),
    header: { version: 2, command: 'LOCAL', family: 'unknown' },
  },
  { name: 'v2 PROXY UNSPEC', bytes: v2(0x21, 0x00), header: { version: 2, command: 'PROXY', family: 'unknown' } },
  { name: 'v2 PROXY UDP over IPv4: unknown, consumed', bytes: v2(0x21, 0x12, INET_BLOCK), header: { version: 2, command: 'PROXY', family: 'unknown' } },
  { name: 'v2 PROXY UDP over IPv6: unknown, consumed', bytes: v2(0x21, 0x22, INET6_BLOCK), header: { version: 2, command: 'PROXY', family: 'unknown' } },
  { name: 'v2 PROXY unix stream: unknown, consumed', bytes: v2(0x21, 0x31, Buffer.alloc(216, 0x61)), header: { version: 2, command: 'PROXY', family: 'unknown' } },
];

const INVALID: readonly [string, Buffer][] = [
  ['v1 TCP4 with an IPv6 address', ascii('PROXY TCP4 ::1 198.51.100.2 1 2\r\n')],
  ['v1 TCP6 with an IPv4 address', ascii('PROXY TCP6 192.0.2.1 ::1 1 2\r\n')],
  ['v1 IPv4 with a leading zero', ascii('PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n')],
  ['v1 IPv4 with three parts', ascii('PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n')],
  ['v1 IPv6 with a zone ID', ascii('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n')],
  ['v1 host name', ascii('PROXY TCP4 localhost 198.51.100.2 1 2\r\n')],
  ['v1 port with a leading zero', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 021 2\r\n')],
  ['v1 port 65536', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n')],
  ['v1 port with a sign', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n')],
  ['v1 negative port', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n')],
  ['v1 hexadecimal port', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 0x15 2\r\n')],
  ['v1 double space', ascii('PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n')],
  ['v1 trailing space', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n')],
  ['v1 missing field', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n')],
  ['v1 extra field', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n')],
  ['v1 lower-case protocol', ascii('PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n')],
  ['v1 unknown protocol', ascii('PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n')],
  ['v1 UNKNOWN glued to more text', ascii('PROXY UNKNOWNX\r\n')],
  ['v1 empty after PROXY', ascii('PROXY \r\n')],
  ['v1 tab separator', ascii('PROXY TCP4\t192.0.2.1 198.51.100.2 1 2\r\n')],
  ['v1 bare LF', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n')],
  ['v1 CR without LF', ascii('PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX')],
  ['v1 non-ASCII byte', Buffer.concat([ascii('PROXY TCP4 192.0.2.1'), Buffer.from([0xc3, 0xa9]), ascii(' 1 2\r\n')])],
  ['v1 no CRLF within 107 bytes', ascii(`PROXY UNKNOWN ${'x'.repeat(PROXY_V1_MAX_LENGTH - 14)}`)],
  ['v1 108-byte line', ascii(`PROXY UNKNOWN ${FULL_V6} ${FULL_V6} 65535 655355\r\n`)],
  ['v2 version 1', v2(0x11, 0x11, INET_BLOCK)],
  ['v2 version 3', v2(0x31, 0x11, INET_BLOCK)],
  ['v2 command 2', v2(0x22, 0x11, INET_BLOCK)],
  ['v2 command 0xF', v2(0x2f, 0x00)],
  ['v2 address family 4', v2(0x21, 0x41, INET_BLOCK)],
  ['v2 transport 3', v2(0x21, 0x13, INET_BLOCK)],
  ['v2 TCP4 block too short for addresses', v2(0x21, 0x11, INET_BLOCK.subarray(0, 11))],
  ['v2 TCP6 block too short for addresses', v2(0x21, 0x21, INET6_BLOCK.subarray(0, 35))],
  ['v2 unix block too short for addresses', v2(0x21, 0x31, Buffer.alloc(100))],
  ['v2 TLV header truncated', v2(0x21, 0x11, Buffer.concat([INET_BLOCK, Buffer.from([0x01, 0x00])]))],
  ['v2 TLV value overruns the block', v2(0x21, 0x11, Buffer.concat([INET_BLOCK, Buffer.from([0x01, 0x00, 0x05, 0x61])]))],
  ['v2 second TLV overruns the block', v2(0x21, 0x11, Buffer.concat([INET_BLOCK, tlv(1, 'ok'), Buffer.from([0x02, 0xff, 0xff])]))],
];

describe('parseProxyHeader: valid headers', () => {
  for (const { name, bytes, header } of VALID) {
    it(name, () => {
      assert.deepEqual(parseProxyHeader(bytes), { status: 'ok', header, length: bytes.length });
    });
    it(`${name}: trailing bytes are not consumed`, () => {
      const trailing = ascii('USER alice\r\n');
      assert.deepEqual(parseProxyHeader(Buffer.concat([bytes, trailing])), { status: 'ok', header, length: bytes.length });
    });
    it(`${name}: incomplete at every shorter prefix`, () => {
      for (let n = 0; n < bytes.length; n++) {
        assert.deepEqual(parseProxyHeader(bytes.subarray(0, n)), { status: 'incomplete' }, `prefix of ${n} bytes`);
      }
    });
  }
  it('the 107-byte worst case really is 107 bytes', () => {
    assert.equal(ascii(`PROXY UNKNOWN ${FULL_V6} ${FULL_V6} 65535 65535\r\n`).length, PROXY_V1_MAX_LENGTH);
  });
});

describe('parseProxyHeader: invalid headers', () => {
  for (const [name, bytes] of INVALID) {
    it(name, () => {
      const result = parseProxyHeader(bytes);
      assert.equal(result.status, 'invalid', JSON.stringify(result));
      assert.ok(result.status === 'invalid' && result.reason.length > 0);
    });
  }
  it('v2 length above 4096 is refused from the 16 fixed bytes alone', () => {
    const fixed = v2(0x21, 0x11, [], 4097);
    assert.equal(fixed.length, 16);
    assert.equal(parseProxyHeader(fixed).status, 'invalid');
    assert.equal(parseProxyHeader(v2(0x21, 0x11, [], 0xffff)).status, 'invalid');
  });
  it('v2 at exactly the cap is accepted, one more byte is not', () => {
    const atCap = v2(0x21, 0x00, Buffer.alloc(4096));
    assert.equal(atCap.length, PROXY_V2_MAX_LENGTH);
    assert.equal(parseProxyHeader(atCap).status, 'ok');
    assert.equal(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(4097))).status, 'invalid');
  });
  it('v1 is refused as soon as the line cannot end within 107 bytes', () => {
    const long = ascii(`PROXY UNKNOWN ${'x'.repeat(200)}`);
    assert.equal(parseProxyHeader(long.subarray(0, PROXY_V1_MAX_LENGTH - 1)).status, 'incomplete');
    assert.equal(parseProxyHeader(long.subarray(0, PROXY_V1_MAX_LENGTH)).status, 'invalid');
  });
  it('v1 is refused early on a byte that cannot be part of a header', () => {
    assert.equal(parseProxyHeader(ascii('PROXY TCP4 1.2.3.4\n')).status, 'invalid');
    assert.equal(parseProxyHeader(Buffer.from([...ascii('PROXY T'), 0x00])).status, 'invalid');
  });
});

describe('parseProxyHeader: not a PROXY header', () => {
  const cases: [string, Buffer][] = [
    ['an FTP command', ascii('USER alice\r\n')],
    ['PWD (starts with P)', ascii('PWD\r\n')],
    ['PROXZ', ascii('PROXZ')],
    ['"PROXY" without the space', ascii('PROXY\r\n')],
    ['lower-case proxy', ascii('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n')],
    ['a TLS ClientHello', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])],
    ['a blank line (first signature bytes)', ascii('\r\n\r\nUSER')],
    ['the v2 signature with its last byte wrong', Buffer.concat([PROXY_V2_SIGNATURE.subarray(0, 11), Buffer.from([0x0b, 0x21, 0x11, 0, 0])])],
    ['a single zero byte', Buffer.from([0])],
  ];
  for (const [name, bytes] of cases) {
    it(name, () => assert.deepEqual(parseProxyHeader(bytes), { status: 'none' }));
  }
  it('partial signatures are incomplete, not none', () => {
    assert.deepEqual(parseProxyHeader(Buffer.alloc(0)), { status: 'incomplete' });
    assert.deepEqual(parseProxyHeader(ascii('PROX')), { status: 'incomplete' });
    assert.deepEqual(parseProxyHeader(PROXY_V2_SIGNATURE.subarray(0, 7)), { status: 'incomplete' });
  });
  it('never throws on arbitrary bytes, nor on arbitrary bytes after either signature', () => {
    const anyStatus = new Set(['incomplete', 'none', 'invalid', 'ok']);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(Buffer.alloc(0), ascii('PROXY '), PROXY_V2_SIGNATURE), (tail, prefix) => {
        const result = parseProxyHeader(Buffer.concat([prefix, tail]));
        assert.ok(anyStatus.has(result.status));
        if (result.status === 'ok') assert.ok(result.length <= prefix.length + tail.length);
      }),
      { numRuns: 500 },
    );
  });
});

describe('encoders', () => {
  it('v1 LOCAL is refused; v1 UNKNOWN is the short form', () => {
    assert.throws(() => encodeProxyV1({ version: 1, command: 'LOCAL', family: 'unknown' }), RangeError);
    assert.equal(encodeProxyV1({ version: 1, command: 'PROXY', family: 'unknown' }).toString('latin1'), 'PROXY UNKNOWN\r\n');
  });
  it('addresses of the wrong family, or missing, are refused', () => {
    const source = { address: '::1', port: 1 };
    const destination = { address: '192.0.2.1', port: 2 };
    assert.throws(() => encodeProxyV1({ version: 1, command: 'PROXY', family: 'tcp4', source, destination }), RangeError);
    assert.throws(() => encodeProxyV2({ version: 2, command: 'PROXY', family: 'tcp6', source, destination }), RangeError);
    assert.throws(() => encodeProxyV2({ version: 2, command: 'PROXY', family: 'tcp4' }), RangeError);
    assert.throws(() => encodeProxyV2({ version: 2, command: 'PROXY', family: 'tcp4', source: destination, destination: { address: '192.0.2.2', port: 70000 } }), RangeError);
  });
  it('v2 LOCAL encodes as HAProxy sends it for health checks', () => {
    assert.deepEqual(encodeProxyV2({ version: 2, command: 'LOCAL', family: 'unknown' }), v2(0x20, 0x00));
  });
  it('v2 encodes the address blocks byte for byte', () => {
    const tcp4: ProxyHeader = { version: 2, command: 'PROXY', family: 'tcp4', source: { address: '192.0.2.1', port: 51000 }, destination: { address: '198.51.100.2', port: 21 } };
    assert.deepEqual(encodeProxyV2(tcp4), v2(0x21, 0x11, INET_BLOCK));
    const tcp6: ProxyHeader = { version: 2, command: 'PROXY', family: 'tcp6', source: { address: '2001:db8::1', port: 443 }, destination: { address: '::ffff:10.0.0.1', port: 990 } };
    assert.deepEqual(encodeProxyV2(tcp6), v2(0x21, 0x21, INET6_BLOCK));
  });
});

describe('round trip encode → parse (fast-check)', () => {
  const port = fc.integer({ min: 0, max: 0xffff });
  const canonical6 = (address: string): string => new SocketAddress({ address, family: 'ipv6' }).address;
  const endpoints = fc.oneof(
    fc.record({ family: fc.constant('tcp4' as const), source: fc.record({ address: fc.ipV4(), port }), destination: fc.record({ address: fc.ipV4(), port }) }),
    fc.record({ family: fc.constant('tcp6' as const), source: fc.record({ address: fc.ipV6(), port }), destination: fc.record({ address: fc.ipV6(), port }) }),
  );
  const expectedAddress = (family: 'tcp4' | 'tcp6', address: string): string => (family === 'tcp6' ? canonical6(address) : address);
  const tlvs = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 })), { selector: ([type]) => type, maxLength: 6 });
  const trailing = fc.uint8Array({ maxLength: 32 });

  it('v1', () => {
    fc.assert(
      fc.property(endpoints, trailing, (e, after) => {
        const header: ProxyHeader = { version: 1, command: 'PROXY', ...e };
        const bytes = encodeProxyV1(header);
        assert.ok(bytes.length <= PROXY_V1_MAX_LENGTH);
        const result = parseProxyHeader(Buffer.concat([bytes, after]));
        assert.deepEqual(result, {
          status: 'ok',
          length: bytes.length,
          header: {
            version: 1,
            command: 'PROXY',
            family: e.family,
            source: { address: expectedAddress(e.family, e.source.address), port: e.source.port },
            destination: { address: expectedAddress(e.family, e.destination.address), port: e.destination.port },
          },
        });
      }),
      { numRuns: 300 },
    );
  });

  it('v2 with TLVs', () => {
    fc.assert(
      fc.property(endpoints, tlvs, trailing, (e, pairs, after) => {
        const map = new Map(pairs.map(([type, value]) => [type, Buffer.from(value)] as const));
        const header: ProxyHeader = { version: 2, command: 'PROXY', ...e, ...(map.size > 0 ? { tlvs: map } : {}) };
        const bytes = encodeProxyV2(header);
        const result = parseProxyHeader(Buffer.concat([bytes, after]));
        assert.deepEqual(result, {
          status: 'ok',
          length: bytes.length,
          header: {
            ...header,
            source: { address: expectedAddress(e.family, e.source.address), port: e.source.port },
            destination: { address: expectedAddress(e.family, e.destination.address), port: e.destination.port },
          },
        });
      }),
      { numRuns: 300 },
    );
  });

  it('canonical addresses survive a second round trip unchanged', () => {
    fc.assert(
      fc.property(fc.ipV6(), port, (address, p) => {
        const first = parseProxyHeader(encodeProxyV2({ version: 2, command: 'PROXY', family: 'tcp6', source: { address, port: p }, destination: { address, port: p } }));
        assert.equal(first.status, 'ok');
        if (first.status !== 'ok') return;
        const again = parseProxyHeader(encodeProxyV1({ ...first.header, version: 1 }));
        assert.equal(again.status === 'ok' && again.header.source?.address, first.header.source?.address);
      }),
      { numRuns: 200 },
    );
  });
});
