/**
 * The ceiling's FTP responder: the least a Node program must do to serve the small-file and
 * short-session loads (metrics 2 and 3), so the table shows how far the runtime itself gets
 * on this machine next to what kftpd and the C servers do.
 *
 * It speaks just what the load generator sends (USER, PASS, TYPE, PASV, LIST, STOR, RETR,
 * QUIT), accepts any login, checks nothing (no permissions, no confinement, no limits, no
 * logs) and keeps one passive listener per session. File I/O is asynchronous, as a server
 * that must not stall its other sessions on a slow volume needs it: an upload is open,
 * one write, close; a download open, fstat, one read, close; LIST a readdir and an lstat per
 * entry. Every call is one thread-pool round trip, the same ones kftpd makes.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const { O_WRONLY, O_CREAT, O_TRUNC, O_RDONLY } = fs.constants;

/** Serves `root` on 127.0.0.1:`port`; returns the net.Server. */
export function serveCeilingFtp(port, root) {
  return net.createServer((control) => new CeilingSession(control, root)).listen(port, '127.0.0.1');
}

class CeilingSession {
  constructor(control, root) {
    this.control = control;
    this.root = root;
    this.buffer = '';
    /** The session's passive listener, bound at the first PASV and kept. */
    this.listener = null;
    /** A data connection accepted before its transfer command, or the transfer waiting for one. */
    this.accepted = null;
    this.waiting = null;
    control.setNoDelay(true);
    control.on('error', () => {});
    control.on('close', () => this.listener?.close());
    control.on('data', (d) => this.onData(d));
    this.reply('220 ceiling');
  }

  reply(line) {
    this.control.write(`${line}\r\n`);
  }

  onData(data) {
    this.buffer += data.toString('latin1');
    for (let nl = this.buffer.indexOf('\r\n'); nl >= 0; nl = this.buffer.indexOf('\r\n')) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 2);
      this.command(line);
    }
  }

  command(line) {
    const space = line.indexOf(' ');
    const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const arg = space < 0 ? '' : line.slice(space + 1);
    if (verb === 'USER') return this.reply('331 password please');
    if (verb === 'PASS') return this.reply('230 logged in');
    if (verb === 'TYPE') return this.reply('200 ok');
    if (verb === 'QUIT') return void this.control.end('221 bye\r\n');
    if (verb === 'PASV') return this.pasv();
    if (verb === 'STOR') return this.stor(path.join(this.root, arg));
    if (verb === 'RETR') return this.retr(path.join(this.root, arg));
    if (verb === 'LIST') return this.list(path.join(this.root, arg));
    return this.reply('502 not here');
  }

  pasv() {
    const announce = () => {
      const { port } = this.listener.address();
      this.reply(`227 Entering Passive Mode (127,0,0,1,${port >> 8},${port & 255})`);
    };
    if (this.listener) return announce();
    this.listener = net.createServer((socket) => {
      socket.setNoDelay(true);
      socket.on('error', () => {});
      if (this.waiting) {
        const use = this.waiting;
        this.waiting = null;
        use(socket);
      } else this.accepted = socket;
    });
    this.listener.listen(0, '127.0.0.1', announce);
  }

  /** Runs `use` with the next data connection (already accepted or still to come). */
  withData(use) {
    if (!this.accepted) return void (this.waiting = use);
    const socket = this.accepted;
    this.accepted = null;
    use(socket);
  }

  stor(file) {
    fs.open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644, (error, fd) => {
      if (error) return this.reply('550 cannot create');
      this.reply('150 send it');
      this.withData((socket) => {
        const chunks = [];
        socket.on('data', (d) => chunks.push(d));
        socket.on('end', () => {
          const data = Buffer.concat(chunks);
          fs.write(fd, data, 0, data.length, 0, (writeError) =>
            fs.close(fd, () => {
              this.reply(writeError ? '451 write failed' : '226 stored');
              socket.end();
            }),
          );
        });
      });
    });
  }

  retr(file) {
    fs.open(file, O_RDONLY, (error, fd) => {
      if (error) return this.reply('550 cannot open');
      fs.fstat(fd, (statError, st) => {
        if (statError) return fs.close(fd, () => this.reply('550 cannot open'));
        this.reply('150 here it comes');
        const data = Buffer.allocUnsafe(st.size);
        fs.read(fd, data, 0, st.size, 0, (readError, n) => {
          fs.close(fd, () => {});
          this.withData((socket) => {
            if (readError) return void (socket.destroy(), this.reply('451 read failed'));
            socket.end(data.subarray(0, n), () => this.reply('226 sent'));
          });
        });
      });
    });
  }

  list(dir) {
    fs.readdir(dir, (error, names) => {
      if (error) return this.reply('550 cannot list');
      this.reply('150 listing');
      let left = names.length;
      const lines = new Array(names.length);
      const send = () =>
        this.withData((socket) => socket.end(lines.filter(Boolean).join(''), () => this.reply('226 listed')));
      if (left === 0) return send();
      names.forEach((name, i) =>
        fs.lstat(path.join(dir, name), (statError, st) => {
          if (!statError) lines[i] = `${st.isDirectory() ? 'd' : '-'}rw-r--r-- 1 ftp ftp ${st.size} Jan  1 00:00 ${name}\r\n`;
          if (--left === 0) send();
        }),
      );
    });
  }
}
