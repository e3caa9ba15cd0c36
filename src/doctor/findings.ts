/**
 * @module doctor/findings
 * Everything `kftpd doctor` can report: the stable finding codes, their severities, and the
 * plain-words message and fix hint of each. Codes never change meaning (scripts match on them);
 * texts may improve. Pure: no I/O.
 */

export type Severity = 'ok' | 'warn' | 'fail';

export const FINDING_CODES = [
  'CONTROL_CONNECT_FAILED',
  'PROXY_HEADER_MISSING',
  'PROXY_HEADER_UNEXPECTED',
  'GREETING_TIMEOUT',
  'GREETING_UNEXPECTED',
  'SERVER_UNAVAILABLE',
  'CONTROL_OK',
  'TLS_OK',
  'TLS_NOT_OFFERED',
  'TLS_REFUSED',
  'TLS_CERT_UNTRUSTED',
  'TLS_HANDSHAKE_FAILED',
  'TLS_NOT_VERIFIED',
  'LOGIN_OK',
  'LOGIN_FAILED',
  'LOGIN_NEEDS_TLS',
  'DATA_PROTECTION_REFUSED',
  'REPLICA_OK',
  'REPLICA_UNKNOWN',
  'PASV_OK',
  'EPSV_OK',
  'PASV_REFUSED',
  'EPSV_REFUSED',
  'PASSIVE_REPLY_MALFORMED',
  'PASV_ADDRESS_UNSPECIFIED',
  'PASV_ADDRESS_PRIVATE',
  'PASV_ADDRESS_MISMATCH',
  'PORT_OUTSIDE_SLICE',
  'DATA_PORT_REFUSED',
  'DATA_PORT_TIMEOUT',
  'DATA_HOST_UNREACHABLE',
  'DATA_MISROUTED',
  'TLS_REUSE_REFUSED',
  'DATA_TLS_FAILED',
  'DATA_PROTECTION_REQUIRED',
  'LIST_FAILED',
  'PROBE_TIMEOUT',
  'SFTP_HOST_KEYS_OK',
  'SFTP_HOST_KEY_MISMATCH',
  'SFTP_CONNECT_FAILED',
] as const;

export type FindingCode = (typeof FINDING_CODES)[number];

export interface Finding {
  readonly code: FindingCode;
  readonly severity: Severity;
  /** One line, plain words: what was seen. */
  readonly message: string;
  /** How to fix it (absent on OK findings). */
  readonly hint?: string;
}

function make(code: FindingCode, severity: Severity, message: string, hint?: string): Finding {
  return hint === undefined ? { code, severity, message } : { code, severity, message, hint };
}

const PROXY_HINT = 'proxy.control/proxy.implicit/proxy.passive must match the balancer: send PROXY v2 from every virtual server (HAProxy send-proxy-v2, F5 proxy-protocol iRule/profile) and list its addresses in proxy.trustedCidrs, or set the listener to off';

export const findings = {
  controlConnectFailed: (target: string, reason: string): Finding =>
    make('CONTROL_CONNECT_FAILED', 'fail', `cannot open the control connection to ${target}: ${reason}`, 'check the VIP address and control port, the balancer virtual server, firewalls, and that the replicas are ready (/readyz)'),

  proxyHeaderMissing: (afterMs: number): Finding =>
    make(
      'PROXY_HEADER_MISSING',
      'fail',
      `the connection was closed after ${afterMs} ms without a greeting: kftpd does this when proxy.control is "required" and no PROXY header arrives (at once for an untrusted source, after proxy.headerTimeoutMs for a trusted balancer)`,
      `the balancer's control virtual server must send a PROXY header (HAProxy: send-proxy-v2 on the server lines), or set proxy.control to "off"/"optional"; the replicas log proxy.refused. ${PROXY_HINT}`,
    ),

  proxyHeaderUnexpected: (replies: string): Finding =>
    make(
      'PROXY_HEADER_UNEXPECTED',
      'fail',
      `right after the greeting the server answered commands nobody sent (${replies}): something in front of it (a balancer's PROXY header) wrote bytes the server took for FTP commands`,
      `set proxy.control: required (and proxy.trustedCidrs to the balancer's addresses) when the balancer sends PROXY, or stop sending it. ${PROXY_HINT}`,
    ),

  greetingTimeout: (ms: number): Finding =>
    make('GREETING_TIMEOUT', 'fail', `no greeting within ${ms} ms after connecting`, 'the balancer accepts but no replica answers: check the backend pool/health monitors, and whether a PROXY header is required but not sent (proxy.headerTimeoutMs)'),

  greetingUnexpected: (reply: string): Finding =>
    make('GREETING_UNEXPECTED', 'fail', `unexpected greeting: ${reply}`, 'is an FTP server listening on this port? (for implicit FTPS use --tls implicit)'),

  serverUnavailable: (reply: string): Finding =>
    make('SERVER_UNAVAILABLE', 'fail', `the server refused the session: ${reply}`, 'the replica is draining or a connection limit was hit (limits.maxConnections, limits.maxConnectionsPerAddress); the balancer should route new sessions only to ready replicas (/readyz health check)'),

  controlOk: (sessions: number, greetingMs: number, greeting: string): Finding =>
    make('CONTROL_OK', 'ok', `${sessions} control connection(s), greeting in ${greetingMs} ms: ${greeting}`),

  tlsOk: (protocol: string, subject: string): Finding => make('TLS_OK', 'ok', `AUTH TLS / implicit TLS: ${protocol}, certificate ${subject}`),

  tlsNotOffered: (reply: string): Finding =>
    make('TLS_NOT_OFFERED', 'warn', `AUTH TLS refused (${reply}); continuing in clear text: passwords and files cross the network unprotected`, 'configure tls.certFile/tls.keyFile (or the self-signed default) and tls.control: required'),

  tlsRefused: (reply: string): Finding =>
    make('TLS_REFUSED', 'fail', `AUTH TLS refused: ${reply}`, 'the server does not offer explicit FTPS: set tls.control to optional/required with a certificate, or run the doctor with --tls none or --tls implicit'),

  tlsCertUntrusted: (reason: string): Finding =>
    make('TLS_CERT_UNTRUSTED', 'fail', `the server certificate is not trusted: ${reason}`, 'pass the issuing CA with --ca FILE and the name in the certificate with --servername, or fix tls.certFile (its SAN must name the VIP address or DNS name clients use); --insecure skips the check'),

  tlsHandshakeFailed: (reason: string): Finding =>
    make('TLS_HANDSHAKE_FAILED', 'fail', `TLS handshake on the control connection failed: ${reason}`, 'check tls.minVersion, that the balancer passes TLS through untouched (no TLS termination, no PROXY header on a listener that does not expect it), and --tls explicit vs implicit'),

  tlsNotVerified: (reason: string | null): Finding =>
    make('TLS_NOT_VERIFIED', 'warn', `the server certificate was not verified (--insecure)${reason ? `; verification would fail: ${reason}` : ''}`, 'run again with --ca FILE to check the certificate clients will see'),

  loginOk: (user: string): Finding => make('LOGIN_OK', 'ok', `logged in as ${user}`),

  loginFailed: (user: string, reply: string, anonymous: boolean): Finding =>
    make(
      'LOGIN_FAILED',
      'fail',
      `login as ${user} refused: ${reply}`,
      anonymous
        ? 'anonymous login is off (anonymous.enabled): pass --user and --password (or KFTPD_DOCTOR_PASSWORD, or stdin)'
        : 'check the user name and password (kftpd user add), that the user is enabled, and that the users file reached every replica',
    ),

  loginNeedsTls: (reply: string): Finding =>
    make('LOGIN_NEEDS_TLS', 'fail', `the server requires TLS before login: ${reply}`, 'run the doctor with --tls explicit (the default) or --tls implicit'),

  dataProtectionRefused: (command: string, reply: string): Finding =>
    make('DATA_PROTECTION_REFUSED', 'fail', `${command} refused: ${reply}`, 'RFC 4217 §9: PBSZ 0 then PROT P must be accepted after AUTH TLS; check tls.data'),

  replicaOk: (text: string): Finding => make('REPLICA_OK', 'ok', text),

  replicaUnknown: (): Finding =>
    make('REPLICA_UNKNOWN', 'warn', 'the server does not say which replica answered (no "Replica N of M" line in STAT): slice checks skipped', 'upgrade the replicas to a kftpd that reports its replica in STAT'),

  passiveOk: (mode: 'PASV' | 'EPSV', text: string): Finding => make(mode === 'PASV' ? 'PASV_OK' : 'EPSV_OK', 'ok', `${mode}: ${text}`),

  passiveRefused: (mode: 'PASV' | 'EPSV', reply: string, otherWorks: boolean): Finding =>
    make(
      mode === 'PASV' ? 'PASV_REFUSED' : 'EPSV_REFUSED',
      otherWorks ? 'warn' : 'fail',
      `${mode} refused: ${reply}`,
      mode === 'EPSV'
        ? 'EPSV (RFC 2428) is what curl and IPv6 clients try first; a balancer or firewall ALG may block it, or EPSV ALL was sent'
        : 'PASV is what older clients use; IPv6 sessions can only use EPSV (RFC 2428)',
    ),

  passiveReplyMalformed: (mode: 'PASV' | 'EPSV', reply: string): Finding =>
    make('PASSIVE_REPLY_MALFORMED', 'fail', `cannot read the ${mode} reply: ${reply}`, 'an FTP-aware balancer or firewall (ALG) may be rewriting replies; use plain TCP forwarding'),

  pasvAddressUnspecified: (announced: string): Finding =>
    make('PASV_ADDRESS_UNSPECIFIED', 'fail', `PASV announces ${announced}, which no client can connect to`, 'set passive.address to the VIP (address or DNS name) clients connect to'),

  pasvAddressPrivate: (announced: string, scope: string, dialled: string, reachable: boolean): Finding =>
    make(
      'PASV_ADDRESS_PRIVATE',
      reachable ? 'warn' : 'fail',
      `PASV announces ${announced} (${scope}) but the doctor dialled ${dialled}${reachable ? '; it works from here, clients outside that network cannot reach it' : ', and it cannot be reached from here'}`,
      `set passive.address to the VIP (${dialled}), or passive.overrides for in-cluster client networks (e.g. "10.0.0.0/8=<pod IP>"); curl's default --ftp-skip-pasv-ip hides this problem, other clients do not`,
    ),

  pasvAddressMismatch: (announced: string, dialled: string, reachable: boolean): Finding =>
    make(
      'PASV_ADDRESS_MISMATCH',
      reachable ? 'warn' : 'fail',
      `PASV announces ${announced} but the doctor dialled ${dialled}${reachable ? ' (the data connection there works)' : ' and that address cannot be reached'}`,
      `set passive.address to the address clients dial (${dialled}), use passive.useDestination when the balancer sends PROXY, or passive.overrides per client network; a separate data VIP must forward the same port slices`,
    ),

  portOutsideSlice: (port: number, replica: number, range: string, owner: number | null): Finding =>
    make(
      'PORT_OUTSIDE_SLICE',
      'fail',
      `replica ${replica} announced port ${port}, outside its slice ${range}${owner === null ? '' : `: the port belongs to replica ${owner}'s slice`}`,
      'passive.portOffset or passive.replicas/portMin/portMax differ between the replicas and the balancer mapping; every replica must use the same range, replicas count and offset',
    ),

  dataPortRefused: (where: string): Finding =>
    make('DATA_PORT_REFUSED', 'fail', `data connection to ${where} refused`, 'the balancer does not forward this port (no data virtual server/listener for the slice), the port translation is wrong (passive.portOffset), a NetworkPolicy blocks it, or the data Service is missing'),

  dataPortTimeout: (where: string, ms: number): Finding =>
    make('DATA_PORT_TIMEOUT', 'fail', `data connection to ${where} not established within ${ms} ms`, 'a firewall/security group drops the passive port range, or the announced address is not routable from the client; open passive.portMin..portMax on the VIP'),

  dataHostUnreachable: (where: string, reason: string): Finding =>
    make('DATA_HOST_UNREACHABLE', 'fail', `data connection to ${where}: ${reason}`, 'the announced address is not routable from the client: set passive.address to the VIP'),

  dataMisrouted: (text: string): Finding =>
    make(
      'DATA_MISROUTED',
      'fail',
      `data connections were accepted by the balancer and then closed before reaching the session that announced them: ${text}`,
      'each slice of ports must be forwarded to the one replica that owns it (see STAT and kftpd render); if the mapping is right, the data virtual servers must send the PROXY header when proxy.passive is required, or the balancer SNATs without PROXY while passive.requireSameAddress is on',
    ),

  tlsReuseRefused: (reply: string, resumed: boolean): Finding =>
    make(
      'TLS_REUSE_REFUSED',
      'fail',
      `the server refused the data connection's TLS session: ${reply}${resumed ? ' although the client resumed a session' : ''}`,
      'tls.sessionReuse: enforced requires clients to resume the control connection\'s TLS session (curl, lftp, FileZilla do); a balancer that terminates TLS breaks this, use TCP pass-through; for clients that cannot, set tls.sessionReuse: enabled',
    ),

  dataTlsFailed: (reason: string): Finding =>
    make('DATA_TLS_FAILED', 'fail', `TLS on the data connection failed: ${reason}`, 'the balancer must pass the data ports through as plain TCP (no TLS termination); check tls.minVersion'),

  dataProtectionRequired: (reply: string): Finding =>
    make('DATA_PROTECTION_REQUIRED', 'fail', `the server requires protected data connections: ${reply}`, 'tls.data is required: clients must use FTPS with PROT P (run the doctor with --tls explicit)'),

  listFailed: (reply: string): Finding =>
    make('LIST_FAILED', 'fail', `LIST failed: ${reply}`, 'check the user\'s home directory and list permission, and the shared storage on every replica'),

  sftpHostKeysOk: (target: string, connections: number, keys: string): Finding =>
    make('SFTP_HOST_KEYS_OK', 'ok', `SFTP ${target}: ${connections} connections presented the same host keys: ${keys}`),

  sftpHostKeyMismatch: (target: string, keys: string): Finding =>
    make(
      'SFTP_HOST_KEY_MISMATCH',
      'fail',
      `SFTP ${target}: the replicas behind the balancer present different host keys (${keys}); a client that pinned one gets "REMOTE HOST IDENTIFICATION HAS CHANGED" when the balancer picks another`,
      'every replica must load the same keys: generate them once (kftpd sftp host-keys generate --out DIR), list them in sftp.hostKeyFiles and create the one Secret kftpd render kubernetes mounts in every pod (keys generated per replica in stateDir differ)',
    ),

  sftpConnectFailed: (target: string, reason: string): Finding =>
    make('SFTP_CONNECT_FAILED', 'fail', `SFTP ${target}: ${reason}`, 'check the SFTP virtual server (VIP:22 to sftp.port on every replica), that sftp.enabled is on, and that proxy.sftp matches the balancer (a PROXY header on the SSH virtual when it is required, none when it is off)'),

  probeTimeout: (what: string, ms: number): Finding =>
    make('PROBE_TIMEOUT', 'fail', `${what}: no answer within ${ms} ms`, 'the replica or the balancer stalls; check the balancer idle timeouts and the replica logs'),
} as const;
