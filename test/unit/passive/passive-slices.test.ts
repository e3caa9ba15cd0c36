import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_MIN_SLICE_SIZE,
  PassiveSliceError,
  computePassiveSlice,
  replicaIndexFromHostname,
  resolveReplicaIndex,
  sliceTable,
} from '../../../src/core/passive-slices.js';

/** assert.throws matcher: a PassiveSliceError whose message matches `pattern`. */
function sliceError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof PassiveSliceError, `expected PassiveSliceError, got ${String(error)}`);
    assert.equal(error.code, 'KFTPD_PASSIVE_SLICE_INVALID');
    assert.match(error.message, pattern);
    return true;
  };
}

describe('replicaIndexFromHostname', () => {
  const cases: [string, number | null][] = [
    ['kftpd-0', 0],
    ['kftpd-2', 2],
    ['my-ftp-10', 10],
    ['KFTPD-3', 3],
    ['kftpd-2.kftpd.default.svc.cluster.local', 2],
    ['a-1', 1],
    ['kftpd', null],
    ['kftpd-x', null],
    ['kftpd-02', null],
    ['kftpd-00', null],
    ['kftpd-', null],
    ['-2', null],
    ['2', null],
    ['kftpd--2', null],
    ['kftpd-2x', null],
    ['kftpd_2', null],
    ['', null],
    ['kftpd-1234567890', null],
  ];
  for (const [hostname, expected] of cases) {
    it(`${JSON.stringify(hostname)} -> ${String(expected)}`, () => assert.equal(replicaIndexFromHostname(hostname), expected));
  }
});

describe('computePassiveSlice', () => {
  it('splits 50000-50299 over 3 replicas into 100-port slices', () => {
    const expected = [
      { min: 50000, max: 50099, size: 100 },
      { min: 50100, max: 50199, size: 100 },
      { min: 50200, max: 50299, size: 100 },
    ];
    for (const [index, slice] of expected.entries()) {
      assert.deepEqual(computePassiveSlice({ portMin: 50000, portMax: 50299, replicas: 3, index }), slice);
    }
  });

  it('gives one replica the whole range', () => {
    assert.deepEqual(computePassiveSlice({ portMin: 50000, portMax: 50100, replicas: 1, index: 0 }), { min: 50000, max: 50100, size: 101 });
  });

  it('leaves the remainder at the top of the range unused', () => {
    // 50000-50100 is 101 ports: 3 x 33 = 99, ports 50099 and 50100 belong to nobody.
    const last = computePassiveSlice({ portMin: 50000, portMax: 50100, replicas: 3, index: 2 });
    assert.deepEqual(last, { min: 50066, max: 50098, size: 33 });
  });

  it('passes kernel-chosen ports through for a single replica', () => {
    assert.deepEqual(computePassiveSlice({ portMin: 0, portMax: 0, replicas: 1, index: 0 }), {
      min: 0,
      max: 0,
      size: Number.POSITIVE_INFINITY,
    });
  });

  it('is disjoint, equal-sized and covering for many shapes', () => {
    for (const [portMin, portMax] of [[50000, 50299], [1024, 1030], [60000, 65535], [40000, 40001]] as const) {
      const total = portMax - portMin + 1;
      for (let replicas = 1; replicas <= Math.floor(total / DEFAULT_MIN_SLICE_SIZE) && replicas <= 50; replicas++) {
        const size = Math.floor(total / replicas);
        let next = portMin;
        for (let index = 0; index < replicas; index++) {
          const slice = computePassiveSlice({ portMin, portMax, replicas, index });
          assert.equal(slice.min, next, `contiguous at ${portMin}-${portMax}/${replicas}#${index}`);
          assert.equal(slice.size, size);
          assert.equal(slice.max - slice.min + 1, size);
          next = slice.max + 1;
        }
        // Only the remainder is left over.
        assert.equal(portMax + 1 - next, total % replicas);
      }
    }
  });

  it('rejects replicas < 1', () => {
    assert.throws(() => computePassiveSlice({ portMin: 50000, portMax: 50100, replicas: 0, index: 0 }), sliceError(/passive\.replicas must be an integer >= 1, got 0/));
    assert.throws(() => computePassiveSlice({ portMin: 50000, portMax: 50100, replicas: 1.5, index: 0 }), sliceError(/passive\.replicas/));
  });

  it('rejects an index out of range', () => {
    assert.throws(
      () => computePassiveSlice({ portMin: 50000, portMax: 50299, replicas: 3, index: 3 }),
      sliceError(/replica index 3 is out of range for passive\.replicas 3 \(valid: 0-2\)/),
    );
    assert.throws(() => computePassiveSlice({ portMin: 50000, portMax: 50299, replicas: 3, index: -1 }), sliceError(/replica index -1/));
  });

  it('rejects slices smaller than minSize', () => {
    assert.throws(
      () => computePassiveSlice({ portMin: 50000, portMax: 50009, replicas: 6, index: 0 }),
      sliceError(/passive port range 50000-50009 \(10 ports\) split over 6 replicas gives 1 port\(s\) per replica; at least 2 are needed: widen .* to at least 12 ports/),
    );
    assert.throws(
      () => computePassiveSlice({ portMin: 50000, portMax: 50099, replicas: 3, index: 0, minSize: 50 }),
      sliceError(/gives 33 port\(s\) per replica; at least 50/),
    );
    assert.deepEqual(computePassiveSlice({ portMin: 50000, portMax: 50009, replicas: 10, index: 9, minSize: 1 }), { min: 50009, max: 50009, size: 1 });
  });

  it('rejects kernel-chosen ports with several replicas', () => {
    assert.throws(
      () => computePassiveSlice({ portMin: 0, portMax: 0, replicas: 2, index: 0 }),
      sliceError(/portMin\/portMax are 0 \(kernel-chosen ports\) but passive\.replicas is 2/),
    );
  });

  it('rejects malformed ranges', () => {
    assert.throws(() => computePassiveSlice({ portMin: 0, portMax: 50000, replicas: 1, index: 0 }), sliceError(/both be 0/));
    assert.throws(() => computePassiveSlice({ portMin: 50100, portMax: 50000, replicas: 1, index: 0 }), sliceError(/portMin \(50100\) must be <= passive\.portMax \(50000\)/));
    assert.throws(() => computePassiveSlice({ portMin: 50000, portMax: 70000, replicas: 1, index: 0 }), sliceError(/ports 0-65535/));
  });
});

describe('sliceTable', () => {
  it('lists every slice in order', () => {
    assert.deepEqual(sliceTable({ portMin: 50000, portMax: 50299, replicas: 3 }), [
      { index: 0, min: 50000, max: 50099 },
      { index: 1, min: 50100, max: 50199 },
      { index: 2, min: 50200, max: 50299 },
    ]);
  });

  it('throws the same errors as computePassiveSlice', () => {
    assert.throws(() => sliceTable({ portMin: 0, portMax: 0, replicas: 3 }), sliceError(/kernel-chosen/));
    assert.throws(() => sliceTable({ portMin: 50000, portMax: 50003, replicas: 3 }), sliceError(/gives 1 port/));
  });
});

describe('resolveReplicaIndex', () => {
  it('prefers the configured index over the hostname', () => {
    assert.equal(resolveReplicaIndex({ configured: 1, hostname: 'kftpd-2', replicas: 3 }), 1);
    assert.equal(resolveReplicaIndex({ configured: 0, hostname: 'whatever', replicas: 3 }), 0);
  });

  it('takes the StatefulSet ordinal when the index is auto (-1)', () => {
    assert.equal(resolveReplicaIndex({ configured: -1, hostname: 'kftpd-2', replicas: 3 }), 2);
    assert.equal(resolveReplicaIndex({ configured: -1, hostname: 'kftpd-0.kftpd.ns.svc.cluster.local', replicas: 3 }), 0);
  });

  it('uses 0 for a single replica whatever the hostname', () => {
    assert.equal(resolveReplicaIndex({ configured: -1, hostname: 'laptop', replicas: 1 }), 0);
    assert.equal(resolveReplicaIndex({ configured: -1, hostname: 'ftp-1', replicas: 1 }), 0);
  });

  it('asks for passive.replicaIndex when the hostname has no ordinal', () => {
    assert.throws(
      () => resolveReplicaIndex({ configured: -1, hostname: 'laptop', replicas: 3 }),
      sliceError(/hostname "laptop" does not end in a StatefulSet ordinal.*set passive\.replicaIndex, or run as a StatefulSet pod/),
    );
  });

  it('rejects an ordinal beyond passive.replicas', () => {
    assert.throws(
      () => resolveReplicaIndex({ configured: -1, hostname: 'kftpd-3', replicas: 3 }),
      sliceError(/"kftpd-3" is replica 3, but passive\.replicas is 3.*set passive\.replicas to the StatefulSet's replica count/),
    );
  });

  it('rejects a configured index out of range or malformed', () => {
    assert.throws(() => resolveReplicaIndex({ configured: 3, hostname: 'kftpd-0', replicas: 3 }), sliceError(/passive\.replicaIndex 3 is out of range/));
    assert.throws(() => resolveReplicaIndex({ configured: -2, hostname: 'kftpd-0', replicas: 3 }), sliceError(/-1 \(auto\) or an integer >= 0/));
    assert.throws(() => resolveReplicaIndex({ configured: -1, hostname: 'kftpd-0', replicas: 0 }), sliceError(/passive\.replicas must be/));
  });
});
