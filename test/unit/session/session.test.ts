/**
 * @module test/unit/session/session
 * The session state machine with in-memory ports: exact reply sequences for login, ordering of
 * pipelined commands, transfers (150 before the data connection, 226/426/452 after), ABOR and
 * STAT during transfers. The same paths run over real sockets in test/integration.
 */
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import type { Authenticator, AuthAttempt, AuthResult } from '../../../src/auth/types.js';
import { expandPermissions } from '../../../src/core/permissions.js';
import type { SessionSettings } from '../../../src/session/context.js';
import { NOOP_METRICS, NO_TLS, type DataConnector, type Logger, type PassiveLease } from '../../../src/session/ports.js';
import { Session } from '../../../src/session/session.js';
import { MemoryStorageProvider } from '../../../src/storage/memory/memory-storage.js';
import type { StorageBackend, StorageCapabilities, StorageProvider } from '../../../src/storage/types.js';

const silent: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        peer().push(chunk);
        callback();
      },
      final(callback) {
        peer().push(null);
        callback();
      },
    });
  // Each side pushes into the other; the closures run only after both exist.
  const left: Duplex = make(() => right);
  const right: Duplex = make(() => left);
  return [left, right];
}

/** A passive lease whose client side the test holds. */
class FakeData implements DataConnector {
  clientSide: Duplex | null = null;
  connectOnAccept = true;
  async listenPassive(): Promise<PassiveLease> {
    const [server, client] = duplexPair();
    return {
      port: 50001,
      advertisedHost: '127.0.0.1',
      accept: async () => {
        if (!this.connectOnAccept) throw new Error('accept timeout');
        this.clientSide = client;
        return server;
      },
      close() {},
    };
  }
  async connectActive(): Promise<Duplex> {
    throw new Error('not used');
  }
}

const auth: Authenticator = {
  async authenticate(attempt: AuthAttempt): Promise<AuthResult> {
    if (attempt.username === 'alice' && attempt.password === 'pw') {
      return { ok: true, principal: { name: 'alice', home: '/', permissions: expandPermissions(['read-write']), anonymous: false } };
    }
    return { ok: false, reason: 'bad-password' };
  },
  ready: () => true,
  close: async () => undefined,
};

interface Harness {
  session: Session;
  data: FakeData;
  replies: string[];
  closed: () => boolean;
  /** Sends a line and waits until `count` more replies arrived. */
  send(line: string, count?: number): Promise<string[]>;
  waitFor(total: number): Promise<void>;
}

function harness(options: { capacityBytes?: number; settings?: Partial<SessionSettings>; storage?: StorageProvider } = {}): Harness {
  const replies: string[] = [];
  let closed = false;
  const data = new FakeData();
  const session = new Session({
    control: {
      remoteAddress: '127.0.0.1',
      localAddress: '127.0.0.1',
      write: (text) => replies.push(text),
      close: () => {
        closed = true;
      },
    },
    data,
    auth,
    storage: options.storage ?? new MemoryStorageProvider(options.capacityBytes === undefined ? {} : { capacityBytes: options.capacityBytes }),
    clock: { now: () => new Date(), sleep: async () => undefined },
    logger: silent,
    metrics: NOOP_METRICS,
    sessionId: 'test',
    tls: NO_TLS,
    settings: {
      serverName: 'kftpd',
      hostNames: [],
      activeEnabled: false,
      dataAcceptTimeoutMs: 1000,
      maxFailedLogins: 3,
      failedLoginDelayMs: 0,
      tlsControl: 'off',
      tlsData: 'optional',
      tlsSessionReuse: 'enforced',
      usernameFromCertificate: 'none',
      cccEnabled: false,
      ...options.settings,
    },
  });
  const waitFor = async (total: number) => {
    const deadline = Date.now() + 2000;
    while (replies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    assert.ok(replies.length >= total, `expected ${total} replies, got ${replies.length}: ${replies.join('')}`);
  };
  return {
    session,
    data,
    replies,
    closed: () => closed,
    waitFor,
    async send(line, count = 1) {
      const before = replies.length;
      session.receiveLine(line);
      await waitFor(before + count);
      return replies.slice(before);
    },
  };
}

const code = (reply: string | undefined) => Number(reply?.slice(0, 3));

async function loggedIn(options?: Parameters<typeof harness>[0]): Promise<Harness> {
  const h = harness(options);
  h.session.greet();
  await h.send('USER alice');
  const [pass] = await h.send('PASS pw');
  assert.equal(code(pass), 230);
  return h;
}

function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

describe('session', () => {
  it('greets, refuses commands before login, and answers unknown verbs with 502', async () => {
    const h = harness();
    h.session.greet();
    assert.match(h.replies[0] ?? '', /^220 /);
    assert.equal(code((await h.send('PWD'))[0]), 530);
    assert.equal(code((await h.send('FROB x'))[0]), 502);
    assert.equal(code((await h.send('PASS x'))[0]), 503);
    assert.equal(code((await h.send('USER alice'))[0]), 331);
    assert.equal(code((await h.send('PASS wrong'))[0]), 530);
    assert.equal(code((await h.send('USER alice'))[0]), 331);
    assert.equal(code((await h.send('PASS pw'))[0]), 230);
    assert.equal((await h.send('PWD'))[0], '257 "/" is the current directory.\r\n');
  });

  it('closes with 421 after the configured number of failed logins', async () => {
    const h = harness({ settings: { maxFailedLogins: 2 } });
    await h.send('USER alice');
    assert.equal(code((await h.send('PASS a'))[0]), 530);
    await h.send('USER alice');
    assert.equal(code((await h.send('PASS b'))[0]), 421);
    assert.equal(h.closed(), true);
  });

  it('answers pipelined commands in order, one at a time', async () => {
    const h = await loggedIn();
    const before = h.replies.length;
    for (const line of ['MKD a', 'CWD a', 'PWD', 'CDUP', 'RMD a', 'NOOP']) h.session.receiveLine(line);
    await h.waitFor(before + 6);
    assert.deepEqual(h.replies.slice(before).map(code), [257, 250, 257, 250, 250, 200]);
    assert.equal(h.replies[before + 2], '257 "/a" is the current directory.\r\n');
  });

  it('keeps RNFR only until the next command (RFC 959: RNTO must follow at once)', async () => {
    const h = await loggedIn();
    await h.send('MKD d');
    assert.equal(code((await h.send('RNTO e'))[0]), 503);
    assert.equal(code((await h.send('RNFR d'))[0]), 350);
    assert.equal(code((await h.send('PWD'))[0]), 257);
    assert.equal(code((await h.send('RNTO e'))[0]), 503);
    assert.equal(code((await h.send('RNFR d'))[0]), 350);
    assert.equal(code((await h.send('RNTO e'))[0]), 250);
  });

  it('sends 150 before waiting for the data connection and 226 after the upload is stored', async () => {
    const h = await loggedIn();
    await h.send('TYPE I');
    assert.equal(code((await h.send('EPSV'))[0]), 229);
    const before = h.replies.length;
    const [opening] = await h.send('STOR f.bin');
    assert.equal(code(opening), 150);
    const client = h.data.clientSide;
    assert.ok(client);
    client.end(Buffer.from('hello world'));
    await h.waitFor(before + 2);
    assert.equal(code(h.replies[before + 1]), 226);
    assert.equal(code((await h.send('SIZE f.bin'))[0]), 213);
    assert.equal(h.replies.at(-1), '213 11\r\n');
  });

  it('answers 452 and never 226 when storage runs out of space mid-upload', async () => {
    const h = await loggedIn({ capacityBytes: 1000 });
    await h.send('TYPE I');
    await h.send('EPSV');
    const before = h.replies.length;
    await h.send('STOR big.bin');
    h.data.clientSide?.end(Buffer.alloc(5000));
    await h.waitFor(before + 2);
    assert.equal(code(h.replies[before + 1]), 452);
    assert.ok(!h.replies.some((r) => code(r) === 226));
  });

  it('answers 425 at once without PASV/EPSV, and 150 then 425 when the client never connects', async () => {
    const h = await loggedIn();
    assert.deepEqual((await h.send('LIST')).map(code), [425]);
    h.data.connectOnAccept = false;
    await h.send('EPSV');
    const replies = await h.send('NLST', 2);
    assert.deepEqual(replies.map(code), [150, 425]);
  });

  it('answers STAT and NOOP during a transfer, and ABOR with 426 then 226', async () => {
    const h = await loggedIn();
    await h.send('TYPE I');
    await h.send('EPSV');
    await h.send('STOR slow.bin');
    h.data.clientSide?.write(Buffer.alloc(100));
    await new Promise((r) => setImmediate(r));
    const [stat] = await h.send('STAT');
    assert.equal(code(stat), 211);
    assert.match(stat ?? '', /STOR \/slow\.bin: \d+ bytes transferred/);
    assert.equal(code((await h.send('NOOP'))[0]), 200);
    const abort = await h.send('ABOR', 2);
    assert.deepEqual(abort.map(code), [426, 226]);
    // The session is usable afterwards.
    assert.equal(code((await h.send('PWD'))[0]), 257);
  });

  it('drains: a running transfer finishes, then 421 before any queued command runs', async () => {
    const h = await loggedIn();
    await h.send('TYPE I');
    await h.send('EPSV');
    const before = h.replies.length;
    await h.send('STOR a.bin');
    h.session.receiveLine('EPSV'); // queued behind the transfer, as a batch client sends it
    h.session.receiveLine('STOR b.bin');
    h.session.drain();
    assert.equal(h.closed(), false, 'a running transfer is not cut');
    h.data.clientSide?.end(Buffer.from('last file'));
    await h.waitFor(before + 3);
    assert.deepEqual(h.replies.slice(before).map(code), [150, 226, 421]);
    assert.equal(h.closed(), true);
  });

  it('drains an idle session at once', async () => {
    const h = await loggedIn();
    const before = h.replies.length;
    h.session.drain();
    assert.deepEqual(h.replies.slice(before).map(code), [421]);
    assert.equal(h.closed(), true);
  });

  it('converts LF to CRLF on TYPE A downloads', async () => {
    const h = await loggedIn();
    await h.send('TYPE I');
    await h.send('EPSV');
    const before = h.replies.length;
    await h.send('STOR t.txt');
    h.data.clientSide?.end(Buffer.from('a\nb\r\nc\n'));
    await h.waitFor(before + 2);
    await h.send('TYPE A');
    await h.send('EPSV');
    await h.send('RETR t.txt');
    const body = await readAll(h.data.clientSide as Duplex);
    assert.equal(body.toString(), 'a\r\nb\r\nc\r\n');
  });

  it('lists names matching a shell pattern for NLST (classic mget), with the typed directory prefix', async () => {
    const h = await loggedIn();
    await h.send('MKD in');
    for (const name of ['a.csv', 'b.csv', 'c.txt']) {
      await h.send('EPSV');
      const before = h.replies.length;
      await h.send(`STOR in/${name}`);
      h.data.clientSide?.end(Buffer.from(name));
      await h.waitFor(before + 2);
    }
    await h.send('EPSV');
    const before = h.replies.length;
    await h.send('NLST in/*.csv');
    const names = (await readAll(h.data.clientSide as Duplex)).toString().split('\r\n').filter(Boolean).sort();
    assert.deepEqual(names, ['in/a.csv', 'in/b.csv']);
    await h.waitFor(before + 2);
    assert.deepEqual(h.replies.slice(before).map(code), [150, 226]);
    assert.equal(code((await h.send('NLST in/*.pdf'))[0]), 425, 'an empty match still lists (no data endpoint here)');
    assert.equal(code((await h.send('NLST nowhere/*.csv'))[0]), 550);
  });

  it('advertises EPRT in FEAT only when active mode is enabled', async () => {
    const off = harness();
    const feat = (await off.send('FEAT'))[0] ?? '';
    assert.doesNotMatch(feat, /EPRT/);
    assert.match(feat, / EPSV\r\n/);
    assert.match(feat, / REST STREAM\r\n/);
    const on = harness({ settings: { activeEnabled: true } });
    assert.match((await on.send('FEAT'))[0] ?? '', / EPRT\r\n/);
  });

  it('generates FEAT from the command table: one line per advertised extension, sorted', async () => {
    const lines = ((await harness().send('FEAT'))[0] ?? '').split('\r\n');
    assert.equal(lines[0], '211-Features:');
    assert.deepEqual(lines.slice(-2), ['211 End', '']);
    const features = lines.slice(1, -2);
    const mlst = features.find((line) => line.startsWith(' MLST '));
    assert.match(mlst ?? '', /^ MLST (\w[\w.]*\*?;)+$/);
    // No TLS and no active mode in this harness: no AUTH TLS, PBSZ, PROT, CCC or EPRT.
    assert.deepEqual(features, [
      ' EPSV',
      ' HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32',
      ' HOST',
      ' MDTM',
      ' MFMT',
      mlst,
      ' REST STREAM',
      ' SIZE',
      ' TVFS',
      ' UTF8',
    ]);
  });

  it('offers in FEAT and HELP only what the storage adapter declares it supports, before and after login', async () => {
    // The memory adapter, declaring less than it has: no MFMT, no REST, no APPE, no rename.
    const limited: StorageCapabilities = { rename: 'none', append: false, resumeRead: false, resumeWrite: false, setModifiedTime: false };
    const inner = new MemoryStorageProvider();
    const declaring = (backend: StorageBackend): StorageBackend =>
      new Proxy(backend, {
        get(target, key) {
          if (key === 'capabilities') return limited;
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    const storage: StorageProvider = { capabilities: limited, ping: () => inner.ping(), forHome: async (home) => declaring(await inner.forHome(home)) };
    const check = async (h: Harness): Promise<void> => {
      const feat = (await h.send('FEAT'))[0] ?? '';
      assert.doesNotMatch(feat, / MFMT\r\n/);
      assert.doesNotMatch(feat, / REST STREAM\r\n/);
      assert.match(feat, / MDTM\r\n/);
      for (const verb of ['MFMT', 'APPE', 'RNFR', 'RNTO']) assert.equal(code((await h.send(`HELP ${verb}`))[0]), 501, verb);
      assert.equal(code((await h.send('HELP MDTM'))[0]), 214);
      const help = (await h.send('HELP'))[0] ?? '';
      assert.doesNotMatch(help, /MFMT|APPE|RNFR/);
      assert.match(help, /MDTM/);
    };
    const before = harness({ storage });
    before.session.greet();
    await before.waitFor(1);
    await check(before);
    await check(await loggedIn({ storage }));
    // The same commands with the adapter's own declaration (everything supported).
    const full = await loggedIn();
    assert.match((await full.send('FEAT'))[0] ?? '', / MFMT\r\n/);
    assert.equal(code((await full.send('HELP APPE'))[0]), 214);
  });
});
