/**
 * @module doctor/passive-probe
 * One passive-mode probe of `kftpd doctor --external`: PASV (RFC 959 §4.1.2) or EPSV
 * (RFC 2428 §3), a data connection to the announced port, TLS resumed on it when PROT P
 * (RFC 4217 §9), and LIST to prove the data path end to end; with the findings a failure
 * points to (wrong PASV address, port outside the replica's slice, a balancer that drops data
 * connections). Every wait is bounded by the context's timeoutMs.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { normalizeAddress } from '../protocol/address.js';
import type { ReplicaStatus } from '../protocol/replica-status.js';
import { addressScope } from './address-scope.js';
import { watchData, type DataWatch } from './data-probe.js';
import type { ProbeOutcome, ProbeRecord } from './doctor-types.js';
import { findings, type Finding } from './findings.js';
import { connectTcp, ProbeError, type FtpReply, type ProbeControl } from './ftp-probe-client.js';
import { ownerOfPort, parseEpsvReply, parsePasvReply, replyText } from './passive-reply.js';

/** An open, logged-in control session a probe runs on. */
export interface ProbeSession {
  readonly index: number;
  readonly control: ProbeControl;
  readonly replica: ReplicaStatus | null;
}

/** What a probe needs from the doctor run: its bounds, the TLS options and where results go. */
export interface ProbeContext {
  readonly timeoutMs: number;
  /** After a data connection closed without reaching its session, how long to wait for a reply. */
  readonly settleMs: number;
  tlsOptions(): tls.ConnectionOptions;
  add(finding: Finding): void;
  record(probe: ProbeRecord): void;
}

/**
 * One PASV or EPSV probe on an open session: the passive command, a connection to the announced
 * address (or the dialled one, with a finding, when the announced one fails), TLS resumed on the
 * data connection when PROT P, and a LIST that proves the path end to end. Adds findings and
 * exactly one probe record; closes the control connection when it stopped answering.
 */
export async function probePassive(ctx: ProbeContext, session: ProbeSession, mode: 'PASV' | 'EPSV'): Promise<void> {
  const { control, replica } = session;
  const timeout = ctx.timeoutMs;
  const started = Date.now();
  const base = { session: session.index, replica: replica?.index ?? null, mode } as const;
  const record = (fields: Omit<ProbeRecord, 'session' | 'replica' | 'mode' | 'totalMs'>): void => {
    ctx.record({ ...base, ...fields, totalMs: Date.now() - started });
  };

  let reply: FtpReply;
  try {
    reply = await control.command(mode, timeout);
  } catch {
    ctx.add(findings.probeTimeout(`${mode} on session ${session.index}`, timeout));
    record({ outcome: 'no-reply' });
    control.close();
    return;
  }
  if (reply.code !== (mode === 'PASV' ? 227 : 229)) {
    record({ outcome: 'passive-refused', reply: replyText(reply) });
    return;
  }
  const dialled = normalizeAddress(control.remoteAddress);
  let announcedHost: string | undefined;
  let port: number;
  if (mode === 'PASV') {
    const parsed = parsePasvReply(reply.text);
    if (!parsed) {
      ctx.add(findings.passiveReplyMalformed(mode, replyText(reply)));
      record({ outcome: 'malformed', reply: replyText(reply) });
      return;
    }
    announcedHost = parsed.host;
    port = parsed.port;
  } else {
    const parsed = parseEpsvReply(reply.text);
    if (parsed === null) {
      ctx.add(findings.passiveReplyMalformed(mode, replyText(reply)));
      record({ outcome: 'malformed', reply: replyText(reply) });
      return;
    }
    port = parsed;
  }

  // The port must come from the announcing replica's own slice, else the balancer sends the
  // data connection to another replica (docs/replicas.md: passive slices).
  if (replica?.announced && (port < replica.announced.min || port > replica.announced.max)) {
    ctx.add(findings.portOutsideSlice(port, replica.index, `${replica.announced.min}-${replica.announced.max}`, ownerOfPort(replica, port)));
  }

  // PASV names the data address; EPSV reuses the control connection's (RFC 2428 §3).
  let dataHost = announcedHost ?? dialled;
  const where = (host: string): string => `${host}:${port} (${mode}${replica ? `, replica ${replica.index}` : ''})`;
  if (announcedHost !== undefined && announcedHost === '0.0.0.0') {
    ctx.add(findings.pasvAddressUnspecified(announcedHost));
    dataHost = dialled;
  }
  const connectStarted = Date.now();
  let socket: net.Socket;
  try {
    socket = await connectTcp(dataHost, port, timeout);
    if (announcedHost !== undefined && announcedHost !== '0.0.0.0' && announcedHost !== dialled) addressFinding(ctx, announcedHost, dialled, true);
  } catch (error) {
    const sys = error instanceof ProbeError ? error.sysCode : undefined;
    // A wrong PASV address: is the same port open at the address the doctor dialled?
    if (announcedHost !== undefined && dataHost !== dialled) {
      addressFinding(ctx, announcedHost, dialled, false);
      const retry = await connectTcp(dialled, port, timeout).catch(() => null);
      if (retry) {
        dataHost = dialled;
        socket = retry;
      } else {
        record({ outcome: sys === 'ECONNREFUSED' ? 'refused' : 'unreachable', port, announcedHost, dataHost });
        return;
      }
    } else {
      const outcome = connectFailure(ctx, where(dataHost), sys, error);
      record({ outcome, port, ...(announcedHost === undefined ? {} : { announcedHost }), dataHost });
      return;
    }
  }
  const connectMs = Date.now() - connectStarted;
  const fellBack = announcedHost !== undefined && dataHost !== announcedHost;
  const common = { port, dataHost, connectMs, ...(announcedHost === undefined ? {} : { announcedHost }), ...(fellBack ? { fellBack } : {}) };

  // Start the data-channel TLS handshake at once (as curl does), resuming the control session.
  const session_ = control.session;
  const watch = watchData(socket, {
    timeoutMs: timeout,
    ...(control.protected ? { tls: { ...ctx.tlsOptions(), ...(session_ ? { session: session_ } : {}) } } : {}),
  });
  let first: FtpReply;
  try {
    first = await control.command('LIST', timeout);
  } catch {
    ctx.add(findings.probeTimeout(`LIST on session ${session.index}`, timeout));
    record({ ...common, outcome: 'no-reply' });
    control.close();
    return;
  }
  let final: FtpReply | null = first;
  let data: DataWatch | null = null;
  if (first.code >= 100 && first.code < 200) {
    data = await watch;
    const reachedSession = data.secure || data.bytes > 0;
    // The server's final reply follows the close at once when the connection reached it;
    // when it did not, the server is still waiting for one (up to passive.acceptTimeoutMs).
    final = await control.readReply(reachedSession || data.timedOut ? timeout : ctx.settleMs).catch(() => null);
    if (final === null && !reachedSession && !data.timedOut) {
      record({ ...common, outcome: 'dropped', bytes: data.bytes });
      await abortAfterDrop(ctx, control);
      return;
    }
  } else {
    socket.destroy();
  }
  if (final === null) {
    ctx.add(findings.probeTimeout(`LIST on session ${session.index}`, timeout));
    record({ ...common, outcome: 'no-reply' });
    control.close();
    return;
  }
  const text = replyText(final);
  const fields = { ...common, reply: text, ...(data ? { bytes: data.bytes, tlsResumed: data.resumed } : {}) };
  if (final.code === 226 || final.code === 250) {
    record({ ...fields, outcome: 'ok' });
  } else if (final.code === 522 && /resum|reuse/i.test(final.text)) {
    ctx.add(findings.tlsReuseRefused(text, data?.resumed ?? false));
    record({ ...fields, outcome: 'tls-reuse-refused' });
  } else if (final.code === 522) {
    ctx.add(findings.dataTlsFailed(`${text}${data?.error ? ` (client: ${data.error})` : ''}`));
    record({ ...fields, outcome: 'tls-failed' });
  } else if (final.code === 521) {
    ctx.add(findings.dataProtectionRequired(text));
    record({ ...fields, outcome: 'protection-required' });
  } else if ((final.code === 425 || final.code === 426) && data !== null && !data.secure && data.bytes === 0) {
    // Connected, yet the session never saw the connection: same as a drop.
    record({ ...fields, outcome: 'dropped' });
  } else {
    ctx.add(findings.listFailed(text));
    record({ ...fields, outcome: 'list-failed' });
  }
}

function connectFailure(ctx: ProbeContext, where: string, sys: string | undefined, error: unknown): ProbeOutcome {
  if (sys === 'ECONNREFUSED') {
    ctx.add(findings.dataPortRefused(where));
    return 'refused';
  }
  if (sys === 'ETIMEDOUT') {
    ctx.add(findings.dataPortTimeout(where, ctx.timeoutMs));
    return 'timeout';
  }
  ctx.add(findings.dataHostUnreachable(where, error instanceof Error ? error.message : String(error)));
  return 'unreachable';
}

function addressFinding(ctx: ProbeContext, announced: string, dialled: string, reachable: boolean): void {
  const scope = addressScope(announced);
  const dialledScope = addressScope(dialled);
  if (scope !== null && scope !== 'public' && scope !== dialledScope) ctx.add(findings.pasvAddressPrivate(announced, scope, dialled, reachable));
  else ctx.add(findings.pasvAddressMismatch(announced, dialled, reachable));
}

/** ABOR (RFC 959 §4.1.3) after a data connection that never arrived; the session stays usable or is closed. */
async function abortAfterDrop(ctx: ProbeContext, control: ProbeControl): Promise<void> {
  const timeout = ctx.timeoutMs;
  control.send('ABOR');
  try {
    for (let i = 0; i < 3; i++) {
      const reply = await control.readReply(timeout);
      if (reply.code === 225 || reply.code === 226 || reply.code >= 500) return;
    }
  } catch {
    // fall through
  }
  control.close();
}
