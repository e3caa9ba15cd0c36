#!/usr/bin/env node
/**
 * Builds kftpd's optional native upload receiver (native/receive-file.c) into
 * build/kftpd-native.node with the system C compiler and the running Node's Node-API headers.
 * Runs on `npm install` / `npm ci` (the package's install script) and after `npm run build`.
 * Without a compiler or headers the server runs as well, on its JavaScript upload path (plain
 * uploads then reach about 0.6x of the C servers' rate: README, Performance): this script then
 * says so and exits 0, unless KFTPD_NATIVE=required (the container image and CI, where a
 * missing build must fail instead of shipping the slower path). KFTPD_NATIVE=skip builds nothing.
 * No node-gyp: one C file, no downloads (node-gyp fetches headers from the network).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'native', 'receive-file.c');
const output = path.join(root, 'build', 'kftpd-native.node');
const mode = process.env.KFTPD_NATIVE ?? 'auto';

function skip(reason) {
  if (mode === 'required') {
    console.error(`kftpd: native upload receiver not built: ${reason} (KFTPD_NATIVE=required)`);
    process.exit(1);
  }
  console.log(`kftpd: native upload receiver not built (${reason}); plain FTP uploads use the JavaScript path`);
  process.exit(0);
}

if (mode === 'skip') skip('KFTPD_NATIVE=skip');
if (process.platform !== 'linux') skip(`${process.platform} is not Linux`);
if (!existsSync(source)) skip(`${path.relative(root, source)} is missing`);

// The headers of the Node that runs this script: an official tarball has include/node beside
// bin/, Debian's and NodeSource's packages put them in /usr/include/node.
const candidates = [path.resolve(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const headers = candidates.find((dir) => existsSync(path.join(dir, 'node_api.h')));
if (!headers) skip(`no node_api.h in ${candidates.join(', ')}`);

const compiler = process.env.CC ?? 'cc';
const temporary = `${output}.${process.pid}.tmp`;
mkdirSync(path.dirname(output), { recursive: true });
try {
  execFileSync(compiler, ['-std=gnu11', '-O2', '-fPIC', '-shared', '-pthread', '-Wall', '-Wextra', '-fvisibility=hidden', `-I${headers}`, '-o', temporary, source], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  renameSync(temporary, output);
} catch (error) {
  rmSync(temporary, { force: true });
  skip(`${compiler} failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
}
if (mode === 'required' || process.env.npm_lifecycle_event === 'install') console.log(`kftpd: native upload receiver built: ${path.relative(root, output)}`);
