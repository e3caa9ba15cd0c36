/**
 * @module test/integration/proxy-protocol
 * PROXY protocol from a (simulated) load balancer on the control and passive listeners: the
 * session, its logs and its limits see the real client address from the header; the
 * data-connection anti-hijack check compares real addresses; headers from untrusted sources
 * are refused in required mode; and with PROXY on the control channel only, a SNAT'd data
 * connection is refused unless passive.requireSameAddress is off (the documented trade-off).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { encodeProxyV1, encodeProxyV2, type ProxyHeader } from '../../src/protocol/proxy-header.js';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';
import { seedFile } from '../helpers/storage.js';

function header(source: string, sourcePort: number, destinationPort: number): ProxyHeader {
  return { version: 2, command: 'PROXY', family: 'tcp4', source: { address: source, port: sourcePort }, destination: { address: '192.0.2.1', port: destinationPort } };
}

/** Connects to `port` and sends a PROXY header first, as a balancer would. */
async function connectVia(port: number, proxy: Buffer): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(proxy);
  return socket;
}

async function proxiedClient(port: number, source: string): Promise<RawClient> {
  const client = await RawClient.connect(port);
  client.write(encodeProxyV2(header(source, 40000, 21)));
  return client;
}

describe('PROXY protocol', () => {
  it('takes the client address from the header on control and data connections', async () => {
    const t = await startTestServer({
      config: { proxy: { control: 'required', passive: 'required', trustedCidrs: ['127.0.0.0/8'], headerTimeoutMs: 1000 }, limits: { maxSessionsPerAddress: 1 } },
    });
    try {
      await seedFile(t.storage, '/f.txt', 'via the balancer');
      const client = await proxiedClient(t.port, '203.0.113.9');
      await client.login(t.user, t.password);
      const stat = await client.send('STAT');
      assert.match(stat.text, /from 203\.0\.113\.9/);
      assert.ok(t.logs.some((r) => r.event === 'session.open' && r.remote === '203.0.113.9' && r.via === '127.0.0.1'));

      // A data connection whose header names another client is refused; the real one works.
      const epsv = await client.send('EPSV');
      const dataPort = Number(/\|\|\|(\d+)\|/.exec(epsv.text)?.[1]);
      const thief = await connectVia(dataPort, encodeProxyV1({ ...header('198.51.100.66', 5555, dataPort), version: 1 }));
      await new Promise((resolve) => thief.once('close', resolve));
      const data = await connectVia(dataPort, encodeProxyV2(header('203.0.113.9', 40001, dataPort)));
      assert.equal((await client.send('RETR f.txt')).code, 150);
      assert.equal((await readAll(data)).toString(), 'via the balancer');
      assert.equal((await client.read()).code, 226);
      assert.ok(t.logs.some((r) => r.event === 'passive.foreign-peer' && r.peer === '198.51.100.66'));

      // Limits count real clients: a second session from the same real address is refused,
      // one from another real address through the same balancer is not.
      const second = await proxiedClient(t.port, '203.0.113.9');
      assert.equal((await second.read()).code, 421);
      const other = await proxiedClient(t.port, '203.0.113.10');
      assert.equal((await other.read()).code, 220);
      for (const c of [client, second, other]) c.close();
    } finally {
      await t.close();
    }
  });

  it('refuses connections without a header, or from an untrusted source, in required mode', async () => {
    const t = await startTestServer({ config: { proxy: { control: 'required', trustedCidrs: ['10.0.0.0/8'], headerTimeoutMs: 300 } } });
    try {
      const untrusted = await proxiedClient(t.port, '203.0.113.9');
      await new Promise((resolve) => untrusted.socket.once('close', resolve));
      assert.ok(t.logs.some((r) => r.event === 'proxy.refused' && r.reason === 'untrusted'));
      const metrics = await t.server.metrics.registry.getSingleMetricAsString('kftpd_proxy_protocol_errors_total');
      assert.match(metrics, /listener="control",reason="untrusted"} 1/);
    } finally {
      await t.close();
    }
  });

  it('with PROXY on the control channel only, a data connection from the balancer address is refused unless requireSameAddress is off', async () => {
    for (const requireSameAddress of [true, false]) {
      const t = await startTestServer({
        config: { proxy: { control: 'required', trustedCidrs: ['127.0.0.0/8'] }, passive: { requireSameAddress, acceptTimeoutMs: 800 } },
      });
      try {
        await seedFile(t.storage, '/f.txt', 'x');
        const client = await proxiedClient(t.port, '203.0.113.9');
        await client.login(t.user, t.password);
        const data = await client.openPassiveData(); // arrives from 127.0.0.1, the "balancer"
        const opening = await client.send('RETR f.txt');
        assert.equal(opening.code, 150);
        const final = await client.read(3000);
        assert.equal(final.code, requireSameAddress ? 425 : 226, final.text);
        data.destroy();
        client.close();
      } finally {
        await t.close();
      }
    }
  });
});
