/**
 * The ceiling server: usage ceiling-server.mjs PORT TLS_PORT CERT KEY FTP_PORT ROOT.
 * On each connection (plain on PORT, TLS 1.3 on TLS_PORT) it greets "220", reads one line
 * "RETR <n>" (then sends n bytes from one reused buffer and closes) or "STOR <n>" (then reads
 * and drops n bytes and answers "226"). On FTP_PORT it answers the small-file and short-session
 * loads with the least FTP that can (ceiling-ftp.mjs), serving ROOT.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { serveCeilingFtp } from './ceiling-ftp.mjs';

const [port, tlsPort, cert, key, ftpPort, root] = process.argv.slice(2);
const CHUNK = Buffer.alloc(256 * 1024, 0x5a);

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
    const [verb, n] = head.slice(0, nl).trim().split(' ');
    let left = Number(n);
    if (verb === 'RETR') {
      const pump = () => {
        while (left > 0) {
          const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
          left -= piece.length;
          if (!socket.write(piece)) return void socket.once('drain', pump);
        }
        socket.end();
      };
      pump();
    } else {
      left -= Buffer.byteLength(head.slice(nl + 1), 'latin1');
      const done = () => socket.end('226 done\r\n');
      if (left <= 0) return done();
      socket.on('data', (d) => {
        left -= d.length;
        if (left <= 0) done();
      });
    }
  };
  socket.on('data', onCommand);
}

net.createServer(handle).listen(Number(port), '127.0.0.1');
tls
  .createServer({ cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.3' }, handle)
  .listen(Number(tlsPort), '127.0.0.1');
serveCeilingFtp(Number(ftpPort), root);
