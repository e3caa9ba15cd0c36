/**
 * The ceiling: a trivial Node socket source/sink (ceiling-server.mjs), what Node itself can
 * push through one loopback connection on this machine, plain and TLS 1.3; and the least FTP
 * a Node program can answer the small-file and short-session loads with (ceiling-ftp.mjs: no
 * checks, any login, asynchronous file calls). The idle and SFTP metrics do not apply to it.
 */
import path from 'node:path';
import { BENCH_DIR } from '../lib/env.mjs';

export default {
  name: 'ceiling',
  role: 'ceiling',
  reuse: 'n/a',
  loginCost: 'no login',

  async prepare() {
    return { version: `node ${process.version}` };
  },

  // Its extra listeners take the ports of its own unused SFTP slot (9200 + i) and 100 above,
  // never one in its passive range: from 32768 up that range lies among the ephemeral ports
  // the previous server's clients (10,000 idle sessions) may still hold.
  async start(env, { port, sftpPort }) {
    const tlsPort = sftpPort;
    const ftpPort = sftpPort + 100;
    const instance = await env.launch({
      name: 'ceiling',
      cmd: process.execPath,
      args: [path.join(BENCH_DIR, 'servers', 'ceiling-server.mjs'), String(port), String(tlsPort), env.certFile, env.keyFile, String(ftpPort), env.srvDir],
      port,
    });
    return { ...instance, tlsPort, ftpPort };
  },
};
