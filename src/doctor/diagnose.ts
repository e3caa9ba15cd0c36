/**
 * @module doctor/diagnose
 * The check sequence of `kftpd doctor --external HOST:PORT`, from a client's point of view:
 * open a few control connections through the balancer (so a round-robin balancer spreads them
 * over the replicas), read the greeting, AUTH TLS (RFC 4217 §4) or implicit TLS, log in,
 * PBSZ 0 / PROT P (RFC 4217 §9), ask STAT which replica answered and which passive slice it
 * owns, then run PASV (RFC 959 §4.1.2) and EPSV (RFC 2428 §3) probes: connect to the announced
 * address, TLS-resume the control session on the data connection when PROT P, and LIST to prove
 * the data path end to end (one probe: ./passive-probe.ts; the run's summary: ./summary.ts).
 * Returns findings (./findings.ts), never throws for a network problem; every wait is bounded
 * by `timeoutMs`. Options and report types are in ./doctor-types.ts (re-exported here).
 */
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import type tls from 'node:tls';
import { parseReplicaStatus } from '../protocol/replica-status.js';
import type { DoctorOptions, DoctorReport, ProbeRecord, SessionRecord } from './doctor-types.js';
import { findings, type Finding } from './findings.js';
import { ProbeControl, ProbeError, type FtpReply } from './ftp-probe-client.js';
import { probePassive, type ProbeContext, type ProbeSession } from './passive-probe.js';
import { replyText } from './passive-reply.js';
import { checkSftpHostKeys } from './ssh-host-key-probe.js';
import { summarise } from './summary.js';

export type { DoctorOptions, DoctorReport, ProbeOutcome, ProbeRecord, SessionRecord, TlsMode } from './doctor-types.js';
export { ownerOfPort, parseEpsvReply, parsePasvReply } from './passive-reply.js';

const ANONYMOUS = { user: 'anonymous', password: 'kftpd-doctor@' } as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

  /** What a passive probe needs from this run. */
  get #probeContext(): ProbeContext {
    return {
      timeoutMs: this.#o.timeoutMs,
      settleMs: this.#o.settleMs,
      tlsOptions: () => this.#tlsOptions(),
      add: (finding) => this.#add(finding),
      record: (probe) => this.#probes.push(probe),
    };
  }

  async run(): Promise<DoctorReport> {
    const live: ProbeSession[] = [];
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
          const session = live[i % live.length] as ProbeSession;
          if (session.control.closed) continue;
          await probePassive(this.#probeContext, session, i % 2 === 0 ? 'PASV' : 'EPSV');
        }
        summarise({ live: live.length, firstGreeting: this.#firstGreeting, sessions: this.#sessions, probes: this.#probes }, (finding) => this.#add(finding));
      }
    } finally {
      await Promise.all(live.map((session) => session.control.quit(Math.min(this.#o.timeoutMs, 1000))));
    }
    if (this.#o.sftp) for (const finding of await checkSftpHostKeys({ ...this.#o.sftp, timeoutMs: this.#o.timeoutMs })) this.#add(finding);
    const ordered = [...this.#findings].sort((a, b) => rank(a) - rank(b));
    return { target: this.#target, findings: ordered, sessions: this.#sessions, probes: this.#probes, ok: !ordered.some((f) => f.severity === 'fail') };
  }

  async #openSession(index: number): Promise<ProbeSession | null> {
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
  async #prepare(index: number, control: ProbeControl, started: number): Promise<ProbeSession | null> {
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
