/**
 * @module doctor/diagnose
 * The check sequence of `kftpd doctor --external HOST:PORT`, from a client's point of view:
 * open a few control connections through the balancer (so a round-robin balancer spreads them
 * over the replicas), read the greeting, AUTH TLS (RFC 4217 §4) or implicit TLS, log in,
 * PBSZ 0 / PROT P (RFC 4217 §9), ask STAT which replica answered and which passive slice it
 * owns, then run PASV (RFC 959 §4.1.2) and EPSV (RFC 2428 §3) probes: connect to the announced
 * address, TLS-resume the control session on the data connection when PROT P, and LIST to prove
 * the data path end to end. Returns findings (./findings.ts), never throws for a network
 * problem; every wait is bounded by `timeoutMs`.
 */
import { isIP } from 'node:net';
import type net from 'node:net';
import { checkServerIdentity } from 'node:tls';
import type tls from 'node:tls';
import { normalizeAddress } from '../protocol/address.js';
import { parseReplicaStatus, type ReplicaStatus } from '../protocol/replica-status.js';
import { addressScope } from './address-scope.js';
import { watchData, type DataWatch } from './data-probe.js';
import { findings, type Finding } from './findings.js';
import { connectTcp, ProbeControl, ProbeError, type FtpReply } from './ftp-probe-client.js';
import { checkSftpHostKeys } from './ssh-host-key-probe.js';

export type TlsMode = 'auto' | 'explicit' | 'implicit' | 'none';

export interface DoctorOptions {
  readonly host: string;
  readonly port: number;
  /** auto: AUTH TLS, continuing in clear text (with a warning) when refused. */
  readonly tls: TlsMode;
  /** PEM CA bundle for the server certificate; default: Node's trust store. */
  readonly ca?: string | Buffer;
  readonly insecure?: boolean;
  readonly servername?: string;
  /** Default anonymous. */
  readonly user?: string;
  readonly password?: string;
  /** PASV/EPSV probes in all (alternating); default 6. */
  readonly probes?: number;
  /** Control connections the probes are spread over; default 3. */
  readonly sessions?: number;
  /** Bound of every single wait; default 5000. */
  readonly timeoutMs?: number;
  /** After a data connection closed without reaching its session, how long to wait for the server's reply; default min(timeoutMs, 2000). */
  readonly settleMs?: number;
  /** How long to watch for replies nobody asked for after the greeting; default min(timeoutMs, 250). */
  readonly greetingSettleMs?: number;
  /** The SFTP (SSH) address behind the balancer: compare the replicas' host keys (ssh-host-key-probe.ts). */
  readonly sftp?: { readonly host: string; readonly port: number; readonly connections?: number };
}

export type ProbeOutcome =
  | 'ok'
  | 'passive-refused'
  | 'malformed'
  | 'refused'
  | 'timeout'
  | 'unreachable'
  | 'dropped'
  | 'tls-reuse-refused'
  | 'tls-failed'
  | 'protection-required'
  | 'list-failed'
  | 'no-reply';

export interface ProbeRecord {
  readonly session: number;
  /** Replica index from STAT; null when unknown. */
  readonly replica: number | null;
  readonly mode: 'PASV' | 'EPSV';
  /** The address in the 227 reply (PASV only). */
  readonly announcedHost?: string;
  readonly port?: number;
  /** Where the doctor connected the data connection. */
  readonly dataHost?: string;
  readonly outcome: ProbeOutcome;
  readonly reply?: string;
  readonly connectMs?: number;
  readonly totalMs: number;
  readonly bytes?: number;
  readonly tlsResumed?: boolean;
  /** PASV: the announced address failed and the data connection went to the dialled one. */
  readonly fellBack?: boolean;
}

export interface SessionRecord {
  readonly index: number;
  readonly replica: ReplicaStatus | null;
  readonly greetingMs: number;
  readonly tls: string | null;
}

export interface DoctorReport {
  readonly target: string;
  readonly findings: readonly Finding[];
  readonly sessions: readonly SessionRecord[];
  readonly probes: readonly ProbeRecord[];
  /** No finding with severity fail. */
  readonly ok: boolean;
}

const ANONYMOUS = { user: 'anonymous', password: 'kftpd-doctor@' } as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function replyText(reply: FtpReply): string {
  return `${reply.code} ${reply.text}`.trim();
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

const CERT_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

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

interface Session {
  readonly index: number;
  readonly control: ProbeControl;
  readonly replica: ReplicaStatus | null;
}

class Doctor {
  readonly #o: Required<Omit<DoctorOptions, 'ca' | 'servername' | 'user' | 'password' | 'sftp'>> & DoctorOptions;
  readonly #findings: Finding[] = [];
  readonly #seen = new Set<string>();
  readonly #sessions: SessionRecord[] = [];
  readonly #probes: ProbeRecord[] = [];
  #firstGreeting: { ms: number; text: string } | null = null;
  #tlsInfo: string | null = null;
  #clearTextFallback = false;

  constructor(options: DoctorOptions) {
    const timeoutMs = options.timeoutMs ?? 5000;
    this.#o = {
      ...options,
      insecure: options.insecure ?? false,
      probes: options.probes ?? 6,
      sessions: options.sessions ?? 3,
      timeoutMs,
      settleMs: options.settleMs ?? Math.min(timeoutMs, 2000),
      greetingSettleMs: options.greetingSettleMs ?? Math.min(timeoutMs, 250),
    };
  }

  get #target(): string {
    return isIP(this.#o.host) === 6 ? `[${this.#o.host}]:${this.#o.port}` : `${this.#o.host}:${this.#o.port}`;
  }

  #add(finding: Finding): void {
    const key = `${finding.code}\n${finding.message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#findings.push(finding);
  }

  #tlsOptions(): tls.ConnectionOptions {
    const o = this.#o;
    const servername = o.servername ?? (isIP(o.host) === 0 ? o.host : undefined);
    // SNI carries host names only (RFC 6066 §3); an IP given as the expected name is checked
    // against the certificate's IP SANs without being sent.
    const expectIp = servername !== undefined && isIP(servername) !== 0;
    return {
      host: o.host,
      ...(servername === undefined ? {} : expectIp ? { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => checkServerIdentity(servername, cert) } : { servername }),
      ...(o.ca === undefined ? {} : { ca: o.ca }),
      rejectUnauthorized: !o.insecure,
    };
  }

  #tlsFailure(error: unknown): Finding {
    const sys = error instanceof ProbeError ? error.sysCode : undefined;
    const message = error instanceof Error ? error.message : String(error);
    if (sys && CERT_ERRORS.has(sys)) return findings.tlsCertUntrusted(`${sys}: ${message}`);
    return findings.tlsHandshakeFailed(message);
  }

  async run(): Promise<DoctorReport> {
    const live: Session[] = [];
    try {
      for (let index = 0; index < Math.max(1, this.#o.sessions); index++) {
        const session = await this.#openSession(index);
        if (!session) {
          // The first session failing means nothing else can work; a later one failing is
          // reported and the others still probe.
          if (index === 0) break;
          continue;
        }
        live.push(session);
      }
      if (live.length > 0) {
        const total = Math.max(0, this.#o.probes);
        for (let i = 0; i < total; i++) {
          const session = live[i % live.length] as Session;
          if (session.control.closed) continue;
          await this.#probe(session, i % 2 === 0 ? 'PASV' : 'EPSV');
        }
        this.#summarise(live);
      }
    } finally {
      await Promise.all(live.map((session) => session.control.quit(Math.min(this.#o.timeoutMs, 1000))));
    }
    if (this.#o.sftp) for (const finding of await checkSftpHostKeys({ ...this.#o.sftp, timeoutMs: this.#o.timeoutMs })) this.#add(finding);
    const ordered = [...this.#findings].sort((a, b) => rank(a) - rank(b));
    return { target: this.#target, findings: ordered, sessions: this.#sessions, probes: this.#probes, ok: !ordered.some((f) => f.severity === 'fail') };
  }

  async #openSession(index: number): Promise<Session | null> {
    const o = this.#o;
    const timeout = o.timeoutMs;
    let control: ProbeControl;
    const started = Date.now();
    try {
      control = await ProbeControl.connect({
        host: o.host,
        port: o.port,
        timeoutMs: timeout,
        ...(o.tls === 'implicit' ? { implicitTls: this.#tlsOptions() } : {}),
      });
    } catch (error) {
      if (error instanceof ProbeError && error.code === 'KFTPD_DOCTOR_TLS_FAILED') {
        // Implicit TLS: a PROXY-requiring listener closes before the handshake completes.
        const after = Date.now() - started;
        this.#add(error.sysCode === 'ECONNRESET' ? findings.proxyHeaderMissing(after) : this.#tlsFailure(error));
      } else {
        this.#add(findings.controlConnectFailed(this.#target, error instanceof Error ? error.message : String(error)));
      }
      return null;
    }
    const ok = await this.#prepare(index, control, started).catch((error: unknown) => {
      this.#add(findings.probeTimeout(`session ${index}`, timeout));
      void error;
      return null;
    });
    if (!ok) {
      control.close();
      return null;
    }
    return ok;
  }

  /** Greeting, TLS, login, PBSZ/PROT, STAT. Null (with a finding) when the session cannot go on. */
  async #prepare(index: number, control: ProbeControl, started: number): Promise<Session | null> {
    const o = this.#o;
    const timeout = o.timeoutMs;
    // --- greeting (RFC 959 §4.2: 120 may precede 220)
    let greeting: FtpReply;
    try {
      greeting = await control.readReply(timeout);
      while (greeting.code === 120) greeting = await control.readReply(timeout);
    } catch (error) {
      if (error instanceof ProbeError && error.code === 'KFTPD_DOCTOR_CLOSED' && control.bytesReceived === 0) {
        this.#add(findings.proxyHeaderMissing((control.closedAt ?? Date.now()) - started));
      } else if (error instanceof ProbeError && error.code === 'KFTPD_DOCTOR_TIMEOUT') {
        this.#add(findings.greetingTimeout(timeout));
      } else {
        this.#add(findings.greetingUnexpected(error instanceof Error ? error.message : String(error)));
      }
      return null;
    }
    const greetingMs = Date.now() - started;
    if (greeting.code === 421) {
      this.#add(findings.serverUnavailable(replyText(greeting)));
      return null;
    }
    if (greeting.code !== 220) {
      this.#add(findings.greetingUnexpected(replyText(greeting)));
      return null;
    }
    this.#firstGreeting ??= { ms: greetingMs, text: greeting.text };
    // A balancer's PROXY header reaching a server that does not read it arrives right behind
    // the greeting as "commands" (v1 "PROXY TCP4 ..."; v2 even embeds "QUIT"): replies nobody
    // asked for, or a close, give it away.
    await sleep(o.greetingSettleMs);
    if (control.unread.length > 0 || control.closed) {
      const extra = control.unread.map(replyText).join('; ') || 'connection closed';
      this.#add(findings.proxyHeaderUnexpected(extra));
      return null;
    }

    // --- TLS
    if (o.tls === 'implicit') {
      this.#noteTls(control);
    } else if (o.tls !== 'none' && !this.#clearTextFallback) {
      const auth = await control.command('AUTH TLS', timeout);
      if (auth.code === 234) {
        try {
          await control.upgrade(this.#tlsOptions(), timeout);
        } catch (error) {
          this.#add(this.#tlsFailure(error));
          return null;
        }
        this.#noteTls(control);
      } else if (o.tls === 'auto' && auth.code >= 500) {
        this.#add(findings.tlsNotOffered(replyText(auth)));
        this.#clearTextFallback = true;
      } else {
        this.#add(findings.tlsRefused(replyText(auth)));
        return null;
      }
    }

    // --- login (RFC 959 §4.1.1)
    const anonymous = o.user === undefined;
    const user = o.user ?? ANONYMOUS.user;
    const password = o.password ?? (anonymous ? ANONYMOUS.password : '');
    let reply = await control.command(`USER ${user}`, timeout);
    if (reply.code === 331) reply = await control.command(`PASS ${password}`, timeout);
    if (reply.code !== 230 && reply.code !== 202) {
      if (!control.protected && reply.code === 530 && /TLS|AUTH|secur/i.test(reply.text)) this.#add(findings.loginNeedsTls(replyText(reply)));
      else this.#add(findings.loginFailed(user, replyText(reply), anonymous));
      return null;
    }
    if (index === 0) this.#add(findings.loginOk(user));

    // --- data protection (RFC 4217 §9)
    if (control.protected) {
      for (const command of ['PBSZ 0', 'PROT P']) {
        const answer = await control.command(command, timeout);
        if (answer.code !== 200) {
          this.#add(findings.dataProtectionRefused(command, replyText(answer)));
          return null;
        }
      }
      // TLS 1.3 sends the resumable session after the handshake; data connections need it.
      await control.waitSession(Math.min(timeout, 1000));
    }

    // --- which replica (kftpd's STAT line, RFC 959 §4.1.3 server status)
    const stat = await control.command('STAT', timeout);
    const replica = stat.code === 211 ? parseReplicaStatus(stat.lines) : null;
    this.#sessions.push({ index, replica, greetingMs, tls: control.tlsSocket?.getProtocol() ?? null });
    return { index, control, replica };
  }

  #noteTls(control: ProbeControl): void {
    const socket = control.tlsSocket;
    if (!socket || this.#tlsInfo !== null) return;
    const cert = socket.getPeerCertificate();
    const cn = cert && typeof cert.subject === 'object' ? (cert.subject.CN ?? JSON.stringify(cert.subject)) : 'unknown';
    // A subject may carry several CNs (the typings say string | string[]).
    const subject = Array.isArray(cn) ? cn.join(', ') : cn;
    this.#tlsInfo = `${socket.getProtocol() ?? 'TLS'}, certificate ${subject}`;
    this.#add(findings.tlsOk(socket.getProtocol() ?? 'TLS', `CN=${String(subject)}${this.#o.insecure ? ' (not verified)' : ' (verified)'}`));
    if (this.#o.insecure) {
      const reason = socket.authorizationError;
      this.#add(findings.tlsNotVerified(reason ? String(reason) : null));
    }
  }

  async #probe(session: Session, mode: 'PASV' | 'EPSV'): Promise<void> {
    const { control, replica } = session;
    const timeout = this.#o.timeoutMs;
    const started = Date.now();
    const base = { session: session.index, replica: replica?.index ?? null, mode } as const;
    const record = (fields: Omit<ProbeRecord, 'session' | 'replica' | 'mode' | 'totalMs'>): void => {
      this.#probes.push({ ...base, ...fields, totalMs: Date.now() - started });
    };

    let reply: FtpReply;
    try {
      reply = await control.command(mode, timeout);
    } catch {
      this.#add(findings.probeTimeout(`${mode} on session ${session.index}`, timeout));
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
        this.#add(findings.passiveReplyMalformed(mode, replyText(reply)));
        record({ outcome: 'malformed', reply: replyText(reply) });
        return;
      }
      announcedHost = parsed.host;
      port = parsed.port;
    } else {
      const parsed = parseEpsvReply(reply.text);
      if (parsed === null) {
        this.#add(findings.passiveReplyMalformed(mode, replyText(reply)));
        record({ outcome: 'malformed', reply: replyText(reply) });
        return;
      }
      port = parsed;
    }

    // The port must come from the announcing replica's own slice, else the balancer sends the
    // data connection to another replica (docs/replicas.md: passive slices).
    if (replica?.announced && (port < replica.announced.min || port > replica.announced.max)) {
      this.#add(findings.portOutsideSlice(port, replica.index, `${replica.announced.min}-${replica.announced.max}`, ownerOfPort(replica, port)));
    }

    // PASV names the data address; EPSV reuses the control connection's (RFC 2428 §3).
    let dataHost = announcedHost ?? dialled;
    const where = (host: string): string => `${host}:${port} (${mode}${replica ? `, replica ${replica.index}` : ''})`;
    if (announcedHost !== undefined && announcedHost === '0.0.0.0') {
      this.#add(findings.pasvAddressUnspecified(announcedHost));
      dataHost = dialled;
    }
    const connectStarted = Date.now();
    let socket: net.Socket;
    try {
      socket = await connectTcp(dataHost, port, timeout);
      if (announcedHost !== undefined && announcedHost !== '0.0.0.0' && announcedHost !== dialled) this.#addressFinding(announcedHost, dialled, true);
    } catch (error) {
      const sys = error instanceof ProbeError ? error.sysCode : undefined;
      // A wrong PASV address: is the same port open at the address the doctor dialled?
      if (announcedHost !== undefined && dataHost !== dialled) {
        this.#addressFinding(announcedHost, dialled, false);
        const retry = await connectTcp(dialled, port, timeout).catch(() => null);
        if (retry) {
          dataHost = dialled;
          socket = retry;
        } else {
          record({ outcome: sys === 'ECONNREFUSED' ? 'refused' : 'unreachable', port, announcedHost, dataHost });
          return;
        }
      } else {
        const outcome = this.#connectFailure(where(dataHost), sys, error);
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
      ...(control.protected ? { tls: { ...this.#tlsOptions(), ...(session_ ? { session: session_ } : {}) } } : {}),
    });
    let first: FtpReply;
    try {
      first = await control.command('LIST', timeout);
    } catch {
      this.#add(findings.probeTimeout(`LIST on session ${session.index}`, timeout));
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
      final = await control.readReply(reachedSession || data.timedOut ? timeout : this.#o.settleMs).catch(() => null);
      if (final === null && !reachedSession && !data.timedOut) {
        record({ ...common, outcome: 'dropped', bytes: data.bytes });
        await this.#abort(control);
        return;
      }
    } else {
      socket.destroy();
    }
    if (final === null) {
      this.#add(findings.probeTimeout(`LIST on session ${session.index}`, timeout));
      record({ ...common, outcome: 'no-reply' });
      control.close();
      return;
    }
    const text = replyText(final);
    const fields = { ...common, reply: text, ...(data ? { bytes: data.bytes, tlsResumed: data.resumed } : {}) };
    if (final.code === 226 || final.code === 250) {
      record({ ...fields, outcome: 'ok' });
    } else if (final.code === 522 && /resum|reuse/i.test(final.text)) {
      this.#add(findings.tlsReuseRefused(text, data?.resumed ?? false));
      record({ ...fields, outcome: 'tls-reuse-refused' });
    } else if (final.code === 522) {
      this.#add(findings.dataTlsFailed(`${text}${data?.error ? ` (client: ${data.error})` : ''}`));
      record({ ...fields, outcome: 'tls-failed' });
    } else if (final.code === 521) {
      this.#add(findings.dataProtectionRequired(text));
      record({ ...fields, outcome: 'protection-required' });
    } else if ((final.code === 425 || final.code === 426) && data !== null && !data.secure && data.bytes === 0) {
      // Connected, yet the session never saw the connection: same as a drop.
      record({ ...fields, outcome: 'dropped' });
    } else {
      this.#add(findings.listFailed(text));
      record({ ...fields, outcome: 'list-failed' });
    }
  }

  #connectFailure(where: string, sys: string | undefined, error: unknown): ProbeOutcome {
    if (sys === 'ECONNREFUSED') {
      this.#add(findings.dataPortRefused(where));
      return 'refused';
    }
    if (sys === 'ETIMEDOUT') {
      this.#add(findings.dataPortTimeout(where, this.#o.timeoutMs));
      return 'timeout';
    }
    this.#add(findings.dataHostUnreachable(where, error instanceof Error ? error.message : String(error)));
    return 'unreachable';
  }

  #addressFinding(announced: string, dialled: string, reachable: boolean): void {
    const scope = addressScope(announced);
    const dialledScope = addressScope(dialled);
    if (scope !== null && scope !== 'public' && scope !== dialledScope) this.#add(findings.pasvAddressPrivate(announced, scope, dialled, reachable));
    else this.#add(findings.pasvAddressMismatch(announced, dialled, reachable));
  }

  /** ABOR (RFC 959 §4.1.3) after a data connection that never arrived; the session stays usable or is closed. */
  async #abort(control: ProbeControl): Promise<void> {
    const timeout = this.#o.timeoutMs;
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

  #summarise(live: readonly Session[]): void {
    if (this.#firstGreeting) this.#add(findings.controlOk(live.length, this.#firstGreeting.ms, this.#firstGreeting.text));
    // Replicas
    const known = this.#sessions.filter((s) => s.replica !== null);
    if (known.length < this.#sessions.length) this.#add(findings.replicaUnknown());
    if (known.length > 0) {
      const parts = known.map((s) => {
        const r = s.replica as ReplicaStatus;
        return `session ${s.index} on replica ${r.index} of ${r.replicas} (ports ${r.announced ? `${r.announced.min}-${r.announced.max}` : 'kernel-chosen'})`;
      });
      this.#add(findings.replicaOk(`replicas answering: ${parts.join(', ')}`));
    }
    // Passive modes
    for (const mode of ['PASV', 'EPSV'] as const) {
      const probes = this.#probes.filter((p) => p.mode === mode);
      if (probes.length === 0) continue;
      const refused = probes.filter((p) => p.outcome === 'passive-refused');
      const other = this.#probes.filter((p) => p.mode !== mode);
      if (refused.length > 0) this.#add(findings.passiveRefused(mode, refused[0]?.reply ?? '', other.some((p) => p.outcome === 'ok')));
      const ok = probes.filter((p) => p.outcome === 'ok');
      if (ok.length === probes.length) {
        const ports = ok.map((p) => String(p.port)).join(', ');
        const tlsNote =
          (ok.every((p) => p.tlsResumed === true) ? ', TLS session resumed on every data connection' : '') +
          (ok.some((p) => p.fellBack === true) ? '; only by connecting to the dialled address instead of the announced one' : '');
        this.#add(
          findings.passiveOk(
            mode,
            `${ok.length} of ${probes.length} probes listed the directory end to end (ports ${ports}; connect ${median(ok.map((p) => p.connectMs ?? 0))} ms, total ${median(ok.map((p) => p.totalMs))} ms median${tlsNote})`,
          ),
        );
      }
    }
    // Data connections the balancer took but never delivered, grouped by replica.
    const dropped = this.#probes.filter((p) => p.outcome === 'dropped');
    if (dropped.length > 0) {
      const byReplica = new Map<string, ProbeRecord[]>();
      for (const p of dropped) {
        const key = p.replica === null ? 'unknown replica' : `replica ${p.replica}`;
        byReplica.set(key, [...(byReplica.get(key) ?? []), p]);
      }
      const working = new Set(this.#probes.filter((p) => p.outcome === 'ok' && p.replica !== null).map((p) => p.replica));
      const groups = [...byReplica.entries()].map(([key, probes]) => {
        const first = probes[0] as ProbeRecord;
        const status = this.#sessions.find((s) => s.index === first.session)?.replica;
        const slice = status?.announced ? ` of its slice ${status.announced.min}-${status.announced.max}` : '';
        return `${mode(probes)} port(s) ${probes.map((p) => `${p.dataHost ?? ''}:${String(p.port)}`).join(', ')} announced by ${key}${slice}`;
      });
      const workingText = working.size > 0 ? `; data connections of replica(s) ${[...working].sort().join(', ')} worked` : '';
      this.#add(findings.dataMisrouted(`${groups.join('; ')}${workingText}`));
    }
  }
}

function mode(probes: readonly ProbeRecord[]): string {
  return [...new Set(probes.map((p) => p.mode))].join('/');
}

const ORDER = { fail: 0, warn: 1, ok: 2 } as const;

/** Failures first, then warnings, then OKs; stable within a severity. */
function rank(finding: Finding): number {
  return ORDER[finding.severity];
}

/** Runs every check against HOST:PORT and returns the report. Never throws for network problems. */
export function diagnose(options: DoctorOptions): Promise<DoctorReport> {
  return new Doctor(options).run();
}
