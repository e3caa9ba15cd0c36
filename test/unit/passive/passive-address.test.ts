import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPortOffsetRange, parseOverride, validateAdvertiseOptions, type AdvertiseOptions } from '../../../src/core/advertise-options.js';
import { isDnsName } from '../../../src/core/dns-name.js';
import { PassiveAddressError, PassiveAddressResolver, type AdvertiseRequest } from '../../../src/data/passive-address.js';

const base: AdvertiseOptions = { address: '', overrides: [], useDestination: false, dnsCacheMs: 1000, portOffset: 0 };

function request(overrides: Partial<AdvertiseRequest> = {}): AdvertiseRequest {
  return { clientAddress: '203.0.113.9', controlLocalAddress: '10.1.2.3', family: 1, ...overrides };
}

/** A fake DNS: answers from a mutable table, counts lookups, and a controllable clock. */
function fakeDns(initial: Record<string, string[] | Error>) {
  const table = new Map(Object.entries(initial));
  const calls: string[] = [];
  const errors: string[] = [];
  let time = 0;
  return {
    table,
    calls,
    errors,
    advance(ms: number) {
      time += ms;
    },
    deps: {
      lookup: async (host: string) => {
        calls.push(host);
        const answer = table.get(host);
        if (answer === undefined) throw new Error(`ENOTFOUND ${host}`);
        if (answer instanceof Error) throw answer;
        return answer;
      },
      now: () => time,
      onError: (error: Error, host: string) => {
        errors.push(`${host}: ${error.message}`);
      },
    },
  };
}

describe('parseOverride', () => {
  it('splits CIDR and address', () => {
    assert.deepEqual(parseOverride('10.0.0.0/8=10.1.2.3'), { cidr: '10.0.0.0/8', address: '10.1.2.3' });
    assert.deepEqual(parseOverride(' 2001:db8::/32 = ftp.example.com '), { cidr: '2001:db8::/32', address: 'ftp.example.com' });
    assert.deepEqual(parseOverride('192.168.1.7=::1'), { cidr: '192.168.1.7', address: '::1' });
  });
  for (const bad of ['10.0.0.0/8', '10.0.0.0/33=1.2.3.4', 'example.com=1.2.3.4', '10.0.0.0/8=', '10.0.0.0/8=bad name', '10.0.0.0/8=10.0.0.300', '=1.2.3.4']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseOverride(bad), null));
  }
});

describe('isDnsName', () => {
  it('accepts host names and refuses junk', () => {
    assert.equal(isDnsName('ftp.example.com'), true);
    assert.equal(isDnsName('lb.'), true);
    assert.equal(isDnsName('kftpd-0.kftpd'), true);
    assert.equal(isDnsName('-bad.example'), false);
    assert.equal(isDnsName('a..b'), false);
    assert.equal(isDnsName('1.2.3.999'), false);
    assert.equal(isDnsName(`${'a'.repeat(64)}.com`), false);
  });
});

describe('validateAdvertiseOptions', () => {
  it('accepts valid options', () => {
    assert.deepEqual(
      validateAdvertiseOptions({ ...base, address: 'ftp.example.com', overrides: ['10.0.0.0/8=10.1.2.3', '::/0=lb6.example.com'], portOffset: -1000 }),
      [],
    );
  });

  it('reports every problem', () => {
    const problems = validateAdvertiseOptions({
      address: 'not a host',
      overrides: ['10.0.0.0/8=10.1.2.3', '10.0.0.0/40=1.2.3.4', '10.0.0.0/8=', 'nonsense'],
      useDestination: false,
      dnsCacheMs: -1,
      portOffset: 70000,
    });
    assert.equal(problems.length, 6, problems.join('\n'));
    assert.match(problems[0] ?? '', /^address: "not a host" is neither an IP address nor a DNS name/);
    assert.match(problems[1] ?? '', /^overrides\[1\] "10\.0\.0\.0\/40=1\.2\.3\.4": "10\.0\.0\.0\/40" is not a CIDR/);
    assert.match(problems[2] ?? '', /^overrides\[2\] .*address after "=" is empty/);
    assert.match(problems[3] ?? '', /^overrides\[3\] "nonsense": expected "CIDR=address"/);
    assert.match(problems[4] ?? '', /^dnsCacheMs/);
    assert.match(problems[5] ?? '', /^portOffset: must be an integer from -65535 to 65535, got 70000/);
  });

  it('makes the constructor throw', () => {
    assert.throws(() => new PassiveAddressResolver({ ...base, overrides: ['x'] }), RangeError);
  });
});

describe('PassiveAddressResolver precedence', () => {
  it('falls back to the control connection local address, normalised', async () => {
    const resolver = new PassiveAddressResolver(base);
    assert.equal(await resolver.advertise(request({ controlLocalAddress: '::ffff:10.1.2.3' })), '10.1.2.3');
    assert.equal(await resolver.advertise(request({ controlLocalAddress: '2001:db8::5', family: 2 })), '2001:db8::5');
  });

  it('uses a configured literal address', async () => {
    const resolver = new PassiveAddressResolver({ ...base, address: '::FFFF:198.51.100.7' });
    assert.equal(await resolver.advertise(request()), '198.51.100.7');
  });

  it('lets the first matching override win over everything else', async () => {
    const resolver = new PassiveAddressResolver({
      ...base,
      address: '198.51.100.7',
      useDestination: true,
      overrides: ['10.0.0.0/8=10.1.2.3', '10.9.0.0/16=10.9.9.9', 'fd00::/8=fd00::53', '0.0.0.0/0=192.0.2.1'],
    });
    // First match wins even though a narrower entry follows.
    assert.equal(await resolver.advertise(request({ clientAddress: '10.9.1.1', proxyDestination: '192.0.2.200' })), '10.1.2.3');
    // An IPv4-mapped client matches IPv4 entries.
    assert.equal(await resolver.advertise(request({ clientAddress: '::ffff:10.2.3.4' })), '10.1.2.3');
    assert.equal(await resolver.advertise(request({ clientAddress: 'fd00::1234', family: 2 })), 'fd00::53');
    // Catch-all IPv4 entry; an IPv6 client outside fd00::/8 falls through to useDestination.
    assert.equal(await resolver.advertise(request({ clientAddress: '203.0.113.9' })), '192.0.2.1');
    assert.equal(
      await resolver.advertise(request({ clientAddress: '2001:db8::1', controlLocalAddress: '2001:db8::ff', family: 2 })),
      '2001:db8::ff',
    );
  });

  it('useDestination prefers the PROXY destination, else the control socket address', async () => {
    const resolver = new PassiveAddressResolver({ ...base, useDestination: true, address: '198.51.100.7' });
    assert.equal(await resolver.advertise(request({ proxyDestination: '::ffff:192.0.2.80' })), '192.0.2.80');
    assert.equal(await resolver.advertise(request()), '10.1.2.3');
    assert.equal(await resolver.advertise(request({ proxyDestination: '' })), '10.1.2.3');
  });

  it('ignores the PROXY destination when useDestination is off', async () => {
    const resolver = new PassiveAddressResolver(base);
    assert.equal(await resolver.advertise(request({ proxyDestination: '192.0.2.80' })), '10.1.2.3');
  });
});

describe('PassiveAddressResolver DNS', () => {
  it('picks IPv4 for PASV and prefers IPv6 for EPSV', async () => {
    const dns = fakeDns({ 'lb.example.com': ['2001:db8::1', '::ffff:192.0.2.10'], 'v6.example.com': ['2001:db8::2'] });
    const resolver = new PassiveAddressResolver({ ...base, address: 'lb.example.com', overrides: ['fd00::/8=v6.example.com'] }, dns.deps);
    assert.equal(await resolver.advertise(request({ family: 1 })), '192.0.2.10');
    assert.equal(await resolver.advertise(request({ family: 2 })), '2001:db8::1');
    assert.equal(await resolver.advertise(request({ clientAddress: 'fd00::9', family: 2 })), '2001:db8::2');
    await assert.rejects(resolver.advertise(request({ clientAddress: 'fd00::9', family: 1 })), (error: unknown) => {
      assert.ok(error instanceof PassiveAddressError);
      assert.equal(error.code, 'KFTPD_PASSIVE_ADDRESS_UNRESOLVED');
      assert.match(error.message, /no IPv4 address, which PASV needs/);
      return true;
    });
    // One lookup per name: everything after the first came from the cache.
    assert.deepEqual(dns.calls, ['lb.example.com', 'v6.example.com']);
  });

  it('EPSV falls back to IPv4 when the name has no IPv6 address', async () => {
    const dns = fakeDns({ 'lb.example.com': ['192.0.2.10'] });
    const resolver = new PassiveAddressResolver({ ...base, address: 'lb.example.com' }, dns.deps);
    assert.equal(await resolver.advertise(request({ family: 2 })), '192.0.2.10');
  });

  it('re-resolves at most every dnsCacheMs, serving the old value while refreshing', async () => {
    const dns = fakeDns({ 'lb.example.com': ['192.0.2.10'] });
    const resolver = new PassiveAddressResolver({ ...base, address: 'lb.example.com', dnsCacheMs: 1000 }, dns.deps);
    assert.equal(await resolver.advertise(request()), '192.0.2.10');
    dns.table.set('lb.example.com', ['192.0.2.20']);
    dns.advance(999);
    assert.equal(await resolver.advertise(request()), '192.0.2.10');
    assert.equal(dns.calls.length, 1);
    dns.advance(1);
    // Expired: this answer is still the cached one, and a refresh starts in the background.
    assert.equal(await resolver.advertise(request()), '192.0.2.10');
    await resolver.settled();
    assert.equal(dns.calls.length, 2);
    assert.equal(await resolver.advertise(request()), '192.0.2.20');
    assert.equal(dns.calls.length, 2);
  });

  it('coalesces concurrent lookups of one name', async () => {
    const dns = fakeDns({ 'lb.example.com': ['192.0.2.10'] });
    const resolver = new PassiveAddressResolver({ ...base, address: 'lb.example.com' }, dns.deps);
    const answers = await Promise.all([1, 2, 3, 4].map(() => resolver.advertise(request())));
    assert.deepEqual(answers, ['192.0.2.10', '192.0.2.10', '192.0.2.10', '192.0.2.10']);
    assert.equal(dns.calls.length, 1);
  });

  it('keeps the last good value when a lookup fails, and reports the failure', async () => {
    const dns = fakeDns({ 'lb.example.com': ['192.0.2.10'] });
    const resolver = new PassiveAddressResolver({ ...base, address: 'lb.example.com', dnsCacheMs: 1000 }, dns.deps);
    assert.equal(await resolver.advertise(request()), '192.0.2.10');
    dns.table.set('lb.example.com', new Error('SERVFAIL'));
    dns.advance(1000);
    assert.equal(await resolver.advertise(request()), '192.0.2.10');
    await resolver.settled();
    assert.deepEqual(dns.errors, ['lb.example.com: SERVFAIL']);
    // The failed attempt counts: no new lookup until another dnsCacheMs has passed.
    assert.equal(await resolver.advertise(request()), '192.0.2.10');
    assert.equal(dns.calls.length, 2);
    dns.table.set('lb.example.com', []);
    dns.advance(1000);
    assert.equal(await resolver.advertise(request()), '192.0.2.10');
    await resolver.settled();
    assert.equal(dns.calls.length, 3);
    assert.match(dns.errors[1] ?? '', /returned no addresses/);
    assert.equal(await resolver.advertise(request()), '192.0.2.10');
  });

  it('throws KFTPD_PASSIVE_ADDRESS_UNRESOLVED with no good value, and retries on the next request', async () => {
    const dns = fakeDns({});
    const resolver = new PassiveAddressResolver({ ...base, address: 'lb.example.com' }, dns.deps);
    await assert.rejects(resolver.advertise(request()), (error: unknown) => {
      assert.ok(error instanceof PassiveAddressError);
      assert.equal(error.code, 'KFTPD_PASSIVE_ADDRESS_UNRESOLVED');
      assert.equal(error.host, 'lb.example.com');
      assert.match(error.message, /could not be resolved: ENOTFOUND lb\.example\.com/);
      return true;
    });
    assert.deepEqual(dns.errors, ['lb.example.com: ENOTFOUND lb.example.com']);
    dns.table.set('lb.example.com', ['192.0.2.10']);
    assert.equal(await resolver.advertise(request()), '192.0.2.10');
    assert.equal(dns.calls.length, 2);
  });

  it('survives a lookup that throws synchronously and a throwing onError', async () => {
    const resolver = new PassiveAddressResolver(
      { ...base, address: 'lb.example.com' },
      {
        lookup: () => {
          throw new Error('boom');
        },
        onError: () => {
          throw new Error('logger down');
        },
      },
    );
    await assert.rejects(resolver.advertise(request()), /could not be resolved: boom/);
    await assert.rejects(resolver.advertise(request()), /could not be resolved: boom/);
  });
});

describe('advertisedPort', () => {
  it('adds the offset', () => {
    assert.equal(new PassiveAddressResolver(base).advertisedPort(50000), 50000);
    assert.equal(new PassiveAddressResolver({ ...base, portOffset: 10000 }).advertisedPort(50000), 60000);
    assert.equal(new PassiveAddressResolver({ ...base, portOffset: -49999 }).advertisedPort(50000), 1);
    assert.equal(new PassiveAddressResolver({ ...base, portOffset: 15535 }).advertisedPort(50000), 65535);
  });

  it('refuses results outside 1-65535', () => {
    assert.throws(() => new PassiveAddressResolver({ ...base, portOffset: -50000 }).advertisedPort(50000), /= 0 is outside 1-65535/);
    assert.throws(() => new PassiveAddressResolver({ ...base, portOffset: 15536 }).advertisedPort(50000), RangeError);
    assert.throws(() => new PassiveAddressResolver({ ...base, portOffset: 65536 }), RangeError);
  });

  it('checkPortOffsetRange validates the whole shifted range', () => {
    assert.equal(checkPortOffsetRange(50000, 50100, 0), null);
    assert.equal(checkPortOffsetRange(0, 0, 0), null);
    assert.equal(checkPortOffsetRange(50000, 50100, 15435), null);
    assert.match(checkPortOffsetRange(50000, 50100, 15436) ?? '', /to 65436-65536, outside 1-65535/);
    assert.match(checkPortOffsetRange(50000, 50100, -50000) ?? '', /outside 1-65535/);
    assert.match(checkPortOffsetRange(0, 0, 5) ?? '', /needs a fixed passive port range/);
  });
});
