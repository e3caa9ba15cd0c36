/**
 * ftp-srv launcher for the kftpd benchmark. argv[2]: JSON { modules, port, pasvMin, pasvMax,
 * root, cert, key, user, password, logN }. Logs only errors; explicit FTPS with the given certificate;
 * one user whose password is checked against scrypt (N=2^logN, r=8, p=1), kftpd's bench cost.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const config = JSON.parse(process.argv[2]);
const require = createRequire(path.join(config.modules, 'noop.js'));
const { FtpSrv } = require('ftp-srv');
const bunyan = require('bunyan');

const SCRYPT = { N: 2 ** (config.logN ?? 10), r: 8, p: 1 };
const derive = (password, salt) =>
  new Promise((resolve, reject) => scrypt(password, salt, 32, SCRYPT, (e, k) => (e ? reject(e) : resolve(k))));
const salt = randomBytes(16);
const stored = await derive(config.password, salt);

const server = new FtpSrv({
  url: `ftp://127.0.0.1:${config.port}`,
  pasv_url: '127.0.0.1',
  pasv_min: config.pasvMin,
  pasv_max: config.pasvMax,
  anonymous: false,
  greeting: 'ftp-srv bench ready',
  tls: { key: readFileSync(config.key), cert: readFileSync(config.cert) },
  log: bunyan.createLogger({ name: 'ftp-srv', level: 'error' }),
});

server.on('login', ({ username, password }, resolve, reject) => {
  derive(String(password), salt).then(
    (key) => (username === config.user && timingSafeEqual(key, stored) ? resolve({ root: config.root }) : reject(new Error('bad login'))),
    reject,
  );
});
server.on('client-error', () => {});

await server.listen();
process.on('SIGTERM', () => {
  server.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
