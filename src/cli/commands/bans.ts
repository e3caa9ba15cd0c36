/**
 * @module cli/commands/bans
 * Owns `kftpd bans list|lift|add`: the defender's bans of running replicas, through their
 * admin listeners (GET/DELETE/POST /bans, bearer token from a file). With a shared store
 * (cluster.redis.url) any one replica acts on the whole service; without one bans are per
 * replica, so --admin may be repeated to act on every replica at once.
 * Must not: print the token, take the token itself on the command line (it would show in `ps`
 * and shell history), or exit the process.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CliIo } from '../io.js';

export const BANS_USAGE = [
  'usage: kftpd bans list [--json]                      list the bans (of the whole service with',
  '                                                     cluster.redis.url, else of each replica)',
  '       kftpd bans lift <address>                     lift a ban (an IPv6 address lifts its /64 network)',
  '       kftpd bans add <address> [--duration-ms N] [--reason TEXT]   ban by hand',
  '',
  'Options:',
  '  --admin <url>        admin listener of a replica (repeatable, for replicas that share no',
  '                       store; also KFTPD_ADMIN_URL;',
  '                       default http://127.0.0.1:9090)',
  '  --token-file <file>  file holding the admin bearer token (the server\'s admin.tokenFile;',
  '                       also KFTPD_ADMIN_TOKEN_FILE, or the token itself in KFTPD_ADMIN_TOKEN)',
  '',
  'Exit codes: 0 done (lift: also when the address was not banned), 1 a replica failed or',
  'refused the token, 2 usage.',
].join('\n');

const DEFAULT_ADMIN = 'http://127.0.0.1:9090';
const REQUEST_TIMEOUT_MS = 5000;

interface BanJson {
  address: string;
  since: string;
  until: string;
  remainingMs: number;
  offences: number;
  reason: string;
  manual: boolean;
}

export async function runBans(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        admin: { type: 'string', multiple: true },
        'token-file': { type: 'string' },
        json: { type: 'boolean' },
        'duration-ms': { type: 'string' },
        reason: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    return usage(io, (error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(`${BANS_USAGE}\n`);
    return 0;
  }
  const [action, address, ...extra] = positionals;
  if (extra.length > 0) return usage(io, `unexpected argument ${JSON.stringify(extra[0])}`);
  if (action !== 'list' && action !== 'lift' && action !== 'add') return usage(io, action === undefined ? 'missing action (list, lift or add)' : `unknown action ${JSON.stringify(action)}`);
  if (action === 'list' && address !== undefined) return usage(io, `unexpected argument ${JSON.stringify(address)}`);
  if (action !== 'list' && (address === undefined || address === '')) return usage(io, `bans ${action} needs an address`);
  let durationMs: number | undefined;
  if (values['duration-ms'] !== undefined) {
    durationMs = Number(values['duration-ms']);
    if (!Number.isInteger(durationMs) || durationMs <= 0) return usage(io, '--duration-ms must be a positive integer');
  }

  const token = await readToken(values['token-file'] ?? io.env['KFTPD_ADMIN_TOKEN_FILE'], io.env['KFTPD_ADMIN_TOKEN']);
  if (!token.ok) {
    io.stderr(`kftpd bans: ${token.message}\n`);
    return 2;
  }
  const admins = values.admin ?? [io.env['KFTPD_ADMIN_URL'] ?? DEFAULT_ADMIN];
  let failed = false;
  const listed: { admin: string; bans: BanJson[] }[] = [];
  for (const admin of admins) {
    const base = admin.replace(/\/+$/, '');
    const prefix = admins.length > 1 ? `${base}: ` : '';
    try {
      if (action === 'list') {
        const response = await call(`${base}/bans`, { method: 'GET' }, token.value);
        if (response.status !== 200) throw new Error(describe(response));
        listed.push({ admin: base, bans: (response.body as { bans: BanJson[] }).bans });
      } else if (action === 'lift') {
        const response = await call(`${base}/bans/${encodeURIComponent(address ?? '')}`, { method: 'DELETE' }, token.value);
        if (response.status === 200) io.stdout(`${prefix}lifted the ban of ${(response.body as { lifted: string }).lifted}\n`);
        else if (response.status === 404 && (response.body as { error?: string } | null)?.error === 'KFTPD_BAN_NOT_FOUND') io.stdout(`${prefix}${address ?? ''} is not banned\n`);
        else throw new Error(describe(response));
      } else {
        const body = JSON.stringify({ address, ...(durationMs === undefined ? {} : { durationMs }), ...(values.reason === undefined ? {} : { reason: values.reason }) });
        const response = await call(`${base}/bans`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }, token.value);
        if (response.status !== 201) throw new Error(describe(response));
        const ban = (response.body as { ban: BanJson }).ban;
        io.stdout(`${prefix}banned ${ban.address} until ${ban.until}\n`);
      }
    } catch (error) {
      failed = true;
      io.stderr(`kftpd bans: ${base}: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  if (action === 'list') io.stdout(values.json ? `${JSON.stringify(admins.length > 1 ? listed : (listed[0]?.bans ?? []), null, 2)}\n` : formatList(listed, admins.length > 1));
  return failed ? 1 : 0;
}

function formatList(listed: readonly { admin: string; bans: readonly BanJson[] }[], several: boolean): string {
  let out = '';
  for (const { admin, bans } of listed) {
    if (several) out += `${admin}:\n`;
    if (bans.length === 0) {
      out += 'no bans\n';
      continue;
    }
    const rows = bans.map((b) => [b.address, b.until, `${Math.ceil(b.remainingMs / 1000)}s`, String(b.offences), b.manual ? `${b.reason} (manual)` : b.reason]);
    const header = ['ADDRESS', 'UNTIL', 'REMAINING', 'OFFENCES', 'REASON'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    for (const row of [header, ...rows]) out += `${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`;
  }
  return out;
}

async function readToken(file: string | undefined, inline: string | undefined): Promise<{ ok: true; value: string } | { ok: false; message: string }> {
  if (file) {
    try {
      const value = (await readFile(file, 'utf8')).trim();
      if (value === '') return { ok: false, message: `token file ${file} is empty` };
      return { ok: true, value };
    } catch (error) {
      return { ok: false, message: `cannot read the token file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
    }
  }
  if (inline) return { ok: true, value: inline.trim() };
  return { ok: false, message: 'no admin token: pass --token-file (or set KFTPD_ADMIN_TOKEN_FILE or KFTPD_ADMIN_TOKEN)' };
}

async function call(url: string, init: { method: string; body?: string; headers?: Record<string, string> }, token: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method: init.method,
    headers: { ...init.headers, authorization: `Bearer ${token}` },
    ...(init.body === undefined ? {} : { body: init.body }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: response.status, body };
}

function describe(response: { status: number; body: unknown }): string {
  const code = (response.body as { error?: string } | null)?.error;
  switch (response.status) {
    case 401:
      return 'the admin token was refused (401)';
    case 403:
      return 'the server cannot read its admin.tokenFile (403)';
    case 404:
      return code === 'KFTPD_NOT_FOUND' ? 'no /bans endpoint: set admin.tokenFile on the server (404)' : `not found (${code ?? 404})`;
    default:
      return `HTTP ${response.status}${code ? ` ${code}` : ''}`;
  }
}

function usage(io: CliIo, message: string): number {
  io.stderr(`kftpd bans: ${message}\n${BANS_USAGE}\n`);
  return 2;
}
