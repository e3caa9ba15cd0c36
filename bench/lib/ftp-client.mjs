/**
 * A minimal FTP client over raw sockets, the same code path for every server.
 *
 * Control connection: reply parsing (multi-line replies per RFC 959), explicit FTPS
 * (AUTH TLS, PBSZ 0, PROT P per RFC 4217), PASV. Data connection: plain TCP or TLS that
 * resumes the control connection's TLS session (servers that enforce reuse accept it).
 * Every wait is bounded by a timeout.
 */
import net from 'node:net';
import tls from 'node:tls';

export class FtpError extends Error {
  constructor(message, reply) {
    super(message);
    this.name = 'FtpError';
    this.reply = reply;
  }
}

/** Rejects with a timeout error unless `promise` settles within `ms`; `onTimeout` cleans up. */
export function withTimeout(promise, ms, what, onTimeout) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`timeout after ${ms} ms: ${what}`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when a TCP connection to host:port is established. */
export function tcpConnect({ host, port, localAddress, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timeout connecting to ${host}:${port}`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** TLS options shared by control and data connections: TLS 1.3, same SNI (needed to resume). */
function tlsOptions(ca) {
  return {
    ca,
    servername: 'localhost',
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  };
}

export class FtpClient {
  /** @param {net.Socket} socket a connected control socket */
  constructor(socket, { host, localAddress, timeoutMs }) {
    this.host = host;
    this.localAddress = localAddress;
    this.timeoutMs = timeoutMs;
    this.socket = null;
    this.buffer = '';
    this.pendingLines = []; // lines of a multi-line reply being collected
    this.replies = []; // complete replies not yet read
    this.waiters = []; // { resolve, reject } waiting for a reply
    this.failure = null;
    this.tls = null; // { ca, session, sessionReady }
    this.protP = false;
    this.resumeData = true; // false: data TLS without the control session (to probe enforcement)
    this.earlyDataTls = false; // true: start data TLS right after connecting (see openData)
    this.attach(socket);
  }

  /** Connects and reads the greeting (220; a 120 "ready in n minutes" is followed by 220). */
  static async connect({ host, port, localAddress, timeoutMs = 30_000 }) {
    const socket = await tcpConnect({ host, port, localAddress, timeoutMs });
    const client = new FtpClient(socket, { host, localAddress, timeoutMs });
    let greeting = await client.read();
    if (greeting.code === 120) greeting = await client.read();
    if (greeting.code !== 220) {
      client.destroy();
      throw new FtpError(`greeting ${greeting.code} ${greeting.text}`, greeting);
    }
    return client;
  }

  attach(socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('control connection closed')));
  }

  detach() {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
  }

  onData(chunk) {
    this.buffer += chunk;
    let nl;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.onLine(line);
    }
  }

  onLine(line) {
    // A reply is "ddd text" or "ddd-text" ... "ddd text" (lines between may be anything).
    const first = this.pendingLines.length === 0;
    if (first && !/^\d{3}[ -]/.test(line) && !/^\d{3}$/.test(line)) return; // stray line
    this.pendingLines.push(line);
    const code = this.pendingLines[0].slice(0, 3);
    const done = first ? line[3] !== '-' : line.startsWith(`${code} `) || line === code;
    if (!done) return;
    const reply = { code: Number(code), text: this.pendingLines.join('\n') };
    this.pendingLines = [];
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(reply);
    else this.replies.push(reply);
  }

  fail(error) {
    if (this.failure) return;
    this.failure = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** The next reply, within the timeout. */
  read(timeoutMs = this.timeoutMs) {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    let waiter;
    const promise = new Promise((resolve, reject) => {
      waiter = { resolve, reject };
      this.waiters.push(waiter);
    });
    const what = `waiting for the reply to ${this.lastCommand ?? 'the greeting'}`;
    return withTimeout(promise, timeoutMs, what, () => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      this.destroy();
    });
  }

  send(line) {
    if (this.failure) throw this.failure;
    this.lastCommand = line.startsWith('PASS ') ? 'PASS' : line.split(' ')[0];
    this.socket.write(`${line}\r\n`, 'latin1');
  }

  /** Sends a command and reads its reply; throws unless the reply's first digit is in `expect`. */
  async cmd(line, expect = '23') {
    this.send(line);
    const reply = await this.read();
    if (!expect.includes(String(reply.code)[0])) {
      throw new FtpError(`${line.split(' ')[0]}: ${reply.code} ${reply.text.split('\n')[0]}`, reply);
    }
    return reply;
  }

  async login(user, password) {
    const reply = await this.cmd(`USER ${user}`, '23');
    if (reply.code === 331) await this.cmd(`PASS ${password}`, '2');
  }

  /**
   * Explicit FTPS: AUTH TLS, then PBSZ 0 and PROT P (call before login, as clients do).
   * Remembers the newest TLS session ticket for data connections.
   */
  async startTls(ca) {
    await this.cmd('AUTH TLS', '2');
    this.detach();
    const raw = this.socket;
    const secure = tls.connect({ socket: raw, ...tlsOptions(ca) });
    const state = { ca, session: null, sessionReady: null, waited: false };
    state.sessionReady = new Promise((resolve) => {
      secure.on('session', (session) => {
        state.session = session;
        resolve();
      });
    });
    await withTimeout(
      new Promise((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      }),
      this.timeoutMs,
      'control TLS handshake',
      () => secure.destroy(),
    );
    this.tls = state;
    this.tlsInfo = { protocol: secure.getProtocol(), cipher: secure.getCipher()?.name };
    this.attach(secure);
    await this.cmd('PBSZ 0', '2');
    await this.cmd('PROT P', '2');
    this.protP = true;
  }

  /** PASV: the data address the server announced. */
  async pasv() {
    const reply = await this.cmd('PASV', '2');
    const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(reply.text);
    if (!m) throw new FtpError(`unparsable PASV reply: ${reply.text}`, reply);
    return { host: `${m[1]}.${m[2]}.${m[3]}.${m[4]}`, port: Number(m[5]) * 256 + Number(m[6]) };
  }

  /**
   * PASV and connect. Returns a DataConnection; under PROT P its TLS handshake (resuming the
   * control connection's session) starts after the transfer command's 1xx reply, as ftplib
   * and lftp do (pyftpdlib drops a data connection whose ClientHello comes first), or at
   * once when `earlyDataTls` is set (ftp-srv only answers 150 after the data handshake).
   */
  async openData() {
    const { host, port } = await this.pasv();
    const raw = await tcpConnect({ host, port, localAddress: this.localAddress, timeoutMs: this.timeoutMs });
    raw.on('error', () => {}); // reported through the transfer's promises
    const data = new DataConnection(raw);
    if (this.protP) {
      // TLS 1.3 tickets come right after the handshake (before any reply to PBSZ), so they are
      // normally here already; wait briefly, once, for servers that send none.
      if (!this.tls.waited) {
        await withTimeout(this.tls.sessionReady, 1_000, 'control TLS session ticket').catch(() => {});
        this.tls.waited = true;
      }
      data.tlsOptions = {
        ...tlsOptions(this.tls.ca),
        ...(this.tls.session && this.resumeData ? { session: this.tls.session } : {}),
      };
      if (this.earlyDataTls) data.secure();
    }
    return data;
  }

  /** Sends a transfer command whose data goes over `data`; waits for the preliminary 1xx reply. */
  async startTransfer(line, data) {
    this.send(line);
    const reply = await this.read();
    if (reply.code >= 200) {
      data.destroy();
      throw new FtpError(`${line.split(' ')[0]}: ${reply.code} ${reply.text.split('\n')[0]}`, reply);
    }
    return reply;
  }

  /** Reads the final reply of a transfer (226 or 250). */
  async endTransfer(line) {
    const reply = await this.read();
    if (reply.code !== 226 && reply.code !== 250) {
      throw new FtpError(`${line.split(' ')[0]} end: ${reply.code} ${reply.text.split('\n')[0]}`, reply);
    }
    return reply;
  }

  /** RETR or LIST into a sink; returns { bytes, resumed }. */
  async download(line) {
    const data = await this.openData();
    // Plain data may arrive (and end) before the 1xx reply is read: count it from the start.
    let received = data.tlsOptions ? null : sink(data.socket, this.timeoutMs);
    if (data.tlsSocket) received = sink(data.tlsSocket, this.timeoutMs);
    try {
      await this.startTransfer(line, data);
      if (!received) received = sink(data.secure(), this.timeoutMs);
      const [bytes, , resumed] = await Promise.all([received, this.endTransfer(line), data.secured]);
      return { bytes, resumed };
    } catch (error) {
      data.destroy();
      throw error;
    }
  }

  /** STOR `bytes` bytes taken over and over from `chunk`; returns { bytes, resumed }. */
  async upload(line, bytes, chunk) {
    const data = await this.openData();
    try {
      await this.startTransfer(line, data);
      const socket = data.tlsOptions ? data.secure() : data.socket;
      const resumed = await withTimeout(data.secured, this.timeoutMs, 'data TLS handshake');
      await source(socket, bytes, chunk, this.timeoutMs);
      await this.endTransfer(line);
      return { bytes, resumed };
    } catch (error) {
      data.destroy();
      throw error;
    }
  }

  async quit() {
    try {
      await this.cmd('QUIT', '2');
    } finally {
      this.destroy();
    }
  }

  destroy() {
    this.socket?.destroy();
  }
}

/** A passive data connection: the TCP socket and, under PROT P, its TLS layer. */
class DataConnection {
  constructor(raw) {
    this.socket = raw;
    this.tlsOptions = null; // set under PROT P
    this.tlsSocket = null;
    this.secured = Promise.resolve(null); // under TLS: whether the session was resumed
  }

  /** Starts the TLS handshake (once); returns the TLS socket. */
  secure() {
    if (this.tlsSocket) return this.tlsSocket;
    const socket = tls.connect({ socket: this.socket, ...this.tlsOptions });
    socket.on('error', () => {});
    this.secured = new Promise((resolve, reject) => {
      socket.once('secureConnect', () => resolve(socket.isSessionReused()));
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('data connection closed during the TLS handshake')));
    });
    this.secured.catch(() => {}); // observed by the caller; never an unhandled rejection
    this.tlsSocket = socket;
    return socket;
  }

  destroy() {
    this.tlsSocket?.destroy();
    this.socket.destroy();
  }
}

/** Counts bytes until the peer ends the stream. */
export function sink(socket, timeoutMs = 600_000) {
  let bytes = 0;
  const done = new Promise((resolve, reject) => {
    socket.on('data', (chunk) => {
      bytes += chunk.length;
    });
    socket.once('end', () => resolve(bytes));
    socket.once('close', () => resolve(bytes));
    socket.once('error', reject);
  });
  return withTimeout(done, timeoutMs, 'receiving data', () => socket.destroy());
}

/** Writes `total` bytes from a reused chunk with backpressure, then ends the stream. */
export function source(socket, total, chunk, timeoutMs = 600_000) {
  const done = new Promise((resolve, reject) => {
    let left = total;
    socket.once('error', reject);
    socket.once('close', () => (left > 0 ? reject(new Error('data connection closed early')) : resolve()));
    const pump = () => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!socket.write(piece)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end(resolve);
    };
    pump();
  });
  return withTimeout(done, timeoutMs, 'sending data', () => socket.destroy());
}
