/**
 * @module config/schema
 * The one config schema: types, defaults, validation and documentation come from here.
 * `Config` is derived from it, never written by hand. Env names (KFTPD_*) and CLI flags
 * (--a.b) are derived from the leaf paths (see config/config-leaves.ts). Pure: no I/O.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { isCidrList } from '../core/cidr.js';
import { checkPortOffsetRange, validateAdvertiseOptions } from '../core/advertise-options.js';
import { isDnsName } from '../core/dns-name.js';
import { PassiveSliceError, sliceTable } from '../core/passive-slices.js';
import { deploySchema } from './deploy-schema.js';
import { clusterSchema } from './cluster-schema.js';
import { accessSchema, defenderSchema } from './security-schema.js';
import { sftpPortProblem, sftpSchema } from './sftp-schema.js';

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);
const ms = z.number().int().min(0);

const listenSchema = z
  .strictObject({
    host: host.default('127.0.0.1').describe('Address the control listener binds to ("::" or "0.0.0.0" for all).'),
    port: port.default(2121).describe('Control port (21 in production; 2121 needs no privileges).'),
  })
  .describe('Control listener.');

const passiveSchema = z
  .strictObject({
    portMin: port.default(50000).describe('First port of the passive range (0 with portMax 0: kernel-chosen ports, for tests).'),
    portMax: port.default(50100).describe('Last port of the passive range (inclusive).'),
    address: z
      .string()
      .refine((value) => value === '' || isIP(value) !== 0 || isDnsName(value), 'must be an IPv4 or IPv6 address or a DNS name')
      .default('')
      .describe('Address advertised in PASV replies (EPSV carries only the port): an IP, or a DNS name re-resolved every dnsCacheMs (e.g. the load balancer\'s VIP name). Empty: the local address of the control connection.'),
    overrides: z
      .array(z.string())
      .default([])
      .describe('Per-client-network advertised addresses, "CIDR=address" (first match wins, on the real client address), e.g. "10.0.0.0/8=10.1.2.3" so in-cluster clients get the pod address while the world gets the VIP.'),
    useDestination: z
      .boolean()
      .default(false)
      .describe('Advertise the address the client connected to (the PROXY header\'s destination when present).'),
    dnsCacheMs: ms.default(30_000).describe('How long a resolved passive.address name is used before it is looked up again.'),
    portOffset: z
      .number()
      .int()
      .min(-65535)
      .max(65535)
      .default(0)
      .describe('Advertised port = listening port + offset, for balancers that translate ports.'),
    shareByClientAddress: z
      .boolean()
      .default(false)
      .describe('Let one passive port wait for several different client addresses at once, each connection matched to its session by address, so a small range (a cloud NLB allows ~50 listeners) serves many clients. Needs requireSameAddress.'),
    replicas: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Replicas sharing the passive range: it is split into this many equal, disjoint slices, one per replica.'),
    replicaIndex: z
      .number()
      .int()
      .min(-1)
      .default(-1)
      .describe('This replica\'s slice (0-based). -1: from the "-N" suffix of the host name (a StatefulSet pod name).'),
    acceptTimeoutMs: ms.default(30_000).describe('How long a passive port waits for the client to connect.'),
    listenerIdleMs: ms
      .default(60_000)
      .describe('Passive listening sockets stay bound across PASV/EPSV commands (no bind per file) and are closed after this long without a lease (checked every quarter of it). 0: close each port as soon as its lease ends (a bind per PASV).'),
    requireSameAddress: z
      .boolean()
      .default(true)
      .describe('Accept a data connection only from the control connection\'s client address (anti-hijack).'),
  })
  .describe('Passive data connections (PASV, EPSV).');

const activeSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Allow active mode (PORT, EPRT). Off by default.'),
    connectTimeoutMs: ms.default(10_000).describe('Timeout for connecting to the client in active mode.'),
  })
  .describe('Active data connections. The server connects only to the control client\'s own address and to ports >= 1024.');

const limitsSchema = z
  .strictObject({
    maxSessions: z.number().int().min(1).default(1000).describe('Maximum concurrent control connections.'),
    maxSessionsPerAddress: z.number().int().min(1).default(50).describe('Maximum concurrent control connections per client address.'),
    loginTimeoutMs: ms.default(60_000).describe('Close a connection that has not logged in within this time.'),
    idleTimeoutMs: ms.default(900_000).describe('Close a logged-in session idle this long (never during a transfer).'),
    maxFailedLogins: z.number().int().min(1).default(3).describe('Failed logins allowed per connection before it is closed.'),
    keepAliveMs: ms
      .default(60_000)
      .describe('TCP keepalive on control connections: first probe after this much silence (keep it below the load balancer\'s idle timeout; 0 disables).'),
    failedLoginDelayMs: ms.default(1000).describe('Delay before answering a failed login (slows password guessing).'),
    maxCommandLineBytes: z.number().int().min(512).max(65536).default(4096).describe('Longest command line accepted (longer ones get 500).'),
    maxSessionsPerUser: z.number().int().min(0).default(0).describe('Maximum concurrent logged-in sessions per user name, across this replica, or across every replica with cluster.redis.url (0: unlimited). The login beyond it gets 530 and the connection stays open.'),
    commandsPerSecond: z.number().min(0).default(5000).describe('Commands per second per session (token bucket; 0: unlimited). Faster commands are delayed, not dropped; a client that floods on fills its 256-line queue and gets 421. A batch of small files costs about four commands per file, so keep it well above four times the files per second a partner may push.'),
    commandBurst: z.number().int().min(1).default(10000).describe('Commands a session may send at once before commandsPerSecond applies.'),
    maxPathBytes: z.number().int().min(0).default(4096).describe('Longest virtual path (UTF-8 bytes) a command may name; longer ones get 553 (0: no limit).'),
    maxPathDepth: z.number().int().min(0).default(64).describe('Deepest virtual path (directory levels) a command may name; deeper ones get 553 (0: no limit).'),
    maxListEntries: z.number().int().min(0).default(0).describe('Entries one LIST/NLST/MLSD may send; a bigger listing is cut off with 451 (0: no limit; listings are streamed in batches either way).'),
    maxConcurrentHashes: z.number().int().min(0).default(2).describe('HASH/XCRC/XMD5/XSHA* computations running at once on this replica (each reads a whole file); more wait their turn (0: no limit).'),
  })
  .describe('Session limits.');

const usersSchema = z
  .strictObject({
    file: z.string().default('').describe('YAML users file (password hashes). Empty: the quick-start user in stateDir.'),
    reloadIntervalMs: ms.default(2000).describe('How often the users file is checked for changes (Kubernetes updates mounted Secrets in place).'),
    verificationCache: z
      .boolean()
      .default(true)
      .describe(
        'Remember successful password checks in memory (at most 1,000, keyed by an HMAC under a per-process secret, dropped when the hash changes) so a client that logs in again and again (a queue of short sessions) does not pay the scrypt hash each time; wrong passwords are always hashed. false: every login runs the hash (a policy that forbids caching, or a benchmark at equal login cost).',
      ),
  })
  .describe('Users.');

const anonymousSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Allow "anonymous" / "ftp" logins (read-only).'),
    home: z.string().default('/').describe('Virtual home of anonymous users inside the storage root.'),
  })
  .describe('Anonymous access.');

const storageSchema = z
  .strictObject({
    root: z.string().default('./data').describe('Directory served; users\' homes are inside it.'),
    uploadMode: z
      .enum(['resumable', 'atomic'])
      .default('resumable')
      .describe('resumable: uploads write in place and an interrupted upload stays as a partial file that REST/APPE can continue. atomic: uploads go to a hidden temporary file and appear under their name only when complete (an aborted upload never shows; resume and append copy the current file first).'),
    fsync: z
      .boolean()
      .default(false)
      .describe('Flush every upload to stable storage (fsync) before answering 226, so a confirmed file survives a node crash; costs throughput on real disks.'),
    nativeUploads: z
      .number()
      .int()
      .min(0)
      .default(64)
      .describe('Plain binary FTP uploads received at once by the native receiver: past an upload\'s first MiB, a thread of its own writes the rest from the data connection to the file (about 1.5x the JavaScript path\'s rate at two thirds of its CPU; smaller files never cost a thread). More at once, and FTPS, TYPE A or audit-digest uploads, stay on the JavaScript path. Needs the module built at install (a C compiler: see README); 0: never.'),
  })
  .describe('Local filesystem storage.');

const logSchema = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level.'),
    xferlog: z.string().default('').describe('Also write one xferlog-format line per file transfer (FTP and SFTP; service name `ftp` or `sftp`) to this file (empty: off).'),
    audit: z.string().default('').describe('Audit log (docs/audit-log.md): one JSON line per login attempt and file operation, appended to this file; "stdout": into the JSON logs as records with msg "audit" (empty: off).'),
    auditSha256: z.boolean().default(false).describe('Compute the SHA-256 of each binary upload and download on the fly for the audit log (costs CPU on every transfer).'),
  })
  .describe('Structured JSON logs on stdout.');

const shutdownSchema = z
  .strictObject({
    readinessDelayMs: ms
      .default(5000)
      .describe('On SIGTERM/SIGINT, /readyz fails at once but listeners keep accepting this long, so the load balancer sees "not ready" before connections are refused (only with admin.enabled: without a readiness probe there is nothing to wait for).'),
    drainTimeoutMs: ms.default(30_000).describe('After the listeners close, how long sessions may go on working before they get 421 (from half of this time on, every session is closed as soon as its running command ends).'),
    drainIdleMs: ms
      .default(2000)
      .describe('During a drain, a session is served while its client keeps sending commands (a short session finishes its STOR, RETR and QUIT) and gets 421 once it has sent none for this long. 0: close every session as soon as it is idle.'),
  })
  .describe('Graceful shutdown.');

const tlsSchema = z
  .strictObject({
    control: z
      .enum(['off', 'optional', 'required'])
      .default('optional')
      .describe('TLS on the control connection (RFC 4217 AUTH TLS): off, optional, or required (USER before AUTH gets 530; no password crosses in clear text).'),
    data: z
      .enum(['optional', 'required'])
      .default('optional')
      .describe('PROT P on data connections: optional, or required (PROT C is refused with 534, transfers without PROT P get 521).'),
    certFile: z
      .string()
      .default('')
      .describe('PEM certificate chain. Empty: a self-signed certificate is created in stateDir/tls on first start.'),
    keyFile: z.string().default('').describe('PEM private key for certFile.'),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Lowest TLS version accepted.'),
    maxVersion: z
      .enum(['TLSv1.2', 'TLSv1.3'])
      .default('TLSv1.3')
      .describe('Highest TLS version offered. TLSv1.2 serves partners whose client cannot resume TLS 1.3 sessions on data connections (curl with OpenSSL running several transfers on one connection or with -Z) while tls.sessionReuse stays enforced.'),
    ciphers: z.string().default('').describe('OpenSSL cipher list for TLS 1.2 (empty: Node\'s default). TLS 1.3 suites are always the secure defaults.'),
    sessionReuse: z
      .enum(['disabled', 'enabled', 'enforced'])
      .default('enforced')
      .describe('Data-channel TLS session reuse: enforced refuses (522) a data connection whose TLS session is not resumed from its own control connection or from another control connection of the same logged-in user from the same client address on this replica (clients with one session cache, such as curl -Z and rclone); enabled only logs it; disabled does not check.'),
    ccc: z
      .boolean()
      .default(false)
      .describe('Allow CCC (RFC 4217 §6): after login, the client may return the control connection to clear text so an FTP-aware firewall or load balancer can read PASV replies; credentials and data stay encrypted.'),
    handshakeTimeoutMs: ms.default(10_000).describe('Time allowed for a TLS handshake on control and data connections.'),
    reloadIntervalMs: ms.default(5000).describe('How often certificate files are checked for changes (new handshakes use the new certificate; sessions stay up).'),
    implicit: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Listen for implicit FTPS (TLS from the first byte).'),
        port: port.default(990).describe('Implicit FTPS port (990 by convention).'),
      })
      .prefault({})
      .describe('Implicit FTPS listener, on listen.host.'),
    clientCertificates: z
      .strictObject({
        mode: z.enum(['off', 'optional', 'required']).default('off').describe('Ask for a client certificate on the control connection: off, optional, or required.'),
        caFile: z.string().default('').describe('PEM CA bundle client certificates must chain to (required unless mode is off).'),
        usernameFrom: z
          .enum(['none', 'commonName'])
          .default('none')
          .describe('commonName: the login name must equal the certificate subject CN (the password is still checked).'),
      })
      .prefault({})
      .describe('Mutual TLS.'),
  })
  .describe('FTPS (RFC 4217): explicit AUTH TLS on the control port, implicit TLS on its own port.');

const proxyMode = z.enum(['off', 'optional', 'required']);

const proxySchema = z
  .strictObject({
    control: proxyMode.default('off').describe('PROXY protocol (v1 or v2) on the control listener: off, optional, or required.'),
    implicit: proxyMode.default('off').describe('PROXY protocol on the implicit FTPS listener.'),
    sftp: proxyMode.default('off').describe('PROXY protocol on the SFTP (SSH) listener.'),
    passive: proxyMode
      .default('off')
      .describe('PROXY protocol on passive data connections. With it off behind a SNAT balancer, data connections come from the balancer, not the client: set passive.requireSameAddress false or turn this on.'),
    trustedCidrs: z
      .array(z.string())
      .default([])
      .describe('Sources allowed to send a PROXY header (the balancers\' addresses); a header from anyone else is never believed.'),
    headerTimeoutMs: ms.default(3000).describe('How long to wait for the PROXY header (optional mode delays the greeting of direct clients by at most this).'),
  })
  .describe('PROXY protocol from the load balancer, so logs, limits and checks see the real client address.');

const adminSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Serve /healthz, /readyz and /metrics (Prometheus) over HTTP.'),
    host: host.default('127.0.0.1').describe('Admin listener address (0.0.0.0 in a pod so probes and Prometheus reach it).'),
    port: port.default(9090).describe('Admin listener port.'),
    tokenFile: z.string().default('').describe('File holding the bearer token for the /bans endpoints (mount it from a Kubernetes Secret; never put the token itself in the config). Empty: those endpoints answer 404.'),
  })
  .describe('Admin HTTP listener: liveness, readiness and metrics, on its own port.');

export const configSchema = z
  .strictObject({
    listen: listenSchema.prefault({}),
    passive: passiveSchema.prefault({}),
    active: activeSchema.prefault({}),
    limits: limitsSchema.prefault({}),
    users: usersSchema.prefault({}),
    anonymous: anonymousSchema.prefault({}),
    storage: storageSchema.prefault({}),
    log: logSchema.prefault({}),
    shutdown: shutdownSchema.prefault({}),
    tls: tlsSchema.prefault({}),
    admin: adminSchema.prefault({}),
    proxy: proxySchema.prefault({}),
    sftp: sftpSchema.prefault({}),
    defender: defenderSchema.prefault({}),
    access: accessSchema.prefault({}),
    cluster: clusterSchema.prefault({}),
    stateDir: z
      .string()
      .default('./.kftpd')
      .describe('Directory for server state kept out of the served tree (quick-start users file, generated certificates).'),
    serverName: z.string().default('kftpd').describe('Name shown in the greeting and SYST/STAT.'),
    hostNames: z
      .array(z.string())
      .default([])
      .describe('Names accepted by HOST (RFC 7151). Empty: any name is accepted.'),
    deploy: deploySchema.prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const { portMin, portMax } = config.passive;
    if (portMin > portMax) {
      ctx.addIssue({ code: 'custom', path: ['passive', 'portMax'], message: 'must be >= passive.portMin' });
    }
    const { tls } = config;
    if ((tls.certFile === '') !== (tls.keyFile === '')) {
      ctx.addIssue({ code: 'custom', path: ['tls', tls.certFile === '' ? 'certFile' : 'keyFile'], message: 'tls.certFile and tls.keyFile go together' });
    }
    if (tls.minVersion === 'TLSv1.3' && tls.maxVersion === 'TLSv1.2') {
      ctx.addIssue({ code: 'custom', path: ['tls', 'maxVersion'], message: 'must not be below tls.minVersion' });
    }
    if (tls.clientCertificates.mode !== 'off' && tls.clientCertificates.caFile === '') {
      ctx.addIssue({ code: 'custom', path: ['tls', 'clientCertificates', 'caFile'], message: 'needed when clientCertificates.mode is not off' });
    }
    if (tls.control === 'off' && (tls.implicit.enabled || tls.data === 'required')) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'control'], message: 'cannot be off with implicit TLS or tls.data required' });
    }
    for (const problem of validateAdvertiseOptions(config.passive)) {
      ctx.addIssue({ code: 'custom', path: ['passive', problem.split(/[:[ ]/)[0] ?? 'address'], message: problem });
    }
    const offsetProblem = checkPortOffsetRange(portMin, portMax, config.passive.portOffset);
    if (offsetProblem) ctx.addIssue({ code: 'custom', path: ['passive', 'portOffset'], message: offsetProblem });
    if (portMin <= portMax && (portMin === 0) === (portMax === 0)) {
      try {
        sliceTable({ portMin, portMax, replicas: config.passive.replicas });
      } catch (error) {
        if (!(error instanceof PassiveSliceError)) throw error;
        ctx.addIssue({ code: 'custom', path: ['passive', 'replicas'], message: error.message });
      }
    }
    const { proxy } = config;
    if (!isCidrList(proxy.trustedCidrs)) {
      ctx.addIssue({ code: 'custom', path: ['proxy', 'trustedCidrs'], message: 'every entry must be a CIDR or an IP address' });
    }
    if ((proxy.control !== 'off' || proxy.implicit !== 'off' || proxy.passive !== 'off' || proxy.sftp !== 'off') && proxy.trustedCidrs.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['proxy', 'trustedCidrs'], message: 'needed when the PROXY protocol is on (no header is believed from an untrusted source)' });
    }
    if (config.passive.shareByClientAddress && !config.passive.requireSameAddress) {
      ctx.addIssue({ code: 'custom', path: ['passive', 'shareByClientAddress'], message: 'needs passive.requireSameAddress (connections are matched to sessions by client address)' });
    }
    if (config.passive.replicaIndex >= config.passive.replicas) {
      ctx.addIssue({ code: 'custom', path: ['passive', 'replicaIndex'], message: 'must be below passive.replicas' });
    }
    if ((portMin === 0) !== (portMax === 0)) {
      ctx.addIssue({ code: 'custom', path: ['passive', 'portMin'], message: 'portMin and portMax must both be 0 (kernel-chosen) or both set' });
    }
    const sftpPort = sftpPortProblem({ sftp: config.sftp, listen: config.listen, implicit: tls.implicit, admin: config.admin, passive: config.passive });
    if (sftpPort) ctx.addIssue({ code: 'custom', path: ['sftp', 'port'], message: sftpPort });
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** Leaf paths whose values are secrets (redacted by check-config). */
export const SECRET_PATHS: readonly string[] = [];
