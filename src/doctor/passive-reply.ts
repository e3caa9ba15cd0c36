/**
 * @module doctor/passive-reply
 * Reading the replies of a passive probe: the address in a 227 (PASV) reply, the port in a
 * 229 (EPSV) reply, and which replica's passive slice owns an announced port. Pure.
 */
import type { ReplicaStatus } from '../protocol/replica-status.js';
import type { FtpReply } from './ftp-probe-client.js';

/** A reply as one line of text for findings and records ("227 Entering Passive Mode ..."). */
export function replyText(reply: FtpReply): string {
  return `${reply.code} ${reply.text}`.trim();
}

/** 227 reply text "(h1,h2,h3,h4,p1,p2)" (RFC 959 §4.1.2; the parentheses are customary, not required). */
export function parsePasvReply(text: string): { host: string; port: number } | null {
  const match = /(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})/.exec(text);
  if (!match) return null;
  const n = match.slice(1).map(Number);
  if (n.some((v) => v > 255)) return null;
  return { host: n.slice(0, 4).join('.'), port: (n[4] as number) * 256 + (n[5] as number) };
}

/** 229 reply text "(|||port|)" (RFC 2428 §3: any delimiter, the address fields empty). */
export function parseEpsvReply(text: string): number | null {
  const match = /\((.)\1\1(\d{1,5})\1\)/.exec(text);
  if (!match) return null;
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? port : null;
}

/** Which replica owns an announced port, from one replica's own slice (equal, contiguous slices). */
export function ownerOfPort(status: ReplicaStatus, port: number): number | null {
  const range = status.announced;
  if (!range) return null;
  const size = range.max - range.min + 1;
  const first = range.min - status.index * size;
  const owner = Math.floor((port - first) / size);
  return owner >= 0 && owner < status.replicas ? owner : null;
}
