/**
 * @module test/unit/proxy/accept-proxy-header.test
 * acceptProxyHeader over real loopback sockets: headers in the same write as the first command,
 * in separate writes and split across writes; the trust rules for each mode; timeouts; LOCAL;
 * and that whatever follows the header reaches the next reader byte for byte (plain and TLS).
 * Must not: depend on anything but loopback IPv4 and the throwaway test PKI.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { CidrList } from '../../../src/core/cidr.js';
import { acceptProxyHeader, type ProxyMode, type ProxyOutcome } from '../../../src/transport/proxy-protocol.js';
import { encodeProxyV1, encodeProxyV2, type ProxyHeader } from '../../../src/protocol/proxy-header.js';
import { createTestPki } from '../../helpers/pki.js';

const TRUSTED = new CidrList(['127.0.0.0/8', '::1']);
const UNTRUSTED = new CidrList(['10.0.0.0/8']);
const TIMEOUT_MS = 200;

const CLIENT: ProxyHeader = {
  version: 2,
  command: 'PROXY',
  family: 'tcp4',
  source: { address: '203.0.113.7', port: 50123 },
  destination: { address: '198.51.100.2', port: 21 },
};
const CLIENT6: ProxyHeader = {
  version: 2,
  command: 'PROXY',
  family: 'tcp6',
  source: { address: '2001:db8::7', port: 50123 },
  destination: { address: '2001:db8::2', port: 990 },
  tlvs: new Map([[0x01, Buffer.from('ftp')]]),
};
const V1 = encodeProxyV1({ ...CLIENT, version: 1 });
const V2 = encodeProxyV2(CLIENT);
const COMMAND = Buffer.from('USER alice\r\nPASS s\u00e9cret\r\n', 'utf8');

interface Pair {
  readonly server: net.Socket;
  readonly client: net.Socket;
}

/** One accepted loopback connection; the listener closes once it has its socket. */
async function connectPair(): Promise<Pair> {
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const server = await accepted;
  server.on('error', () => undefined);
  listener.close();
  return { server, client };
}

function close(pair: Pair): void {
  pair.client.destroy();
  pair.server.destroy();
}

/** What the next reader (the FTP layer) sees: everything until the client ends its side. */
function readToEnd(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
    socket.resume();
  });
}

async function accept(pair: Pair, mode: ProxyMode, trusted = TRUSTED, maxBytes?: number, timeoutMs = TIMEOUT_MS): Promise<{ outcome: ProxyOutcome; ms: number }> {
  const started = performance.now();
  const outcome = await acceptProxyHeader(pair.server, { mode, trusted, timeoutMs, ...(maxBytes === undefined ? {} : { maxBytes }) });
  return { outcome, ms: performance.now() - started };
}

function assertOwnAddresses(outcome: ProxyOutcome, pair: Pair): void {
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.equal(outcome.remoteAddress, pair.server.remoteAddress);
  assert.equal(outcome.remotePort, pair.server.remotePort);
  assert.equal(outcome.localAddress, pair.server.localAddress);
  assert.equal(outcome.localPort, pair.server.localPort);
}

function assertClientAddresses(outcome: ProxyOutcome, expected: ProxyHeader = CLIENT): void {
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.equal(outcome.remoteAddress, expected.source?.address);
  assert.equal(outcome.remotePort, expected.source?.port);
  assert.equal(outcome.localAddress, expected.destination?.address);
  assert.equal(outcome.localPort, expected.destination?.port);
}

function assertFailure(outcome: ProxyOutcome, reason: string): void {
  assert.equal(outcome.ok, false, JSON.stringify(outcome));
  assert.ok(!outcome.ok && outcome.reason === reason && outcome.detail.length > 0, JSON.stringify(outcome));
}

describe('acceptProxyHeader: header then FTP bytes', () => {
  for (const [name, header, expected, version] of [
    ['v1', V1, CLIENT, 1],
    ['v2', V2, CLIENT, 2],
    ['v2 TCP6 with a TLV', encodeProxyV2(CLIENT6), CLIENT6, 2],
  ] as const) {
    it(`${name} and the command in the same write`, async () => {
      const pair = await connectPair();
      try {
        pair.client.end(Buffer.concat([header, COMMAND]));
        const { outcome } = await accept(pair, 'required');
        assertClientAddresses(outcome, expected);
        assert.ok(outcome.ok && outcome.header?.version === version);
        assert.notEqual(pair.server.readableFlowing, true, 'left paused');
        assert.deepEqual(await readToEnd(pair.server), COMMAND);
      } finally {
        close(pair);
      }
    });
  }

  it('v1 then the command in a separate, later write', async () => {
    const pair = await connectPair();
    try {
      pair.client.write(V1);
      const { outcome } = await accept(pair, 'required');
      assertClientAddresses(outcome);
      pair.client.end(COMMAND);
      assert.deepEqual(await readToEnd(pair.server), COMMAND);
    } finally {
      close(pair);
    }
  });

  it('v2 split across several writes, then the command', async () => {
    const pair = await connectPair();
    try {
      const pending = accept(pair, 'optional');
      const bytes = Buffer.concat([encodeProxyV2(CLIENT6), COMMAND]);
      for (const [from, to] of [[0, 5], [5, 14], [14, 17], [17, 40], [40, bytes.length]] as const) {
        pair.client.write(bytes.subarray(from, to));
        await sleep(15);
      }
      pair.client.end();
      const { outcome } = await pending;
      assertClientAddresses(outcome, CLIENT6);
      assert.ok(outcome.ok && outcome.header?.tlvs?.get(0x01)?.toString() === 'ftp');
      assert.deepEqual(await readToEnd(pair.server), COMMAND);
    } finally {
      close(pair);
    }
  });

  it('v1 split byte by byte', async () => {
    const pair = await connectPair();
    try {
      // ~50 writes with a pause each: on a loaded machine that alone can pass the 200 ms used
      // elsewhere, and this case is about framing, not the timeout.
      const pending = accept(pair, 'required', TRUSTED, undefined, 5000);
      for (const byte of V1) {
        pair.client.write(Buffer.from([byte]));
        await sleep(1);
      }
      const { outcome } = await pending;
      assertClientAddresses(outcome);
      pair.client.end(COMMAND);
      assert.deepEqual(await readToEnd(pair.server), COMMAND);
    } finally {
      close(pair);
    }
  });

  it('LOCAL (health check) keeps the socket addresses and returns the header', async () => {
    const pair = await connectPair();
    try {
      pair.client.end(Buffer.concat([encodeProxyV2({ version: 2, command: 'LOCAL', family: 'unknown' }), COMMAND]));
      const { outcome } = await accept(pair, 'required');
      assertOwnAddresses(outcome, pair);
      assert.ok(outcome.ok && outcome.header?.command === 'LOCAL');
      assert.deepEqual(await readToEnd(pair.server), COMMAND);
    } finally {
      close(pair);
    }
  });

  it('v1 UNKNOWN keeps the socket addresses', async () => {
    const pair = await connectPair();
    try {
      pair.client.end(Buffer.from('PROXY UNKNOWN\r\n'));
      const { outcome } = await accept(pair, 'required');
      assertOwnAddresses(outcome, pair);
      assert.ok(outcome.ok && outcome.header?.family === 'unknown');
    } finally {
      close(pair);
    }
  });
});

describe('acceptProxyHeader: refusals', () => {
  it('required, no header: missing after the timeout', async () => {
    const pair = await connectPair();
    try {
      const { outcome, ms } = await accept(pair, 'required');
      assertFailure(outcome, 'missing');
      assert.ok(ms >= TIMEOUT_MS - 20, `${ms} ms`);
    } finally {
      close(pair);
    }
  });

  it('required, FTP bytes instead of a header: missing at once', async () => {
    const pair = await connectPair();
    try {
      pair.client.write(COMMAND);
      const { outcome, ms } = await accept(pair, 'required');
      assertFailure(outcome, 'missing');
      assert.ok(ms < TIMEOUT_MS, `${ms} ms`);
    } finally {
      close(pair);
    }
  });

  it('required, untrusted peer: untrusted without reading a byte', async () => {
    const pair = await connectPair();
    try {
      pair.client.end(Buffer.concat([V2, COMMAND]));
      await sleep(20);
      const { outcome, ms } = await accept(pair, 'required', UNTRUSTED);
      assertFailure(outcome, 'untrusted');
      assert.ok(ms < 100, `${ms} ms`);
      assert.deepEqual(await readToEnd(pair.server), Buffer.concat([V2, COMMAND]), 'every byte still unread');
    } finally {
      close(pair);
    }
  });

  it('an invalid header: invalid', async () => {
    const pair = await connectPair();
    try {
      pair.client.write('PROXY TCP4 203.0.113.7 198.51.100.2 050123 21\r\nUSER x\r\n');
      const { outcome } = await accept(pair, 'optional');
      assertFailure(outcome, 'invalid');
    } finally {
      close(pair);
    }
  });

  it('a header larger than maxBytes: invalid', async () => {
    const pair = await connectPair();
    try {
      pair.client.write(encodeProxyV2({ ...CLIENT, tlvs: new Map([[0xe0, Buffer.alloc(200)]]) }));
      const { outcome } = await accept(pair, 'required', TRUSTED, 64);
      assertFailure(outcome, 'invalid');
    } finally {
      close(pair);
    }
  });

  it('part of a header, then silence: timeout', async () => {
    const pair = await connectPair();
    try {
      pair.client.write(V2.subarray(0, 20));
      const { outcome, ms } = await accept(pair, 'optional');
      assertFailure(outcome, 'timeout');
      assert.ok(ms >= TIMEOUT_MS - 20, `${ms} ms`);
    } finally {
      close(pair);
    }
  });

  it('peer closes mid-header: closed', async () => {
    const pair = await connectPair();
    try {
      pair.client.end(V1.subarray(0, 10));
      const { outcome, ms } = await accept(pair, 'required');
      assertFailure(outcome, 'closed');
      assert.ok(ms < TIMEOUT_MS, `${ms} ms`);
    } finally {
      close(pair);
    }
  });

  it('socket already destroyed: closed', async () => {
    const pair = await connectPair();
    try {
      pair.server.destroy();
      const { outcome } = await accept(pair, 'required');
      assertFailure(outcome, 'closed');
    } finally {
      close(pair);
    }
  });
});

describe('acceptProxyHeader: no header taken', () => {
  it('optional, silent client: the socket addresses after the timeout, later bytes intact', async () => {
    const pair = await connectPair();
    try {
      const { outcome, ms } = await accept(pair, 'optional');
      assertOwnAddresses(outcome, pair);
      assert.ok(outcome.ok && outcome.header === null);
      assert.ok(ms >= TIMEOUT_MS - 20 && ms < TIMEOUT_MS + 200, `${ms} ms`);
      pair.client.end(COMMAND);
      assert.deepEqual(await readToEnd(pair.server), COMMAND);
    } finally {
      close(pair);
    }
  });

  for (const [name, first] of [
    ['FTP command', COMMAND],
    ['command starting with P', Buffer.from('PWD\r\nPASV\r\n')],
    ['blank line (first v2 signature bytes)', Buffer.from('\r\n\r\nNOOP\r\n')],
  ] as const) {
    it(`optional, ${name} first: at once, the bytes intact`, async () => {
      const pair = await connectPair();
      try {
        pair.client.end(first);
        const { outcome, ms } = await accept(pair, 'optional');
        assertOwnAddresses(outcome, pair);
        assert.ok(outcome.ok && outcome.header === null);
        assert.ok(ms < TIMEOUT_MS, `${ms} ms`);
        assert.deepEqual(await readToEnd(pair.server), first);
      } finally {
        close(pair);
      }
    });
  }

  it('optional, untrusted peer: immediate, its header is not believed and stays unread', async () => {
    const pair = await connectPair();
    try {
      pair.client.end(Buffer.concat([V1, COMMAND]));
      const started = performance.now();
      const outcome = await acceptProxyHeader(pair.server, { mode: 'optional', trusted: UNTRUSTED, timeoutMs: 5000 });
      assert.ok(performance.now() - started < 1000);
      assertOwnAddresses(outcome, pair);
      assert.ok(outcome.ok && outcome.header === null);
      assert.deepEqual(await readToEnd(pair.server), Buffer.concat([V1, COMMAND]));
    } finally {
      close(pair);
    }
  });

  it('mode off: immediate, nothing read, the socket untouched', async () => {
    const pair = await connectPair();
    try {
      pair.client.end(Buffer.concat([V2, COMMAND]));
      await sleep(20);
      const flowing = pair.server.readableFlowing;
      const { outcome, ms } = await accept(pair, 'off');
      assert.ok(ms < 100, `${ms} ms`);
      assertOwnAddresses(outcome, pair);
      assert.ok(outcome.ok && outcome.header === null);
      assert.equal(pair.server.readableFlowing, flowing);
      assert.equal(pair.server.listenerCount('data'), 0);
      assert.deepEqual(await readToEnd(pair.server), Buffer.concat([V2, COMMAND]));
    } finally {
      close(pair);
    }
  });

  it('removes its listeners', async () => {
    const pair = await connectPair();
    try {
      const before = { end: pair.server.listenerCount('end'), close: pair.server.listenerCount('close'), error: pair.server.listenerCount('error') };
      pair.client.write(V1);
      await accept(pair, 'required');
      assert.equal(pair.server.listenerCount('data'), 0);
      assert.deepEqual({ end: pair.server.listenerCount('end'), close: pair.server.listenerCount('close'), error: pair.server.listenerCount('error') }, before);
    } finally {
      close(pair);
    }
  });
});

describe('acceptProxyHeader: implicit TLS behind the header', () => {
  let dir = '';
  let key: Buffer;
  let cert: Buffer;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kftpd-proxy-'));
    const pki = await createTestPki(dir);
    [key, cert] = await Promise.all([readFile(pki.serverKey), readFile(pki.serverCert)]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Client: optional header, then a TLS handshake and one line; server echoes the line back. */
  async function tlsRoundTrip(mode: ProxyMode, header: Buffer | null): Promise<{ outcome: ProxyOutcome; ms: number }> {
    const pair = await connectPair();
    try {
      // The header and the ClientHello leave together, as a balancer forwards them.
      pair.client.cork();
      if (header) pair.client.write(header);
      const secureClient = tls.connect({ socket: pair.client, rejectUnauthorized: false });
      process.nextTick(() => pair.client.uncork());
      const { outcome, ms } = await accept(pair, mode);
      assert.ok(outcome.ok, JSON.stringify(outcome));
      const secureServer = new tls.TLSSocket(pair.server, { isServer: true, key, cert });
      secureServer.on('error', () => undefined);
      secureServer.once('data', (line: Buffer) => secureServer.end(line));
      await new Promise<void>((resolve) => secureClient.once('secureConnect', resolve));
      secureClient.end('AUTH-free hello\r\n');
      const echoed: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        secureClient.on('data', (chunk: Buffer) => echoed.push(chunk));
        secureClient.once('end', resolve);
        secureClient.once('error', reject);
      });
      assert.equal(Buffer.concat(echoed).toString(), 'AUTH-free hello\r\n');
      return { outcome, ms };
    } finally {
      close(pair);
    }
  }

  it('required: v2 header and ClientHello in one flight; the handshake completes', async () => {
    const { outcome } = await tlsRoundTrip('required', V2);
    assertClientAddresses(outcome);
  });

  it('optional without a header: the ClientHello ends the wait at once', async () => {
    const { outcome, ms } = await tlsRoundTrip('optional', null);
    assert.ok(outcome.ok && outcome.header === null);
    assert.ok(ms < TIMEOUT_MS, `${ms} ms`);
  });
});
