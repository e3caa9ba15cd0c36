/**
 * @module test/unit/security/defender
 * The defender with an injected clock: scores per event, the threshold, bans that double on
 * repeat up to the maximum, expiry, the sliding observation window, the login delay (growing
 * with the address's failures; the per-user part only for addresses without a successful
 * login as that user), the safe list, IPv6 prefix aggregation, and the memory bound under a
 * flood of 100,000 random addresses.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Defender, loginDelayMs, type BanInfo, type DefenderOptions } from '../../../src/security/defender.js';

const BASE: DefenderOptions = {
  enabled: true,
  threshold: 10,
  observationWindowMs: 60_000,
  banTimeMs: 10_000,
  banTimeMaxMs: 35_000,
  baseLoginDelayMs: 100,
  maxLoginDelayMs: 1000,
  maxTrackedAddresses: 1000,
  ipv6Prefix: 64,
  safeList: [],
  scores: { loginFailed: 2, commandsBeforeLogin: 5, proxyRefused: 5, dataRefused: 3, tooManyConnections: 1 },
};

function setup(overrides: Partial<DefenderOptions> = {}) {
  let now = 1_000_000;
  const bans: BanInfo[] = [];
  const unbans: { address: string; reason: string }[] = [];
  const events: string[] = [];
  const defender = new Defender(
    { ...BASE, ...overrides },
    {
      now: () => now,
      observer: { ban: (b) => bans.push(b), unban: (u) => unbans.push(u), event: (e) => events.push(`${e.key}:${e.event}`) },
      extraSafe: ['10.9.0.0/16'],
    },
  );
  return { defender, bans, unbans, events, advance: (ms: number) => (now += ms), now: () => now };
}

describe('Defender', () => {
  it('adds each event\'s points and bans at the threshold, not before', () => {
    const { defender, bans } = setup();
    for (let i = 0; i < 4; i++) defender.record('192.0.2.1', 'login-failed', 'alice');
    assert.equal(defender.banFor('192.0.2.1'), undefined, '8 points: not banned');
    defender.record('192.0.2.1', 'too-many-connections');
    assert.equal(defender.banFor('192.0.2.1'), undefined, '9 points: not banned');
    defender.record('192.0.2.1', 'data-refused');
    assert.ok(defender.banFor('192.0.2.1'), '12 points: banned');
    assert.equal(bans.length, 1);
    assert.equal(bans[0]?.address, '192.0.2.1');
    assert.equal(bans[0]?.reason, 'data-refused');
    assert.equal(bans[0]?.offences, 1);
    assert.equal(defender.banFor('192.0.2.2'), undefined, 'another address is not banned');
    assert.equal(defender.bannedCount, 1);
  });

  it('a score of 0 turns an event off', () => {
    const { defender } = setup({ scores: { ...BASE.scores, proxyRefused: 0 } });
    for (let i = 0; i < 50; i++) defender.record('192.0.2.1', 'proxy-refused');
    assert.equal(defender.banFor('192.0.2.1'), undefined);
  });

  it('ends a ban after banTimeMs and doubles it on each repeat, up to banTimeMaxMs', () => {
    const { defender, bans, unbans, advance } = setup();
    const offend = () => {
      for (let i = 0; i < 2; i++) defender.record('192.0.2.7', 'commands-before-login');
    };
    const durations: number[] = [];
    for (let round = 0; round < 4; round++) {
      offend();
      const ban = bans.at(-1);
      assert.ok(ban);
      const duration = ban.until.getTime() - ban.since.getTime();
      durations.push(duration);
      advance(duration - 1);
      assert.ok(defender.banFor('192.0.2.7'), `still banned 1 ms before the end of ban ${round + 1}`);
      advance(1);
      assert.equal(defender.banFor('192.0.2.7'), undefined, `ban ${round + 1} over`);
    }
    assert.deepEqual(durations, [10_000, 20_000, 35_000, 35_000]);
    assert.deepEqual(bans.map((b) => b.offences), [1, 2, 3, 4]);
    assert.equal(unbans.filter((u) => u.reason === 'expired').length, 4);
  });

  it('forgets offences banTimeMaxMs after the last ban ended', () => {
    const { defender, bans, advance } = setup();
    for (let i = 0; i < 2; i++) defender.record('192.0.2.8', 'commands-before-login');
    advance(10_000 + 35_000);
    for (let i = 0; i < 2; i++) defender.record('192.0.2.8', 'commands-before-login');
    assert.equal(bans.at(-1)?.offences, 1);
  });

  it('sweep() ends expired bans without the address coming back', () => {
    const { defender, unbans, advance } = setup();
    for (let i = 0; i < 2; i++) defender.record('192.0.2.9', 'proxy-refused');
    assert.equal(defender.bannedCount, 1);
    advance(10_000);
    defender.sweep();
    assert.deepEqual(unbans, [{ address: '192.0.2.9', reason: 'expired' }]);
    assert.equal(defender.list().length, 0);
  });

  it('counts points only within the observation window (sliding)', () => {
    const { defender, advance } = setup();
    for (let i = 0; i < 4; i++) defender.record('192.0.2.3', 'login-failed'); // 8
    advance(2 * 60_000 + 1); // both fixed windows gone
    for (let i = 0; i < 4; i++) defender.record('192.0.2.3', 'login-failed'); // 8 again, not 16
    assert.equal(defender.banFor('192.0.2.3'), undefined);
    // Half a window later the previous window still weighs about half.
    advance(60_000 + 30_000);
    defender.record('192.0.2.3', 'login-failed'); // 2 + 8 * ~0.5 = ~6
    assert.equal(defender.banFor('192.0.2.3'), undefined);
    defender.record('192.0.2.3', 'login-failed');
    defender.record('192.0.2.3', 'login-failed'); // ~10
    assert.ok(defender.banFor('192.0.2.3'));
  });

  it('slows failed logins more with every failure of the address, up to maxLoginDelayMs', () => {
    const { defender } = setup({ threshold: 1000 });
    const delays = Array.from({ length: 12 }, () => defender.loginFailed('192.0.2.4', 'bob'));
    assert.deepEqual(delays.slice(0, 4), [100, 200, 300, 400]);
    assert.equal(delays.at(-1), 1000, 'capped');
    assert.ok(delays.every((d, i) => i === 0 || d >= (delays[i - 1] ?? 0)), 'never decreases');
  });

  it('a user under attack from many addresses slows the attackers, not a clean address or a known one', () => {
    const { defender } = setup({ threshold: 1000 });
    // alice logged in from 198.51.100.5 before the attack.
    defender.loginSucceeded('198.51.100.5', 'alice');
    for (let a = 1; a <= 100; a++) defender.loginFailed(`203.0.113.${a}`, 'alice');
    // A new attacking address: its first failure already waits long (the name's failures count).
    assert.equal(defender.loginFailed('203.0.113.200', 'alice'), 1000);
    // The same address failing for another (quiet) name is not slowed by alice's attack.
    assert.equal(defender.loginFailed('192.0.2.50', 'carol'), 100);
    // alice's known address typing her password wrong once: the base delay only.
    assert.equal(defender.loginFailed('198.51.100.5', 'alice'), 100);
    // Nothing is locked: a clean address is never banned or delayed before it fails (the
    // session answers a correct password at once, whatever the name's score).
    assert.equal(defender.banFor('198.51.100.77'), undefined);
  });

  it('never scores or bans the safe list (configured and the trusted balancers)', () => {
    const { defender, events } = setup({ safeList: ['192.0.2.0/28', '2001:db8:aaaa::/48'] });
    for (let i = 0; i < 100; i++) {
      defender.record('192.0.2.5', 'login-failed');
      defender.record('10.9.3.4', 'proxy-refused');
      defender.record('2001:db8:aaaa:1::9', 'data-refused');
    }
    assert.equal(defender.bannedCount, 0);
    assert.equal(events.length, 0);
    assert.equal(defender.loginFailed('192.0.2.5', 'x'), 100);
    assert.deepEqual(defender.ban('192.0.2.5'), { ok: false, code: 'KFTPD_BAN_SAFE_ADDRESS' });
    defender.record('192.0.2.16', 'proxy-refused');
    defender.record('192.0.2.16', 'proxy-refused');
    assert.ok(defender.banFor('192.0.2.16'), 'just outside the safe /28 is banned');
  });

  it('aggregates IPv6 addresses by ipv6Prefix; IPv4-mapped addresses count as IPv4', () => {
    const { defender, bans } = setup();
    defender.record('2001:db8:1:2::1', 'proxy-refused');
    defender.record('2001:db8:1:2:ffff:eeee:dddd:cccc', 'proxy-refused');
    assert.equal(bans[0]?.address, '2001:db8:1:2::/64');
    assert.ok(defender.banFor('2001:db8:1:2:1234::5'), 'any address of the /64 is refused');
    assert.equal(defender.banFor('2001:db8:1:3::1'), undefined, 'the next /64 is not');
    defender.record('::ffff:192.0.2.44', 'proxy-refused');
    defender.record('192.0.2.44', 'proxy-refused');
    assert.equal(bans[1]?.address, '192.0.2.44');
    assert.ok(defender.banFor('::ffff:192.0.2.44'));
  });

  it('a /128 prefix keeps IPv6 addresses apart', () => {
    const { defender } = setup({ ipv6Prefix: 128 });
    defender.record('2001:db8::1', 'proxy-refused');
    defender.record('2001:db8::2', 'proxy-refused');
    assert.equal(defender.bannedCount, 0);
  });

  it('bans and lifts by hand (an IPv6 address lifts its network)', () => {
    const { defender, unbans } = setup();
    const result = defender.ban('2001:db8:5:6::99', { durationMs: 5000, reason: 'abuse report' });
    assert.ok(result.ok);
    assert.equal(result.ban.address, '2001:db8:5:6::/64');
    assert.equal(result.ban.manual, true);
    assert.equal(result.ban.until.getTime() - result.ban.since.getTime(), 5000);
    assert.deepEqual(defender.ban('not-an-address'), { ok: false, code: 'KFTPD_BAN_INVALID_ADDRESS' });
    assert.equal(defender.lift('2001:db8:5:6::1'), true);
    assert.equal(defender.lift('2001:db8:5:6::1'), false, 'nothing left to lift');
    assert.deepEqual(unbans, [{ address: '2001:db8:5:6::/64', reason: 'lifted' }]);
    assert.equal(defender.banFor('2001:db8:5:6::99'), undefined);
  });

  it('does nothing when disabled (failed logins wait the base delay)', () => {
    const { defender } = setup({ enabled: false });
    for (let i = 0; i < 100; i++) assert.equal(defender.loginFailed('192.0.2.1', 'a'), 100);
    assert.equal(defender.bannedCount, 0);
    assert.deepEqual(defender.ban('192.0.2.1'), { ok: false, code: 'KFTPD_DEFENDER_DISABLED' });
  });

  it('reports refusals of a banned address at most once a second, with the count', () => {
    const { defender, advance } = setup();
    defender.ban('192.0.2.1');
    const ban = defender.banFor('192.0.2.1');
    assert.ok(ban);
    const reported = [defender.refusalsToLog(ban), defender.refusalsToLog(ban), defender.refusalsToLog(ban)];
    advance(1000);
    reported.push(defender.refusalsToLog(ban));
    assert.deepEqual(reported, [1, 0, 0, 3]);
  });

  it('keeps memory bounded under 100,000 random addresses (scores, users and bans)', () => {
    const { defender } = setup({ maxTrackedAddresses: 5000, threshold: 3 });
    const ipv4 = () => [...randomBytes(4)].join('.');
    const ipv6 = () => randomBytes(16).toString('hex').replace(/(.{4})(?!$)/g, '$1:');
    for (let i = 0; i < 100_000; i++) {
      const address = i % 2 === 0 ? ipv4() : ipv6();
      defender.loginFailed(address, `user-${i}`);
      defender.loginSucceeded(address, `user-${i}`);
    }
    let tracked = defender.tracked;
    for (const [name, size] of Object.entries(tracked)) assert.ok(size <= 5000, `${name}: ${size} entries`);
    assert.equal(tracked.addresses, 5000, 'the map is used up to its bound');
    // Every event bans now (3 points ≥ threshold 3): the ban table is bounded too.
    for (let i = 0; i < 100_000; i++) defender.record(ipv4(), 'data-refused');
    tracked = defender.tracked;
    assert.ok(tracked.bans <= 5000, `bans: ${tracked.bans}`);
    assert.ok(tracked.offences <= 5000, `offences: ${tracked.offences}`);
    assert.equal(defender.bannedCount, 5000);
    // The most recent bans are the ones kept.
    assert.ok(defender.list().length === 5000);
  });

  it('answers the admission check for an unbanned address without computing a key while nobody is banned', () => {
    const { defender } = setup();
    // Not an IP literal: would be rejected by key computation; with no bans it is never reached.
    assert.equal(defender.banFor('whatever'), undefined);
    defender.ban('192.0.2.200');
    assert.equal(defender.banFor('whatever'), undefined);
  });

  it('applies bans and lifts decided elsewhere (the shared store) as they are, once', () => {
    const { defender, bans, unbans, now, advance } = setup();
    const ban: BanInfo = { address: '192.0.2.50', since: new Date(now()), until: new Date(now() + 40_000), offences: 3, reason: 'login-failed', manual: false };
    assert.equal(defender.applyBan(ban), true);
    assert.equal(defender.applyBan(ban), false, 'the same ban again changes nothing');
    assert.equal(bans.length, 1, 'reported once');
    assert.deepEqual(defender.list(), [ban], 'no growth computed: kept as decided');
    assert.ok(defender.banFor('192.0.2.50'));
    assert.equal(defender.applyBan({ ...ban, address: '192.0.2.51', until: new Date(now() - 1) }), false, 'an ended ban is not applied');
    assert.equal(defender.applyLift('192.0.2.50'), true);
    assert.equal(defender.applyLift('192.0.2.50'), false);
    assert.deepEqual(unbans, [{ address: '192.0.2.50', reason: 'lifted' }]);
    // retainBans ends the bans the store no longer has.
    defender.applyBan({ ...ban, address: '192.0.2.52' });
    defender.applyBan({ ...ban, address: '192.0.2.53' });
    defender.retainBans(new Set(['192.0.2.53']));
    assert.deepEqual(defender.list().map((b) => b.address), ['192.0.2.53']);
    advance(40_001);
    assert.equal(defender.banFor('192.0.2.53'), undefined, 'expires on time like a local ban');
  });

  it('tells how an event would be scored without scoring it, and what an operator may ban', () => {
    const { defender } = setup();
    assert.deepEqual(defender.scoring('2001:db8:1:2::7', 'login-failed'), { key: '2001:db8:1:2::/64', points: 2 });
    assert.equal(defender.scoring('10.9.1.1', 'login-failed'), null, 'safe');
    assert.equal(defender.scoring('not-an-ip', 'proxy-refused'), null);
    assert.deepEqual(defender.banTarget('2001:db8:1:2::/64'), { ok: true, key: '2001:db8:1:2::/64' });
    assert.deepEqual(defender.banTarget('10.9.0.1'), { ok: false, code: 'KFTPD_BAN_SAFE_ADDRESS' });
    assert.deepEqual(defender.banTarget('nope'), { ok: false, code: 'KFTPD_BAN_INVALID_ADDRESS' });
    for (let i = 0; i < 5; i++) defender.scoring('192.0.2.60', 'login-failed');
    assert.equal(defender.banFor('192.0.2.60'), undefined, 'nothing was scored');
    const off = setup({ enabled: false }).defender;
    assert.equal(off.scoring('192.0.2.1', 'login-failed'), null);
    assert.deepEqual(off.banTarget('192.0.2.1'), { ok: false, code: 'KFTPD_DEFENDER_DISABLED' });
  });

  it('computes the login delay from the address score, or the user score for an untrusted address', () => {
    const options = { baseLoginDelayMs: 100, maxLoginDelayMs: 1000, scores: BASE.scores };
    assert.equal(loginDelayMs(options, 0, 0, false), 100, 'a first failure waits the base delay');
    assert.equal(loginDelayMs(options, 6, 2, false), 300, 'three failures from the address');
    assert.equal(loginDelayMs(options, 2, 8, false), 400, 'the user name under attack slows a stranger');
    assert.equal(loginDelayMs(options, 2, 8, true), 100, 'not an address that logged in as that user');
    assert.equal(loginDelayMs(options, 200, 0, false), 1000, 'capped');
  });
});
