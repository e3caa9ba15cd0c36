/**
 * @module runtime/admin-bans
 * Owns the operator endpoints of the admin listener for the defender's bans, behind the
 * bearer token (observability/admin-token):
 *   GET    /bans             → 200 {"bans":[{address, since, until, remainingMs, offences, reason, manual}]}
 *   POST   /bans             {"address", "durationMs"?, "reason"?} → 201 {"ban":{...}}
 *   DELETE /bans/<address>   → 200 {"lifted":"<address>"} or 404 (the address is URL-encoded;
 *                              an IPv6 network may be given as "2001:db8::/64" or any address in it)
 * With cluster.redis.url these act on the whole service (every replica), else on this replica.
 * Without admin.tokenFile every path answers 404 (the endpoints do not exist); a missing or
 * wrong token gets 401, an unreadable token file 403 (fail closed). Bodies carry stable
 * error codes only, never internal detail.
 */
import type http from 'node:http';
import type { BanInfo, ManualBanResult } from '../security/defender.js';
import type { AdminRoute } from '../observability/admin-http.js';
import type { AdminToken } from '../observability/admin-token.js';

/** The local defender, or the whole service's bans through the shared store (cluster/). */
export interface BansApi {
  list(): BanInfo[] | Promise<BanInfo[]>;
  ban(address: string, options: { durationMs?: number; reason?: string }): ManualBanResult | Promise<ManualBanResult>;
  lift(address: string): boolean | Promise<boolean>;
}

export interface BansRouteOptions {
  readonly bans: BansApi;
  readonly token: AdminToken;
  /** Every change (and every refused request) for the operator log; never the token. */
  readonly onAction?: (action: 'ban' | 'lift' | 'denied', detail: Record<string, unknown>) => void;
  readonly now?: () => number;
}

/** A manual-ban request body is a few dozen bytes. */
const MAX_BODY_BYTES = 4096;
/** A manual ban may not exceed a year (a typo in durationMs must not ban forever). */
const MAX_MANUAL_BAN_MS = 365 * 24 * 3600 * 1000;

export function bansRoute(options: BansRouteOptions): AdminRoute {
  const now = options.now ?? Date.now;
  return {
    prefix: '/bans',
    async handle(request, response, path) {
      if (!options.token.configured) {
        sendJson(response, 404, { error: 'KFTPD_NOT_FOUND' });
        return;
      }
      const auth = await options.token.check(request.headers.authorization);
      if (auth !== 'ok') {
        options.onAction?.('denied', { reason: auth, method: request.method, path });
        if (auth === 'unavailable') sendJson(response, 403, { error: 'KFTPD_ADMIN_TOKEN_UNAVAILABLE' });
        else sendJson(response, 401, { error: 'KFTPD_ADMIN_UNAUTHORIZED' }, { 'www-authenticate': 'Bearer realm="kftpd"' });
        return;
      }
      const rest = path.slice('/bans'.length);
      if (rest === '' || rest === '/') {
        if (request.method === 'GET' || request.method === 'HEAD') {
          const at = now();
          const bans = (await options.bans.list()).map((ban) => ({ ...ban, since: ban.since.toISOString(), until: ban.until.toISOString(), remainingMs: Math.max(0, ban.until.getTime() - at) }));
          sendJson(response, 200, { bans });
          return;
        }
        if (request.method === 'POST') {
          await manualBan(request, response, options);
          return;
        }
        sendJson(response, 405, { error: 'KFTPD_METHOD_NOT_ALLOWED' }, { allow: 'GET, HEAD, POST' });
        return;
      }
      if (request.method !== 'DELETE') {
        sendJson(response, 405, { error: 'KFTPD_METHOD_NOT_ALLOWED' }, { allow: 'DELETE' });
        return;
      }
      let address: string;
      try {
        address = decodeURIComponent(rest.slice(1));
      } catch {
        sendJson(response, 400, { error: 'KFTPD_BAN_INVALID_ADDRESS' });
        return;
      }
      const lifted = await options.bans.lift(address);
      options.onAction?.('lift', { address, lifted });
      if (lifted) sendJson(response, 200, { lifted: address });
      else sendJson(response, 404, { error: 'KFTPD_BAN_NOT_FOUND' });
    },
  };
}

async function manualBan(request: http.IncomingMessage, response: http.ServerResponse, options: BansRouteOptions): Promise<void> {
  const body = await readBody(request);
  let parsed: unknown;
  try {
    parsed = body === null ? undefined : JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const input = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : null;
  const address = input?.address;
  const durationMs = input?.durationMs;
  const reason = input?.reason;
  const validDuration = durationMs === undefined || (Number.isInteger(durationMs) && (durationMs as number) > 0 && (durationMs as number) <= MAX_MANUAL_BAN_MS);
  const validReason = reason === undefined || (typeof reason === 'string' && reason.length <= 200);
  if (typeof address !== 'string' || !validDuration || !validReason) {
    sendJson(response, 400, { error: 'KFTPD_BAN_INVALID_REQUEST' });
    return;
  }
  const result = await options.bans.ban(address, {
    ...(durationMs === undefined ? {} : { durationMs: durationMs as number }),
    ...(reason === undefined ? {} : { reason }),
  });
  options.onAction?.('ban', { address, ok: result.ok, ...(result.ok ? {} : { code: result.code }) });
  if (result.ok) {
    sendJson(response, 201, { ban: { ...result.ban, since: result.ban.since.toISOString(), until: result.ban.until.toISOString() } });
    return;
  }
  sendJson(response, result.code === 'KFTPD_BAN_SAFE_ADDRESS' ? 409 : result.code === 'KFTPD_DEFENDER_DISABLED' ? 409 : 400, { error: result.code });
}

/** The request body as text, or null when it is larger than MAX_BODY_BYTES. */
async function readBody(request: http.IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  response.end(`${JSON.stringify(body)}\n`);
}
