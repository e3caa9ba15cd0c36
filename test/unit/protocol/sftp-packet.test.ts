/**
 * @module test/unit/sftp-packet.test
 * The pure SFTP v3 layer: framing (size cap, split input), request parsing (every type the
 * server answers, SYMLINK in OpenSSH's argument order), reply encoding, and a fast-check fuzz
 * of the parser and the framer: arbitrary bytes never throw and never read past a packet.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeStatvfs, parseExtended, STATVFS_FLAG } from '../../../src/protocol/sftp-extended.js';
import { SftpFramer } from '../../../src/protocol/sftp-framer.js';
import { FXP, FX, SftpReader, SftpWriter, encodeData, encodeStatus, encodeName, modeString, parseRequest, type SftpPacket, type SftpRequest } from '../../../src/protocol/sftp-packet.js';

function packet(type: number, build: (w: SftpWriter) => void, id?: number): Buffer {
  const w = new SftpWriter(type, id);
  build(w);
  return w.finish();
}

/** A framed packet as one Buffer, whether the framer returned a view or the views of several chunks. */
function joined(packet: SftpPacket): Buffer {
  return Buffer.isBuffer(packet) ? packet : Buffer.concat(packet);
}

/** A WRITE's payload as one Buffer. */
function payload(request: SftpRequest): Buffer {
  assert.equal(request.type, 'write');
  return Buffer.concat(request.type === 'write' ? request.data : []);
}

describe('SFTP framing', () => {
  it('splits a stream into packets whatever the chunking', () => {
    const a = packet(FXP.STAT, (w) => w.string('/a'), 1);
    const b = packet(FXP.OPENDIR, (w) => w.string('/dir with space'), 2);
    const stream = Buffer.concat([a, b]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const framer = new SftpFramer(1024);
      const out = [...framer.push(stream.subarray(0, cut)), ...framer.push(stream.subarray(cut))];
      assert.deepEqual(out.map((p) => parseRequest(p).type), ['stat', 'opendir']);
      assert.equal(framer.buffered, 0);
    }
  });

  it('parses a 255 KiB WRITE sent in SSH-sized pieces (32 KiB, the length prefix split too) byte-exact, its payload as views of the pieces', () => {
    const data = Buffer.alloc(255 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    const write = packet(FXP.WRITE, (w) => w.string('h').uint64(0).string(data), 5);
    const stream = Buffer.concat([write, packet(FXP.CLOSE, (w) => w.string('h'), 6)]);
    const framer = new SftpFramer(300 * 1024);
    const pieces = [stream.subarray(0, 2), stream.subarray(2, 3)];
    for (let at = 3; at < stream.length; at += 32 * 1024) pieces.push(stream.subarray(at, Math.min(stream.length, at + 32 * 1024)));
    const out = pieces.flatMap((piece) => framer.push(piece));
    assert.equal(out.length, 2);
    const parsed = parseRequest(out[0] as SftpPacket);
    assert.ok(parsed.type === 'write' && parsed.id === 5 && parsed.data.length > 1);
    assert.ok(payload(parsed).equals(data));
    // No copy: every piece of the payload is a view of the stream the pieces were cut from.
    for (const view of parsed.data) assert.equal(view.buffer, stream.buffer);
    assert.equal(parseRequest(out[1] as SftpPacket).type, 'close');
    assert.equal(framer.buffered, 0);
  });

  it('a WRITE cut anywhere (inside the header too) parses as the whole one; a short or odd one as the whole one does', () => {
    const cases = [
      packet(FXP.WRITE, (w) => w.string('handle-1').uint64(2 ** 40).string('payload bytes'), 11),
      packet(FXP.WRITE, (w) => w.string('h').uint64(0).string(''), 12),
      // data length beyond the packet: malformed either way
      packet(FXP.WRITE, (w) => w.string('h').uint64(0).uint32(99).byte(0x61).byte(0x62).byte(0x63), 13),
      // offset beyond 2^53: malformed either way
      packet(FXP.WRITE, (w) => w.string('h').uint64(2 ** 53 + 2).string('x'), 14),
      // a handle longer than any server hands out: parsed joined
      packet(FXP.WRITE, (w) => w.string(Buffer.alloc(300, 1)).uint64(5).string('x'), 15),
    ].map((p) => p.subarray(4));
    for (const body of cases) {
      const whole = parseRequest(body);
      for (let cut = 1; cut < body.length; cut++) {
        for (const second of [cut + 1, body.length]) {
          const split = parseRequest([body.subarray(0, cut), body.subarray(cut, second), body.subarray(second)].filter((b) => b.length > 0));
          assert.equal(split.type, whole.type, `cut at ${cut}/${second}`);
          if (whole.type === 'write' && split.type === 'write') {
            assert.equal(split.id, whole.id);
            assert.equal(split.offset, whole.offset);
            assert.ok(split.handle.equals(whole.handle));
            assert.ok(payload(split).equals(payload(whole)));
          } else {
            assert.deepEqual(split, whole);
          }
        }
      }
    }
  });

  it('refuses a packet over the cap and a zero length before buffering it', () => {
    const framer = new SftpFramer(100);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(101);
    assert.throws(() => framer.push(head), RangeError);
    assert.throws(() => new SftpFramer(100).push(Buffer.alloc(4)), RangeError);
  });
});

describe('SFTP requests', () => {
  it('parses open, read, write with 64-bit offsets beyond 4 GiB', () => {
    const big = 5 * 1024 ** 3 + 7;
    const open = parseRequest(packet(FXP.OPEN, (w) => w.string('/f').uint32(0x1a).attrs({ size: 3, mtime: 9, atime: 8 }), 7).subarray(4));
    assert.equal(open.type, 'open');
    assert.ok(open.type === 'open' && open.flags === 0x1a && open.attrs.size === 3 && open.attrs.mtime === 9 && open.id === 7);
    const read = parseRequest(packet(FXP.READ, (w) => w.string(Buffer.from([1, 2])).uint64(big).uint32(32768), 8).subarray(4));
    assert.ok(read.type === 'read' && read.offset === big && read.length === 32768);
    const write = parseRequest(packet(FXP.WRITE, (w) => w.string('h').uint64(big).string(Buffer.from('data')), 9).subarray(4));
    assert.ok(write.type === 'write' && write.offset === big && payload(write).toString() === 'data');
  });

  it('keeps path bytes exact (not UTF-8 is not rewritten)', () => {
    const raw = Buffer.from([0x2f, 0xff, 0xfe, 0x61]);
    const stat = parseRequest(packet(FXP.STAT, (w) => w.string(raw), 1).subarray(4));
    assert.ok(stat.type === 'stat' && stat.path.equals(raw));
  });

  it("reads SYMLINK as OpenSSH sends it: (target, link)", () => {
    const req = parseRequest(packet(FXP.SYMLINK, (w) => w.string('target').string('link'), 3).subarray(4));
    assert.ok(req.type === 'symlink' && req.to.toString() === 'target' && req.from.toString() === 'link');
  });

  it('reports truncated bodies as malformed with the id, unknown types as unknown', () => {
    const truncated = packet(FXP.RENAME, (w) => w.string('/a'), 5).subarray(4);
    assert.deepEqual(parseRequest(truncated), { type: 'malformed', id: 5, packetType: FXP.RENAME });
    assert.deepEqual(parseRequest(packet(99, () => undefined, 6).subarray(4)), { type: 'unknown', id: 6, packetType: 99 });
    assert.deepEqual(parseRequest(Buffer.alloc(0)), { type: 'malformed', id: null, packetType: -1 });
  });

  it('parses the extensions it advertises', () => {
    const body = new SftpWriter(0).string('/a').string('/b').finish().subarray(5);
    assert.deepEqual(parseExtended('posix-rename@openssh.com', body), { type: 'posix-rename', from: Buffer.from('/a'), to: Buffer.from('/b') });
    assert.equal(parseExtended('limits@openssh.com', Buffer.alloc(0)).type, 'limits');
    assert.equal(parseExtended('posix-rename@openssh.com', Buffer.alloc(2)).type, 'malformed');
    const path = new SftpWriter(0).string('/p').finish().subarray(5);
    assert.deepEqual(parseExtended('statvfs@openssh.com', path), { type: 'statvfs', path: Buffer.from('/p') });
    assert.deepEqual(parseExtended('fstatvfs@openssh.com', path), { type: 'fstatvfs', handle: Buffer.from('/p') });
    assert.deepEqual(parseExtended('hardlink@openssh.com', body), { type: 'hardlink', from: Buffer.from('/a'), to: Buffer.from('/b') });
    assert.equal(parseExtended('statvfs@openssh.com', Buffer.alloc(0)).type, 'malformed');
    assert.equal(parseExtended('copy-data', Buffer.alloc(0)).type, 'unknown');
  });

  it('encodes the statvfs reply as eleven uint64s in PROTOCOL §4.4 order', () => {
    const reply = encodeStatvfs(7, { bsize: 4096, frsize: 4096, blocks: 2 ** 40, bfree: 3, bavail: 2, files: 5, ffree: 4, favail: 4, fsid: 0, flag: STATVFS_FLAG.NOSUID | STATVFS_FLAG.RDONLY, namemax: 255 });
    assert.equal(reply.readUInt32BE(0), 1 + 4 + 11 * 8);
    assert.equal(reply[4], FXP.EXTENDED_REPLY);
    assert.equal(reply.readUInt32BE(5), 7);
    const fields = Array.from({ length: 11 }, (_, i) => Number(reply.readBigUInt64BE(9 + 8 * i)));
    assert.deepEqual(fields, [4096, 4096, 2 ** 40, 3, 2, 5, 4, 4, 0, 3, 255]);
  });
});

describe('SFTP replies', () => {
  it('encodes DATA from pieces exactly as from one buffer', () => {
    const whole = Buffer.from('0123456789abcdef');
    const pieces = [whole.subarray(0, 3), whole.subarray(3, 3), whole.subarray(3, 11), whole.subarray(11)];
    const reply = encodeData(42, pieces);
    assert.ok(reply.equals(encodeData(42, whole)));
    assert.ok(reply.equals(new SftpWriter(FXP.DATA, 42).string(whole).finish()));
  });

  it('encodes a status and a name list a reader can take apart', () => {
    const status = encodeStatus(4, FX.PERMISSION_DENIED, 'Permission denied');
    assert.equal(status.readUInt32BE(0), status.length - 4);
    assert.equal(status[4], FXP.STATUS);
    const r = new SftpReader(status.subarray(5));
    assert.equal(r.uint32(), 4);
    assert.equal(r.uint32(), FX.PERMISSION_DENIED);
    assert.equal(r.string().toString(), 'Permission denied');
    assert.equal(r.string().toString(), 'en');
    assert.equal(r.remaining, 0);
    const name = encodeName(1, [{ filename: 'a b', longname: 'x', attrs: { size: 1, permissions: 0o100644, atime: 1, mtime: 2 } }]);
    assert.equal(name.readUInt32BE(0), name.length - 4);
    assert.equal(modeString(0o040755), 'drwxr-xr-x');
    assert.equal(modeString(0o100600), '-rw-------');
  });
});

describe('SFTP parser fuzz (fast-check)', () => {
  it('never throws on arbitrary packets and echoes the id it could read', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (type, body) => {
        const request = parseRequest(Buffer.concat([Buffer.from([type]), Buffer.from(body)]));
        if (type !== FXP.INIT && body.length >= 4 && request.type !== 'init') {
          assert.equal(request.id, Buffer.from(body).readUInt32BE(0));
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws on mutated valid packets', () => {
    const valid = [
      packet(FXP.OPEN, (w) => w.string('/f').uint32(3).attrs({ size: 1, uid: 1, gid: 2, permissions: 0o644, atime: 1, mtime: 2 }), 1),
      packet(FXP.WRITE, (w) => w.string('h').uint64(10).string('xyz'), 2),
      packet(FXP.SETSTAT, (w) => w.string('/f').uint32(0x80000000).uint32(1).string('a').string('b'), 3),
      packet(FXP.EXTENDED, (w) => w.string('posix-rename@openssh.com').string('/a').string('/b'), 4),
    ].map((p) => p.subarray(4));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(), (which, edits, cut) => {
        const bytes = Buffer.from(valid[which] as Buffer);
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        const request = parseRequest(bytes.subarray(0, Math.max(1, cut % (bytes.length + 1))));
        if (request.type === 'extended') parseExtended(request.name, request.body);
      }),
      { numRuns: 5000 },
    );
  });

  it('framer: any split of any byte stream yields the same packets or the same refusal', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 5 }), (bytes, cuts) => {
        const whole = (() => {
          try {
            return new SftpFramer(64).push(Buffer.from(bytes)).map((p) => joined(p).toString('hex'));
          } catch {
            return 'refused';
          }
        })();
        const framer = new SftpFramer(64);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const out: string[] = [];
        let from = 0;
        try {
          for (const to of [...points, bytes.length]) {
            out.push(...framer.push(Buffer.from(bytes.subarray(from, to))).map((p) => joined(p).toString('hex')));
            from = to;
          }
        } catch {
          assert.equal(whole, 'refused');
          return;
        }
        assert.deepEqual(out, whole);
      }),
      { numRuns: 2000 },
    );
  });
});
