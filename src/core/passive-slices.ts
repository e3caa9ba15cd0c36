/**
 * @module core/passive-slices
 * Splits the passive port range among the replicas of a StatefulSet so that every replica
 * owns a disjoint slice: an L4 load balancer can then route a data connection to the replica
 * that advertised its port by port number alone. Owns the slice arithmetic, the replica index
 * taken from a pod name, and the errors an operator sees when the split cannot work.
 * Pure: no I/O, no sockets, no reading of os.hostname() or the environment (the caller passes
 * the hostname in), no logging. It lives in core/ because config validation, the deploy
 * generators and the runtime all need the same arithmetic.
 */

export type PassiveSliceErrorCode = 'KFTPD_PASSIVE_SLICE_INVALID';

/** A passive range/replica setting that cannot produce a usable, disjoint slice. */
export class PassiveSliceError extends Error {
  readonly code: PassiveSliceErrorCode = 'KFTPD_PASSIVE_SLICE_INVALID';

  constructor(message: string) {
    super(message);
    this.name = 'PassiveSliceError';
  }
}

export interface PassiveSlice {
  /** First port of the slice; 0 (with max 0) when the kernel chooses ports. */
  readonly min: number;
  /** Last port of the slice (inclusive). */
  readonly max: number;
  /** Number of ports; Infinity for kernel-chosen ports (as PassivePortPool.size reports). */
  readonly size: number;
}

export interface SliceRangeOptions {
  readonly portMin: number;
  readonly portMax: number;
  readonly replicas: number;
  /** Smallest acceptable slice; default DEFAULT_MIN_SLICE_SIZE. */
  readonly minSize?: number;
}

export interface SliceOptions extends SliceRangeOptions {
  readonly index: number;
}

/**
 * A replica with a single passive port can run only one passive transfer at a time, and a
 * client that opens a second PASV before using the first gets "range exhausted": two is the
 * least that behaves like a server rather than a lock.
 */
export const DEFAULT_MIN_SLICE_SIZE = 2;

/**
 * Pod names of a StatefulSet are "<statefulset name>-<ordinal>", the ordinal written in plain
 * decimal. A fully qualified name ("kftpd-2.kftpd.ns.svc.cluster.local") is reduced to its
 * first label, which is the pod name. The name part must be a DNS label (letters, digits,
 * inner hyphens), so "-2" and "kftpd--2" give null.
 */
const POD_NAME = /^([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])-(0|[1-9][0-9]{0,8})$/i;

/**
 * The StatefulSet ordinal at the end of a pod hostname: "kftpd-2" -> 2, "my-ftp-10" -> 10.
 * null when there is none ("kftpd", "kftpd-x"), or when the number has leading zeros
 * ("kftpd-02"): StatefulSets never write ordinals that way, so such a name is not a pod name
 * and guessing an index from it could silently make two replicas share ports.
 */
export function replicaIndexFromHostname(hostname: string): number | null {
  const label = hostname.trim().split('.')[0] ?? '';
  const match = POD_NAME.exec(label);
  if (!match || match[2] === undefined) return null;
  return Number(match[2]);
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 65535;
}

function describeRange(portMin: number, portMax: number): string {
  return `passive port range ${portMin}-${portMax} (${portMax - portMin + 1} ports)`;
}

/** Checks the parts shared by computePassiveSlice and sliceTable; returns the minimum slice size. */
function checkRange(options: SliceRangeOptions): number {
  const { portMin, portMax, replicas } = options;
  const minSize = options.minSize ?? DEFAULT_MIN_SLICE_SIZE;
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new PassiveSliceError(`passive.replicas must be an integer >= 1, got ${String(replicas)}`);
  }
  if (!Number.isInteger(minSize) || minSize < 1) {
    throw new PassiveSliceError(`minimum slice size must be an integer >= 1, got ${String(minSize)}`);
  }
  if (!isPort(portMin) || !isPort(portMax)) {
    throw new PassiveSliceError(`passive.portMin and passive.portMax must be ports 0-65535, got ${String(portMin)}-${String(portMax)}`);
  }
  if ((portMin === 0) !== (portMax === 0)) {
    throw new PassiveSliceError('passive.portMin and passive.portMax must both be 0 (kernel-chosen ports) or both be set');
  }
  if (portMin === 0) {
    if (replicas > 1) {
      // Kernel-chosen ports are unpredictable, so no balancer rule can map them to a replica.
      throw new PassiveSliceError(
        `passive.portMin/portMax are 0 (kernel-chosen ports) but passive.replicas is ${replicas}: ` +
          'replicas behind one load balancer need a fixed passive port range to split among them',
      );
    }
    return minSize;
  }
  if (portMin > portMax) {
    throw new PassiveSliceError(`passive.portMin (${portMin}) must be <= passive.portMax (${portMax})`);
  }
  const size = Math.floor((portMax - portMin + 1) / replicas);
  if (size < minSize) {
    throw new PassiveSliceError(
      `${describeRange(portMin, portMax)} split over ${replicas} replicas gives ${size} port(s) per replica; ` +
        `at least ${minSize} are needed: widen passive.portMin..portMax to at least ${minSize * replicas} ports or lower passive.replicas`,
    );
  }
  return minSize;
}

function checkIndex(index: number, replicas: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= replicas) {
    throw new PassiveSliceError(
      `replica index ${String(index)} is out of range for passive.replicas ${replicas} (valid: 0-${replicas - 1}); ` +
        'passive.replicas must equal the StatefulSet\'s replica count',
    );
  }
}

function slice(portMin: number, portMax: number, replicas: number, index: number): PassiveSlice {
  if (portMin === 0) return { min: 0, max: 0, size: Number.POSITIVE_INFINITY };
  // Equal sizes keep every replica's capacity the same; the remainder (fewer than `replicas`
  // ports at the top of the range) is left unused rather than given to the last replica, so
  // a slice's bounds depend only on (range, replicas, index) and a table is easy to read.
  const size = Math.floor((portMax - portMin + 1) / replicas);
  const min = portMin + index * size;
  return { min, max: min + size - 1, size };
}

/**
 * Slice `index` of the passive range split into `replicas` equal, disjoint, contiguous slices
 * of floor(total / replicas) ports. The (total mod replicas) ports at the top of the range
 * belong to no replica and are never used. With portMin = portMax = 0 (kernel-chosen ports,
 * one replica only) the result is { min: 0, max: 0, size: Infinity }, which PassivePortPool
 * takes as-is. Throws PassiveSliceError when the split is impossible or too small.
 */
export function computePassiveSlice(options: SliceOptions): PassiveSlice {
  checkRange(options);
  checkIndex(options.index, options.replicas);
  return slice(options.portMin, options.portMax, options.replicas, options.index);
}

export interface ReplicaIndexOptions {
  /** passive.replicaIndex; -1 = derive from the hostname. */
  readonly configured: number;
  readonly hostname: string;
  readonly replicas: number;
}

/**
 * The replica index this process uses: a configured index (>= 0) wins; otherwise the
 * StatefulSet ordinal of the hostname; otherwise 0 when there is a single replica. Throws
 * PassiveSliceError when the index is out of range or cannot be determined.
 *
 * With one replica the hostname is not consulted: that replica owns the whole range anyway,
 * and plain hosts are often named like pods ("ftp-1"), which must not stop a quick start.
 */
export function resolveReplicaIndex(options: ReplicaIndexOptions): number {
  const { configured, hostname, replicas } = options;
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new PassiveSliceError(`passive.replicas must be an integer >= 1, got ${String(replicas)}`);
  }
  if (!Number.isInteger(configured) || configured < -1) {
    throw new PassiveSliceError(`passive.replicaIndex must be -1 (auto) or an integer >= 0, got ${String(configured)}`);
  }
  if (configured >= 0) {
    if (configured >= replicas) {
      throw new PassiveSliceError(
        `passive.replicaIndex ${configured} is out of range for passive.replicas ${replicas} (valid: 0-${replicas - 1})`,
      );
    }
    return configured;
  }
  if (replicas === 1) return 0;
  const fromHostname = replicaIndexFromHostname(hostname);
  if (fromHostname === null) {
    throw new PassiveSliceError(
      `cannot tell which of the ${replicas} replicas this is: hostname "${hostname}" does not end in a StatefulSet ordinal ("<name>-N"); ` +
        'set passive.replicaIndex, or run as a StatefulSet pod',
    );
  }
  if (fromHostname >= replicas) {
    // Typically the StatefulSet was scaled up without raising passive.replicas: this pod's
    // slice would not exist, and guessing one would overlap another replica's ports.
    throw new PassiveSliceError(
      `hostname "${hostname}" is replica ${fromHostname}, but passive.replicas is ${replicas} (valid: 0-${replicas - 1}); ` +
        'set passive.replicas to the StatefulSet\'s replica count',
    );
  }
  return fromHostname;
}

export interface SliceTableRow {
  readonly index: number;
  readonly min: number;
  readonly max: number;
}

/** Every replica's slice, in index order (for docs, balancer-rule and manifest generators). */
export function sliceTable(options: SliceRangeOptions): SliceTableRow[] {
  checkRange(options);
  const rows: SliceTableRow[] = [];
  for (let index = 0; index < options.replicas; index++) {
    const { min, max } = slice(options.portMin, options.portMax, options.replicas, index);
    rows.push({ index, min, max });
  }
  return rows;
}
