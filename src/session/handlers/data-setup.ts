/**
 * @module session/handlers/data-setup
 * Data connection set-up: PASV and PORT (RFC 959 §4.1.2), EPSV and EPRT (RFC 2428).
 * Active mode connects only back to the control client's own address and to ports >= 1024,
 * which closes the FTP bounce attack (RFC 2577 §3).
 */
import {
  addressFamily,
  formatEpsvText,
  formatPasvText,
  normalizeAddress,
  parseEprtArgument,
  parseEpsvArgument,
  parsePortArgument,
} from '../../protocol/address.js';
import { ReplyCode } from '../../protocol/reply.js';
import type { CommandSpec } from '../command-spec.js';
import type { SessionContext } from '../context.js';
import { DataChannelError, type PassiveLease } from '../ports.js';

const MIN_ACTIVE_PORT = 1024;

async function reservePassive(ctx: SessionContext, family: 1 | 2): Promise<PassiveLease | null> {
  ctx.resetDataEndpoint();
  const { control } = ctx.deps;
  try {
    const lease = await ctx.deps.data.listenPassive({
      family,
      controlLocalAddress: control.localAddress,
      controlRemoteAddress: control.remoteAddress,
      ...(control.destinationAddress ? { destinationAddress: control.destinationAddress } : {}),
    });
    ctx.state.data = { kind: 'passive', lease };
    return lease;
  } catch (error) {
    if (error instanceof DataChannelError && error.code === 'PASSIVE_EXHAUSTED') {
      ctx.deps.metrics.passiveExhausted();
      ctx.log.warn({ event: 'passive.exhausted' }, 'passive port range exhausted');
      ctx.reply(ReplyCode.CantOpenData, 'No passive port available, try again later.');
      return null;
    }
    if (error instanceof DataChannelError) {
      ctx.log.error({ event: 'passive.failed', code: error.code, err: error }, 'passive mode unavailable');
      ctx.reply(ReplyCode.CantOpenData, 'Passive mode unavailable, try again later.');
      return null;
    }
    throw error;
  }
}

async function pasv(ctx: SessionContext): Promise<void> {
  if (ctx.state.epsvAll) {
    ctx.reply(ReplyCode.BadSequence, 'Only EPSV is allowed after EPSV ALL.');
    return;
  }
  const lease = await reservePassive(ctx, 1);
  if (!lease) return;
  const host = normalizeAddress(lease.advertisedHost);
  if (addressFamily(host) !== 1) {
    // RFC 2428 §1: PASV cannot carry an IPv6 address; the client must use EPSV.
    ctx.resetDataEndpoint();
    ctx.reply(ReplyCode.CantOpenData, 'PASV needs an IPv4 address; use EPSV.');
    return;
  }
  ctx.reply(ReplyCode.EnteringPassive, formatPasvText(host, lease.port));
}

async function epsv(ctx: SessionContext, arg: string): Promise<void> {
  const parsed = parseEpsvArgument(arg.trim());
  const controlFamily = addressFamily(normalizeAddress(ctx.deps.control.localAddress));
  switch (parsed.kind) {
    case 'all':
      // RFC 2428 §4: from now on, refuse every data set-up command but EPSV.
      ctx.state.epsvAll = true;
      ctx.resetDataEndpoint();
      ctx.reply(ReplyCode.Ok, 'EPSV ALL ok.');
      return;
    case 'syntax':
      ctx.reply(ReplyCode.ArgumentSyntaxError, 'EPSV takes 1, 2 or ALL.');
      return;
    case 'unsupported-family':
      ctx.reply(ReplyCode.NetworkProtocolNotSupported, `Network protocol not supported, use (${controlFamily}).`);
      return;
    case 'family':
      if (parsed.family !== controlFamily) {
        ctx.reply(ReplyCode.NetworkProtocolNotSupported, `Network protocol not supported, use (${controlFamily}).`);
        return;
      }
      break;
    case 'any':
      break;
  }
  const lease = await reservePassive(ctx, controlFamily);
  if (lease) ctx.reply(ReplyCode.EnteringExtendedPassive, formatEpsvText(lease.port));
}

function setActive(ctx: SessionContext, host: string, port: number, verb: string): void {
  const remote = normalizeAddress(ctx.deps.control.remoteAddress);
  if (normalizeAddress(host) !== remote || port < MIN_ACTIVE_PORT) {
    ctx.log.warn({ event: 'active.refused', verb, host, port }, 'active-mode target refused');
    ctx.reply(ReplyCode.ArgumentSyntaxError, `${verb} must name your own address and a port >= ${MIN_ACTIVE_PORT}.`);
    return;
  }
  ctx.resetDataEndpoint();
  ctx.state.data = { kind: 'active', host: remote, port };
  ctx.reply(ReplyCode.Ok, `${verb} command successful. Consider using EPSV.`);
}

function activeAllowed(ctx: SessionContext): boolean {
  if (!ctx.deps.settings.activeEnabled) {
    ctx.reply(ReplyCode.NotImplemented, 'Active mode is disabled; use PASV or EPSV.');
    return false;
  }
  if (ctx.state.epsvAll) {
    ctx.reply(ReplyCode.BadSequence, 'Only EPSV is allowed after EPSV ALL.');
    return false;
  }
  return true;
}

function port(ctx: SessionContext, arg: string): void {
  if (!activeAllowed(ctx)) return;
  const target = parsePortArgument(arg.trim());
  if (!target) {
    ctx.reply(ReplyCode.ArgumentSyntaxError, 'Malformed PORT argument.');
    return;
  }
  setActive(ctx, target.host, target.port, 'PORT');
}

function eprt(ctx: SessionContext, arg: string): void {
  if (!activeAllowed(ctx)) return;
  const parsed = parseEprtArgument(arg.trim());
  if (!parsed.ok) {
    if (parsed.error === 'family') ctx.reply(ReplyCode.NetworkProtocolNotSupported, 'Network protocol not supported, use (1,2).');
    else ctx.reply(ReplyCode.ArgumentSyntaxError, 'Malformed EPRT argument.');
    return;
  }
  setActive(ctx, parsed.host, parsed.port, 'EPRT');
}

const activeEnabled = (ctx: SessionContext): boolean => ctx.deps.settings.activeEnabled;

export const DATA_SETUP_COMMANDS: readonly CommandSpec[] = [
  { verb: 'PASV', requiresLogin: true, syntax: 'PASV', handle: pasv },
  { verb: 'EPSV', requiresLogin: true, syntax: 'EPSV [1|2|ALL]', feat: 'EPSV', handle: epsv },
  { verb: 'PORT', requiresLogin: true, syntax: 'PORT h1,h2,h3,h4,p1,p2', enabled: activeEnabled, handle: port },
  // RFC 2428 EPRT is advertised only when active mode can actually be used.
  { verb: 'EPRT', requiresLogin: true, syntax: 'EPRT |proto|addr|port|', enabled: activeEnabled, feat: 'EPRT', handle: eprt },
];
