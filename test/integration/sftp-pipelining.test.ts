/**
 * @module test/integration/sftp-pipelining.test
 * Pipelined requests on one SFTP channel (what OpenSSH's client does: up to 64 WRITEs in
 * flight): every request gets its reply, in request order, and the short replies are gathered
 * into a few SSH packets rather than one each (sftp/sftp-channel). Raw SFTP packets over the
 * ssh2 client's subsystem channel, whose 'data' events are one per SSH CHANNEL_DATA packet.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { sha256 } from '../helpers/integration.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { readAll } from '../helpers/storage.js';

const PASSWORD = 'secret-password';
const FXP = { INIT: 1, OPEN: 3, CLOSE: 4, WRITE: 6, STATUS: 101, HANDLE: 102 } as const;
const FXF_WRITE_CREAT_TRUNC = 0x02 | 0x08 | 0x10;

function str(value: Buffer | string): Buffer {
  const data = Buffer.from(value);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(value));
  return b;
}

/** A framed packet: length, type, body. */
function packet(type: number, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat([Buffer.from([type]), ...body]);
  return Buffer.concat([u32(payload.length), payload]);
}

interface RawChannel {
  client: ssh2.Client;
  send(data: Buffer): void;
  /** The next `count` reply packets (without their length), and how many SSH packets carried them. */
  replies(count: number): Promise<{ packets: Buffer[]; sshPackets: number }>;
}

async function rawChannel(port: number): Promise<RawChannel> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.on('ready', () => resolve()).on('error', reject);
    client.connect({ host: '127.0.0.1', port, username: 'alice', password: PASSWORD, readyTimeout: 10_000 });
  });
  const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) => client.subsys('sftp', (e, c) => (e ? reject(e) : resolve(c))));
  let buffered = Buffer.alloc(0);
  let sshPackets = 0;
  const parsed: Buffer[] = [];
  let wake: (() => void) | null = null;
  channel.on('data', (chunk: Buffer) => {
    sshPackets++;
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
      parsed.push(buffered.subarray(4, 4 + buffered.readUInt32BE(0)));
      buffered = buffered.subarray(4 + buffered.readUInt32BE(0));
    }
    wake?.();
  });
  return {
    client,
    send: (data) => channel.write(data),
    async replies(count) {
      const before = sshPackets;
      while (parsed.length < count) await new Promise<void>((resolve) => (wake = resolve));
      return { packets: parsed.splice(0, count), sshPackets: sshPackets - before };
    },
  };
}

describe('SFTP pipelined requests', () => {
  let t: TestServer;
  let port: number;

  before(async () => {
    t = await startTestServer({ config: { sftp: { enabled: true, port: 0 } }, users: [{ name: 'alice', password: PASSWORD }] });
    port = t.server.sftpAddress()?.port ?? 0;
    assert.ok(port > 0);
  });

  after(async () => {
    await t?.close();
  });

  it('64 WRITEs sent at once: 64 OK statuses in request order, in a few SSH packets; the file is intact (sha256)', async () => {
    const raw = await rawChannel(port);
    try {
      raw.send(packet(FXP.INIT, u32(3)));
      await raw.replies(1);
      raw.send(packet(FXP.OPEN, u32(1), str('piped.bin'), u32(FXF_WRITE_CREAT_TRUNC), u32(0)));
      const [opened] = (await raw.replies(1)).packets;
      assert.equal(opened?.[0], FXP.HANDLE);
      const handle = opened.subarray(9, 9 + opened.readUInt32BE(5));
      const piece = 1000;
      const data = Buffer.alloc(64 * piece);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      const writes: Buffer[] = [];
      for (let n = 0; n < 64; n++) writes.push(packet(FXP.WRITE, u32(100 + n), str(handle), u64(n * piece), str(data.subarray(n * piece, (n + 1) * piece))));
      raw.send(Buffer.concat(writes));
      const { packets, sshPackets } = await raw.replies(64);
      assert.deepEqual(
        packets.map((p) => [p[0], p.readUInt32BE(1), p.readUInt32BE(5)]),
        Array.from({ length: 64 }, (_, n) => [FXP.STATUS, 100 + n, 0]),
      );
      // One SSH packet per status before replies were gathered; 16 at most per gathering now.
      assert.ok(sshPackets <= 8, `64 statuses came in ${sshPackets} SSH packets`);
      raw.send(packet(FXP.CLOSE, u32(200), str(handle)));
      const [closed] = (await raw.replies(1)).packets;
      assert.deepEqual([closed?.[0], closed?.readUInt32BE(1), closed?.readUInt32BE(5)], [FXP.STATUS, 200, 0]);
      assert.equal(sha256(await readAll(t.storage, '/piped.bin')), sha256(data));
    } finally {
      raw.client.end();
    }
  });
});
