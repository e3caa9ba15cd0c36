/**
 * @module cli/commands/doctor
 * Owns `kftpd doctor --external HOST:PORT`: parses the options, reads the CA file and the
 * password (flag, KFTPD_DOCTOR_PASSWORD, or --password-stdin), runs the client-side checks of
 * doctor/diagnose.ts against the balancer's VIP and prints the report.
 * Must not: exit the process (main.ts owns exit codes). Exit codes: 0 no failure, 1 a check
 * failed, 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { diagnose, type DoctorOptions, type TlsMode } from '../../doctor/diagnose.js';
import { formatReportJson, formatReportText, reportExitCode } from '../../doctor/report.js';
import { runRenderCheck } from '../doctor-render-check.js';
import { firstLine } from './hash-password.js';

export interface DoctorIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readStdin: () => Promise<string>;
  readonly env: NodeJS.ProcessEnv;
}

export const DOCTOR_USAGE = [
  'usage: kftpd doctor --external HOST:PORT [options]',
  '       kftpd doctor --render-check --config FILE --cluster-state FILE [--declaration FILE]',
  '         (compare a deployment with kftpd render; see kftpd doctor --render-check --help)',
  '',
  'Checks a kftpd deployment from a client\'s point of view, through the load balancer: greeting,',
  'PROXY header, TLS, login, which replica answered (STAT), then PASV and EPSV probes that connect',
  'to the announced data address and LIST end to end. Prints one line per check with a hint.',
  '',
  '  --external HOST:PORT  the balancer\'s VIP and control port ([v6addr]:port for IPv6)',
  '  --tls MODE            explicit (AUTH TLS, fail if refused), implicit (TLS from the first byte),',
  '                        none, or auto (default: AUTH TLS, clear text with a warning if refused)',
  '  --ca FILE             PEM CA bundle to verify the server certificate with',
  '  --insecure            do not verify the server certificate',
  '  --servername NAME     name expected in the certificate (default: HOST when it is a name)',
  '  --user NAME           default: anonymous',
  '  --password P          or KFTPD_DOCTOR_PASSWORD, or --password-stdin (first line of stdin)',
  '  --probes N            PASV/EPSV probes, alternating (default 6)',
  '  --sessions N          control connections the probes are spread over (default 3)',
  '  --timeout MS          bound of every single wait (default 5000)',
  '  --sftp HOST:PORT      also check SFTP through the balancer (PORT alone: the --external host):',
  '                        SSH connections per host key type, all at once, reading each replica\'s',
  '                        host key; replicas presenting different keys fail (SFTP_HOST_KEY_MISMATCH)',
  '  --sftp-connections N  SSH connections per host key type (default 8)',
  '  --json                machine-readable report',
  '',
  'Exit codes: 0 no check failed, 1 a check failed, 2 usage error.',
].join('\n');

/** "host:port", "[v6]:port"; null when malformed. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!match) return null;
  const host = match[1] as string;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return null;
  if (text.startsWith('[') && isIP(host) !== 6) return null;
  return { host, port };
}

function positiveInt(value: string | undefined, fallback: number, max: number): number | null {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) return null;
  const n = Number(value);
  return n >= 1 && n <= max ? n : null;
}

const TLS_MODES: readonly string[] = ['auto', 'explicit', 'implicit', 'none'];

export async function runDoctor(args: string[], io: DoctorIo): Promise<number> {
  if (args.includes('--render-check')) return runRenderCheck(args, io);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        external: { type: 'string' },
        tls: { type: 'string' },
        ca: { type: 'string' },
        insecure: { type: 'boolean' },
        servername: { type: 'string' },
        user: { type: 'string' },
        password: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        probes: { type: 'string' },
        sessions: { type: 'string' },
        timeout: { type: 'string' },
        sftp: { type: 'string' },
        'sftp-connections': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr(`kftpd doctor: ${(error as Error).message}\n\n${DOCTOR_USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    io.stdout(`${DOCTOR_USAGE}\n`);
    return 0;
  }
  const problems: string[] = [];
  const target = typeof values.external === 'string' ? parseHostPort(values.external) : null;
  if (values.external === undefined) problems.push('--external HOST:PORT is required');
  else if (!target) problems.push(`--external ${String(values.external)}: expected HOST:PORT or [IPv6]:PORT`);
  const tlsMode = (values.tls ?? 'auto') as string;
  if (!TLS_MODES.includes(tlsMode)) problems.push(`--tls ${tlsMode}: expected explicit, implicit, none or auto`);
  const probes = positiveInt(values.probes as string | undefined, 6, 100);
  if (probes === null) problems.push('--probes must be an integer 1-100');
  const sessions = positiveInt(values.sessions as string | undefined, 3, 20);
  if (sessions === null) problems.push('--sessions must be an integer 1-20');
  const timeoutMs = positiveInt(values.timeout as string | undefined, 5000, 600_000);
  if (timeoutMs === null) problems.push('--timeout must be milliseconds 1-600000');
  const sftpConnections = positiveInt(values['sftp-connections'] as string | undefined, 8, 64);
  if (sftpConnections === null) problems.push('--sftp-connections must be an integer 1-64');
  const sftpText = values.sftp as string | undefined;
  const sftp = sftpText === undefined || target === null ? undefined : /^\d{1,5}$/.test(sftpText) ? { host: target.host, port: Number(sftpText) } : parseHostPort(sftpText);
  if (sftpText !== undefined && (sftp === null || (sftp !== undefined && (sftp.port < 1 || sftp.port > 65535)))) problems.push(`--sftp ${sftpText}: expected HOST:PORT, [IPv6]:PORT or PORT`);
  if (values.insecure === true && values.ca !== undefined) problems.push('--insecure and --ca exclude each other');
  if (values.password !== undefined && values['password-stdin'] === true) problems.push('--password and --password-stdin exclude each other');
  if (problems.length > 0 || !target || probes === null || sessions === null || timeoutMs === null || sftpConnections === null) {
    io.stderr(`${problems.map((p) => `kftpd doctor: ${p}`).join('\n')}\n\n${DOCTOR_USAGE}\n`);
    return 2;
  }

  let ca: Buffer | undefined;
  if (typeof values.ca === 'string') {
    try {
      ca = await readFile(values.ca);
    } catch (error) {
      io.stderr(`kftpd doctor: cannot read --ca ${values.ca}: ${(error as Error).message}\n`);
      return 2;
    }
  }
  let password = values.password as string | undefined;
  if (values['password-stdin'] === true) password = firstLine(await io.readStdin());
  else password ??= io.env.KFTPD_DOCTOR_PASSWORD;

  const options: DoctorOptions = {
    host: target.host,
    port: target.port,
    tls: tlsMode as TlsMode,
    insecure: values.insecure === true,
    probes,
    sessions,
    timeoutMs,
    ...(ca ? { ca } : {}),
    ...(typeof values.servername === 'string' ? { servername: values.servername } : {}),
    ...(typeof values.user === 'string' ? { user: values.user } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(sftp ? { sftp: { ...sftp, connections: sftpConnections } } : {}),
  };
  const report = await diagnose(options);
  io.stdout(values.json === true ? formatReportJson(report) : formatReportText(report));
  return reportExitCode(report);
}
