/**
 * The ceiling server: usage ceiling-server.mjs PORT TLS_PORT CERT KEY FTP_PORT ROOT.
 * What a Node program does at the least to serve each load from files under ROOT, so the
 * table can tell the runtime's limits on this machine from kftpd's own costs.
 * - Streams (plain on PORT, TLS 1.3 on TLS_PORT): it greets "220" and reads one line.
 *   "RETR <n> <path>": sends the file's first n bytes (1 MiB reads, each written as it comes,
 *   the next read started at once, paused while the socket buffers more than 4 MiB) and
 *   closes. "STOR <n> <path>": writes the n bytes that follow into the file (everything that
 *   arrived while the previous write was in the thread pool goes in one writev, one write at
 *   a time, the socket paused while a full batch waits) and answers "226" once all are
 *   written.
 * - FTP_PORT: the small-file and short-session loads, with the least FTP that can
 *   (ceiling-ftp.mjs).
 */
import fs, { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { serveCeilingFtp } from './ceiling-ftp.mjs';

const [port, tlsPort, cert, key, ftpPort, root] = process.argv.slice(2);
const READ_BYTES = 1024 * 1024;
const SOCKET_HIGH_WATER = 4 * 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;

function handle(socket) {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  socket.write('220 ceiling\r\n');
  let head = '';
  const onCommand = (data) => {
    head += data.toString('latin1');
    const nl = head.indexOf('\n');
    if (nl < 0) return;
    socket.removeListener('data', onCommand);
    const [verb, n, name] = head.slice(0, nl).trim().split(' ');
    const file = path.join(root, name);
    if (verb === 'RETR') send(socket, file, Number(n));
    else receive(socket, file, Number(n), Buffer.from(head.slice(nl + 1), 'latin1'));
  };
  socket.on('data', onCommand);
}

function send(socket, file, bytes) {
  const fd = fs.openSync(file, 'r');
  let position = 0;
  const next = () => {
    if (position >= bytes) return void fs.close(fd, () => socket.end());
    const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, bytes - position));
    fs.read(fd, buffer, 0, buffer.length, position, (error, n) => {
      if (error || n === 0) return void socket.destroy();
      position += n;
      socket.write(n === buffer.length ? buffer : buffer.subarray(0, n));
      if (socket.writableLength > SOCKET_HIGH_WATER) socket.once('drain', next);
      else next();
    });
  };
  next();
}

function receive(socket, file, bytes, first) {
  const fd = fs.openSync(file, 'w');
  let pending = first.length > 0 ? [first] : [];
  let pendingBytes = first.length;
  let received = first.length;
  let position = 0;
  let writing = false;
  const flush = () => {
    if (writing) return;
    if (pendingBytes === 0) {
      if (received >= bytes) fs.close(fd, () => socket.end('226 done\r\n'));
      return;
    }
    const buffers = pending;
    const n = pendingBytes;
    pending = [];
    pendingBytes = 0;
    writing = true;
    fs.writev(fd, buffers, position, (error) => {
      if (error) return void socket.destroy();
      position += n;
      writing = false;
      socket.resume();
      flush();
    });
  };
  socket.on('data', (d) => {
    pending.push(d);
    pendingBytes += d.length;
    received += d.length;
    if (!writing) flush();
    else if (pendingBytes >= BATCH_BYTES) socket.pause();
  });
  flush();
}

// Half-open: an uploading client ends its side after the last byte, and the 226 comes after
// the file write that follows.
net.createServer({ allowHalfOpen: true }, handle).listen(Number(port), '127.0.0.1');
tls
  .createServer({ allowHalfOpen: true, cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.3' }, handle)
  .listen(Number(tlsPort), '127.0.0.1');
serveCeilingFtp(Number(ftpPort), root);
