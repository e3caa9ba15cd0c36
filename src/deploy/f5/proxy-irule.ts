/**
 * @module deploy/f5/proxy-irule
 * The iRule that makes BIG-IP send a PROXY protocol v1 header (the human-readable one, which
 * an iRule can write with TCP::respond) to the pod before any byte of the client's, so kftpd
 * sees the real client address although BIG-IP SNATs. Same idea as the PROXY iRule F5 ships
 * for CIS IngressLink, written here for IPv4 and IPv6 and for BIG-IP route domains. Pure: text.
 */

/**
 * Tcl for BIG-IP. Notes on why it looks like this:
 * - The addresses are read in CLIENT_ACCEPTED: in SERVER_CONNECTED the IP:: and TCP:: commands
 *   describe the server-side connection (SNAT address to pod), not the client.
 * - BIG-IP writes "%<id>" after addresses in a non-default route domain; a PROXY header has no
 *   room for it, so it is cut off.
 * - TCP::respond in SERVER_CONNECTED goes to the server before BIG-IP forwards anything the
 *   client sent, which is what PROXY requires; it works for TLS passthrough too, since the header
 *   precedes the ClientHello and BIG-IP never looks inside TLS.
 * - The family comes from the client side: a v4 client on a v6 VIP cannot happen without NAT46,
 *   which this design does not use, so one version describes both addresses.
 * - "\r\n" is Tcl's escape, sent as CR LF; the line stays under the 107 bytes v1 allows.
 */
export const PROXY_V1_IRULE = [
  'when CLIENT_ACCEPTED {',
  '    set kftpd_src [getfield [IP::client_addr] "%" 1]',
  '    set kftpd_dst [getfield [IP::local_addr] "%" 1]',
  '    if { [IP::version] == 6 } { set kftpd_family "TCP6" } else { set kftpd_family "TCP4" }',
  '    set kftpd_proxy "PROXY $kftpd_family $kftpd_src $kftpd_dst [TCP::client_port] [TCP::local_port]\\r\\n"',
  '}',
  'when SERVER_CONNECTED {',
  '    TCP::respond $kftpd_proxy',
  '}',
  '',
].join('\n');
