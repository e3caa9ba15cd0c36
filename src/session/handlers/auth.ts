/**
 * @module session/handlers/auth
 * Access control commands: USER, PASS, REIN, QUIT (RFC 959 §4.1.1) and HOST (RFC 7151).
 */
import { ReplyCode } from '../../protocol/reply.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';
import { auditLogin } from '../audit.js';
import { logIn } from '../../files/login-service.js';

const ANONYMOUS_NAMES = new Set(['anonymous', 'ftp']);

async function user(ctx: SessionContext, arg: string): Promise<void> {
  if (ctx.state.login.phase === 'logged-in') {
    // Changing user requires REIN first (vsftpd and ProFTPD behave alike).
    ctx.reply(ReplyCode.BadSequence, 'Already logged in; use REIN to change user.');
    return;
  }
  if (arg === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'USER needs a user name.');
    return;
  }
  if (ctx.deps.settings.tlsControl === 'required' && !ctx.deps.tls.controlProtected) {
    // The password would follow in clear text: refuse before it is sent (RFC 4217 §4).
    ctx.log.warn({ event: 'login.tls-required', user: arg }, 'USER before AUTH TLS refused');
    auditLogin(ctx, arg, 'refused', 'tls-required');
    ctx.reply(ReplyCode.NotLoggedIn, 'TLS required: send AUTH TLS before USER.');
    return;
  }
  ctx.state.login = { phase: 'need-password', username: arg };
  if (ANONYMOUS_NAMES.has(arg.toLowerCase())) {
    ctx.reply(ReplyCode.NeedPassword, 'Anonymous login: send your e-mail address as password.');
  } else {
    ctx.reply(ReplyCode.NeedPassword, 'Password required.');
  }
}

async function pass(ctx: SessionContext, arg: string): Promise<void> {
  const login = ctx.state.login;
  if (login.phase === 'logged-in') {
    ctx.reply(ReplyCode.BadSequence, 'Already logged in.');
    return;
  }
  if (login.phase !== 'need-password') {
    ctx.reply(ReplyCode.BadSequence, 'Login with USER first.');
    return;
  }
  const { deps } = ctx;
  const outcome = await logIn(
    {
      auth: deps.auth,
      storage: deps.storage,
      metrics: deps.metrics,
      protocol: 'ftp',
      ...(deps.guard ? { guard: deps.guard } : {}),
      failedLoginDelayMs: deps.settings.failedLoginDelayMs,
      sleep: (ms) => deps.clock.sleep(ms),
      claimSlot: (name) => ctx.claimUserSlot(name),
      log: ctx.log,
      audit: (name, result, code) => auditLogin(ctx, name, result, code),
    },
    {
      username: login.username,
      password: arg,
      remoteAddress: deps.control.remoteAddress,
      secure: deps.tls.controlProtected,
      ...(certificateAllows(ctx, login.username) ? {} : { refusal: 'certificate-mismatch' }),
    },
  );
  if (outcome.ok) {
    ctx.setLoggedIn(outcome.principal, outcome.storage);
    ctx.reply(ReplyCode.LoggedIn, 'Login successful.');
    return;
  }
  ctx.state.login = { phase: 'anonymous' };
  if (outcome.reason === 'max-sessions-per-user') {
    // The connection stays (ProFTPD's MaxClientsPerUser answers 530 too).
    ctx.reply(ReplyCode.NotLoggedIn, 'Too many sessions for this user, try again later.');
    return;
  }
  if (outcome.reason === 'home-unavailable') {
    ctx.reply(ReplyCode.NotLoggedIn, 'Login failed: home directory not available.');
    return;
  }
  ctx.state.failedLogins += 1;
  if (ctx.state.failedLogins >= deps.settings.maxFailedLogins) {
    ctx.reply(ReplyCode.ServiceNotAvailable, 'Too many failed logins, closing control connection.');
    ctx.closeControl();
    return;
  }
  ctx.reply(ReplyCode.NotLoggedIn, 'Login incorrect.');
}

/** With usernameFrom commonName, the login name must be the verified client certificate's CN. */
function certificateAllows(ctx: SessionContext, username: string): boolean {
  if (ctx.deps.settings.usernameFromCertificate !== 'commonName') return true;
  return ctx.deps.tls.peerCommonName() === username;
}

function rein(ctx: SessionContext): void {
  // RFC 959 §4.1.1: flush account information and all parameters, leave the connection open.
  ctx.resetToInitial();
  ctx.reply(ReplyCode.ServiceReady, 'Service ready for new user.');
}

function quit(ctx: SessionContext): void {
  ctx.reply(ReplyCode.ClosingControl, 'Goodbye.');
  ctx.closeControl();
}

function host(ctx: SessionContext, arg: string): void {
  // RFC 7151 §3: HOST must precede USER, and cannot be repeated after login.
  if (ctx.state.login.phase !== 'anonymous') {
    ctx.reply(ReplyCode.BadSequence, 'HOST must be sent before USER.');
    return;
  }
  const name = arg.trim();
  if (name === '') {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'HOST needs a host name.');
    return;
  }
  const accepted = ctx.deps.settings.hostNames;
  // A bracketed IPv6 literal or a name; compare case-insensitively (DNS names).
  if (accepted.length > 0 && !accepted.some((h) => h.toLowerCase() === name.toLowerCase())) {
    ctx.reply(ReplyCode.ParameterNotImplemented, 'Unknown host.');
    return;
  }
  ctx.state.hostName = name;
  ctx.reply(ReplyCode.ServiceReady, `${ctx.deps.settings.serverName} ready for ${name}.`);
}

export const AUTH_COMMANDS: readonly CommandSpec[] = [
  { verb: 'USER', requiresLogin: false, syntax: 'USER <name>', handle: user },
  { verb: 'PASS', requiresLogin: false, syntax: 'PASS <password>', handle: pass },
  { verb: 'REIN', requiresLogin: false, syntax: 'REIN', handle: rein },
  { verb: 'QUIT', requiresLogin: false, syntax: 'QUIT', handle: quit },
  { verb: 'HOST', requiresLogin: false, syntax: 'HOST <hostname>', feat: 'HOST', handle: host },
];
