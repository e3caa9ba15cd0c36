/**
 * @module test/integration/defender-events
 * The defender's non-login events end to end over real sockets (loopback sources 127.0.0.N
 * stand for distinct hosts): refused PROXY headers and data connections from a foreign
 * address add points to the sender, which is banned at the threshold, while the legitimate
 * client's session and transfer are not disturbed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectSocket, waitClosed, waitFor } from '../helpers/integration.js';
import { RawClient } from '../helpers/raw-client.js';
import { assertTransferOk, expectCode, rawDownload } from '../helpers/raw-transfer.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Connects from `localAddress`, sends `bytes`, and waits until the server closes. */
async function sendAndWaitClose(port: number, localAddress: string, bytes: string): Promise<void> {
  const socket = await connectSocket(port, '127.0.0.1', { localAddress });
  socket.write(bytes);
  await waitClosed(socket, 5000);
}

function bansOf(t: TestServer, address: string): Record<string, unknown>[] {
  return t.logs.filter((record) => record.event === 'defender.ban' && record.address === address);
}

function waitForBan(t: TestServer, address: string): Promise<void> {
  return waitFor(() => bansOf(t, address).length > 0, 5000, `a ban of ${address}`);
}

describe('defender events other than failed logins', () => {
  it('malformed PROXY headers from an untrusted host score it until it is banned; a trusted balancer still gets through', async () => {
    const t = await startTestServer({
      config: {
        proxy: { control: 'required', trustedCidrs: ['127.0.0.2/32'] },
        defender: { threshold: 10, scores: { proxyRefused: 5 } },
      },
    });
    try {
      await sendAndWaitClose(t.port, '127.0.0.31', 'HELLO\r\n');
      assert.equal(bansOf(t, '127.0.0.31').length, 0, 'one refused header is not a ban');
      await sendAndWaitClose(t.port, '127.0.0.31', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n');
      await waitForBan(t, '127.0.0.31');
      assert.equal(bansOf(t, '127.0.0.31').length, 1, 'banned after two refused headers (10 points)');
      assert.ok(t.logs.some((record) => record.event === 'proxy.refused' && record.peer === '127.0.0.31'));
      // The trusted balancer, relaying a client, is unaffected.
      const viaBalancer = await RawClient.connect(t.port, '127.0.0.1', '127.0.0.2');
      try {
        viaBalancer.write('PROXY TCP4 198.51.100.7 127.0.0.1 40000 21\r\n');
        assert.equal((await viaBalancer.read()).code, 220);
      } finally {
        viaBalancer.close();
      }
    } finally {
      await t.close();
    }
  });

  it('data connections from a foreign address are refused and score that address; the client\'s transfer still works', async () => {
    const t = await startTestServer({ config: { defender: { threshold: 9, scores: { dataRefused: 3 } } } });
    const client = await RawClient.connect(t.port);
    try {
      await client.login(t.user, t.password);
      await expectCode(client, 'TYPE I', 200);
      const epsv = await client.send('EPSV');
      const port = Number(/\(\|\|\|(\d+)\|\)/.exec(epsv.text)?.[1]);
      assert.ok(port > 0, epsv.text);
      // An intruder races for the announced port three times.
      for (let i = 0; i < 3; i++) await sendAndWaitClose(port, '127.0.0.32', '');
      await waitForBan(t, '127.0.0.32');
      assert.equal(bansOf(t, '127.0.0.32').length, 1, 'the intruder is banned after three refused data connections');
      // The session is untouched: a fresh passive transfer works.
      const listing = await rawDownload(client, 'LIST');
      assertTransferOk(listing, 'LIST after the intrusion attempts');
      assert.equal(bansOf(t, '127.0.0.1').length, 0);
    } finally {
      client.close();
      await t.close();
    }
  });
});
