/**
 * @module session/handlers/security
 * RFC 2228 / RFC 4217 security commands: AUTH (TLS, and the legacy names SSL, TLS-C, TLS-P),
 * PBSZ and PROT. The TLS machinery itself sits behind the SessionTls port.
 */
import { ReplyCode } from '../../protocol/reply.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';

/** RFC 4217 §4 and the names older clients still send. TLS-P also sets PROT P. */
const MECHANISMS = new Map<string, 'C' | 'P'>([
  ['TLS', 'C'],
  ['TLS-C', 'C'],
  ['SSL', 'C'],
  ['TLS-P', 'P'],
]);

async function auth(ctx: SessionContext, arg: string): Promise<void> {
  const { tls } = ctx.deps;
  if (!tls.available) {
    ctx.reply(ReplyCode.NotImplemented, 'TLS is not enabled on this server.');
    return;
  }
  if (tls.controlProtected || ctx.state.controlCleared) {
    ctx.reply(ReplyCode.BadSequence, 'The control connection is already protected.');
    return;
  }
  if (ctx.state.login.phase !== 'anonymous') {
    // RFC 4217 §4: AUTH comes before USER, so credentials never cross in clear text.
    ctx.reply(ReplyCode.BadSequence, 'AUTH must be sent before USER.');
    return;
  }
  const prot = MECHANISMS.get(arg.trim().toUpperCase());
  if (prot === undefined) {
    ctx.reply(ReplyCode.ParameterNotImplemented, 'Unknown security mechanism; use AUTH TLS.');
    return;
  }
  // Anything the client pipelined after AUTH was sent in clear text and must not run as if
  // it had been protected (the STARTTLS command-injection class of bugs).
  ctx.discardQueued();
  ctx.reply(ReplyCode.AuthOk, 'AUTH TLS successful.');
  try {
    await tls.upgradeControl();
  } catch (error) {
    ctx.log.warn({ event: 'tls.control-handshake-failed', err: error }, 'control TLS handshake failed');
    ctx.closeControl();
    return;
  }
  if (prot === 'P') {
    ctx.state.pbszDone = true;
    ctx.state.prot = 'P';
  }
  ctx.log.info({ event: 'tls.control', mechanism: arg.trim().toUpperCase() }, 'control connection protected');
}

function pbsz(ctx: SessionContext, arg: string): void {
  if (ctx.state.controlCleared) {
    ctx.reply(ReplyCode.BadSequence, 'PBSZ is not allowed after CCC.');
    return;
  }
  if (!ctx.deps.tls.controlProtected) {
    ctx.reply(ReplyCode.BadSequence, 'PBSZ needs a protected control connection (AUTH TLS).');
    return;
  }
  if (!/^\d+$/.test(arg.trim())) {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'PBSZ needs a decimal buffer size.');
    return;
  }
  // RFC 4217 §8: TLS has no buffer size; the only value is 0.
  ctx.state.pbszDone = true;
  ctx.reply(ReplyCode.Ok, 'PBSZ=0');
}

function prot(ctx: SessionContext, arg: string): void {
  if (ctx.state.controlCleared) {
    // RFC 4217 §6: once the control connection is clear, the protection level is fixed.
    ctx.reply(ReplyCode.BadSequence, 'PROT is not allowed after CCC.');
    return;
  }
  if (!ctx.deps.tls.controlProtected) {
    ctx.reply(ReplyCode.BadSequence, 'PROT needs a protected control connection (AUTH TLS).');
    return;
  }
  if (!ctx.state.pbszDone) {
    // RFC 2228 §3: PBSZ must precede PROT.
    ctx.reply(ReplyCode.BadSequence, 'PBSZ must be sent before PROT.');
    return;
  }
  const level = arg.trim().toUpperCase();
  switch (level) {
    case 'P':
      ctx.state.prot = 'P';
      ctx.reply(ReplyCode.Ok, 'Data connections will be protected (PROT P).');
      return;
    case 'C':
      if (ctx.deps.settings.tlsData === 'required') {
        ctx.log.warn({ event: 'tls.prot-c-refused' }, 'PROT C refused by policy');
        ctx.reply(ReplyCode.PolicyRefused, 'PROT C refused by policy; data connections must use PROT P.');
        return;
      }
      ctx.state.prot = 'C';
      ctx.reply(ReplyCode.Ok, 'Data connections will be in clear text (PROT C).');
      return;
    case 'S':
    case 'E':
      // RFC 4217 §9: TLS offers no Safe-only or Confidential-only level.
      ctx.reply(ReplyCode.ProtLevelNotSupported, 'Only PROT P and PROT C are supported.');
      return;
    default:
      ctx.reply(ReplyCode.ArgumentSyntaxError, 'PROT needs P or C.');
  }
}

async function ccc(ctx: SessionContext): Promise<void> {
  const { tls, settings } = ctx.deps;
  if (!settings.cccEnabled || !tls.available) {
    ctx.reply(ReplyCode.NotImplemented, 'CCC is not enabled on this server.');
    return;
  }
  if (!tls.clearable || ctx.state.controlCleared) {
    ctx.reply(ReplyCode.BadSequence, 'CCC needs a protected control connection.');
    return;
  }
  // Only after login: the password has crossed encrypted, and data keeps its PROT level.
  ctx.reply(ReplyCode.Ok, 'CCC: control connection returning to clear text.');
  try {
    await tls.clearControl();
  } catch (error) {
    ctx.log.warn({ event: 'tls.ccc-failed', err: error }, 'CCC failed');
    ctx.closeControl();
    return;
  }
  ctx.state.controlCleared = true;
}

const tlsAvailable = (ctx: SessionContext): boolean => ctx.deps.tls.available;

export const SECURITY_COMMANDS: readonly CommandSpec[] = [
  // RFC 4217 §6: AUTH TLS, PBSZ and PROT are advertised when TLS can be negotiated.
  { verb: 'AUTH', requiresLogin: false, syntax: 'AUTH TLS', enabled: tlsAvailable, feat: 'AUTH TLS', handle: auth },
  { verb: 'PBSZ', requiresLogin: false, syntax: 'PBSZ 0', enabled: tlsAvailable, feat: 'PBSZ', handle: pbsz },
  { verb: 'PROT', requiresLogin: false, syntax: 'PROT <P|C>', enabled: tlsAvailable, feat: 'PROT', handle: prot },
  { verb: 'CCC', requiresLogin: true, syntax: 'CCC', enabled: (ctx) => tlsAvailable(ctx) && ctx.deps.settings.cccEnabled, feat: 'CCC', handle: ccc },
];
