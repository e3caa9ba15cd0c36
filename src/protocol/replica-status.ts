/**
 * @module protocol/replica-status
 * The one line of the STAT reply (RFC 959 §4.1.3, server form, logged-in users only) that says
 * which replica a client is talking to and which passive ports that replica hands out, e.g.
 * "Replica 1 of 3, passive ports 50100-50199 (announced as 60100-60199)". Owns both the
 * format (server) and the parser (`kftpd doctor`), so the two cannot drift apart.
 * It adds no protocol surface: STAT's server form is free text, and every PASV/EPSV reply
 * already discloses ports of the slice to the same user.
 * Pure: no I/O.
 */

export interface ReplicaStatus {
  /** This replica's index (the StatefulSet ordinal), 0-based. */
  readonly index: number;
  readonly replicas: number;
  /** Ports the replica listens on; null when the kernel chooses them (portMin = portMax = 0). */
  readonly ports: { readonly min: number; readonly max: number } | null;
  /** Ports as announced in PASV/EPSV replies (ports + passive.portOffset); equal to ports without an offset. */
  readonly announced: { readonly min: number; readonly max: number } | null;
}

export interface ReplicaStatusInput {
  readonly index: number;
  readonly replicas: number;
  readonly min: number;
  readonly max: number;
  readonly portOffset: number;
}

/** The STAT line; starts with a letter so no multi-line padding applies (RFC 959 §4.2). */
export function formatReplicaStatus(input: ReplicaStatusInput): string {
  const head = `Replica ${input.index} of ${input.replicas}, passive ports`;
  if (input.min === 0 && input.max === 0) return `${head} chosen by the kernel`;
  const range = `${head} ${input.min}-${input.max}`;
  if (input.portOffset === 0) return range;
  return `${range} (announced as ${input.min + input.portOffset}-${input.max + input.portOffset})`;
}

const LINE = /^\s*Replica (\d{1,9}) of (\d{1,9}), passive ports (?:(\d{1,5})-(\d{1,5})(?: \(announced as (\d{1,5})-(\d{1,5})\))?|(chosen by the kernel))\s*$/;

/** Finds and parses the replica line among STAT reply lines; null when there is none. */
export function parseReplicaStatus(lines: readonly string[]): ReplicaStatus | null {
  for (const line of lines) {
    const match = LINE.exec(line);
    if (!match) continue;
    const index = Number(match[1]);
    const replicas = Number(match[2]);
    if (match[7] !== undefined) return { index, replicas, ports: null, announced: null };
    const ports = { min: Number(match[3]), max: Number(match[4]) };
    const announced = match[5] === undefined ? ports : { min: Number(match[5]), max: Number(match[6]) };
    return { index, replicas, ports, announced };
  }
  return null;
}
