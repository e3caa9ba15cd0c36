// @ts-check
/**
 * Lint for kftpd (run by `npm run lint`, which `npm test` runs first; zero warnings allowed).
 *
 * Three kinds of checks:
 * 1. typescript-eslint's type-checked recommended rules, with no-floating-promises and
 *    no-misused-promises as errors: an unawaited promise in a server is a lost error or a
 *    request answered twice.
 * 2. The layer table of docs/architecture.md as per-folder `no-restricted-imports`: LAYERS
 *    below says which src folders each folder may import; every other src folder is refused.
 *    Node's I/O modules are refused where the table says "no I/O".
 * 3. No import cycles (import-x/no-cycle, resolving the `.js` specifiers to the `.ts` sources).
 *
 * There are no per-file exceptions. Adding one needs a reason and an owner (an issue that
 * removes it), written beside it at the end of this file.
 */
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** The top-level parts of src/: folders, plus `server` (src/server.ts) and `index` (src/index.ts, the public API). */
const PARTS = ['protocol', 'core', 'storage', 'auth', 'tls', 'config', 'files', 'sftp', 'session', 'transport', 'data', 'net', 'ftp', 'runtime', 'observability', 'security', 'cluster', 'doctor', 'deploy', 'server', 'index', 'cli'];
/** Parts that are one file at the top of src/. */
const FILE_PARTS = ['server', 'index'];

/**
 * What each part may import (besides itself). An entry is a part, or one file of a part
 * (`storage/types.js`) when only that file is allowed. From docs/architecture.md:
 *   cli ──► server (the facade) ──► ftp, sftp (protocol frontends) ──► runtime (protocol-neutral)
 *   index (the package's public API) ──► re-exports from anything but cli
 *   ftp ──► net, data ──► session ──► protocol, core, storage/types, auth/types
 *   net, data ──► transport (socket plumbing every listener shares) ──► protocol, core
 *   protocol, core ──► nothing
 * and for the folders the diagram leaves out: core (the cross-cutting ports and shared pure
 * helpers) imports nothing; storage, auth, tls and config are leaves over core; observability and security are leaves too (the runtime wires them to sessions);
 * cluster (protection shared by replicas) keeps the defender's ban copy in step, so it sits above security;
 * tls reads ClientHellos with protocol's pure parser; doctor is a client of the protocol and
 * compares a deployment with what deploy renders from the config; deploy generates artefacts
 * from the config.
 */
const LAYERS = {
  protocol: [],
  core: [],
  storage: ['core'],
  auth: ['core'],
  // Reads ClientHellos with the pure parser in protocol/ (tls/data-tls, tls/resumption-registry).
  tls: ['core', 'protocol'],
  config: ['core'],
  // The protocol-neutral file service: the rules every frontend applies (files/user-files).
  files: ['protocol', 'core', 'storage', 'auth/types.js'],
  session: ['protocol', 'core', 'files', 'storage/types.js', 'storage/errors.js', 'auth/types.js'],
  // Socket plumbing shared by every listener, below any protocol (the PROXY header read).
  transport: ['protocol', 'core'],
  // The SFTP frontend: SSH transport (ssh2), SFTP on the subsystem channel, the file service;
  // PROXY headers through transport/.
  // Its frontend (sftp/sftp-frontend) runs on the runtime, like ftp/.
  sftp: ['protocol', 'core', 'files', 'transport', 'runtime', 'storage/types.js', 'storage/errors.js', 'auth/types.js'],
  data: ['protocol', 'core', 'session', 'transport'],
  net: ['protocol', 'core', 'session', 'tls', 'transport'],
  // The FTP frontend: its listeners, connections (net/), sessions, data channels and FTPS
  // material, on the runtime. Nothing but server imports it: a new frontend never touches it.
  ftp: ['protocol', 'core', 'session', 'net', 'data', 'tls', 'transport', 'runtime', 'config/schema.js'],
  // The protocol-neutral server runtime: composition of everything below the frontends.
  runtime: ['protocol', 'core', 'config', 'auth', 'storage', 'observability', 'security', 'cluster'],
  observability: ['core'],
  security: ['core'],
  // Protection shared by replicas: keeps the defender's local ban copy in step.
  cluster: ['core', 'security'],
  // --render-check compares a running deployment with what render makes of the config.
  doctor: ['protocol', 'core', 'config', 'deploy'],
  deploy: ['config', 'core'],
  server: PARTS.filter((p) => p !== 'server' && p !== 'index' && p !== 'cli'),
  index: PARTS.filter((p) => p !== 'index' && p !== 'cli'),
  cli: PARTS.filter((p) => p !== 'index' && p !== 'cli'),
};

/** Node modules that do I/O or keep timers. */
const IO_MODULES = ['fs', 'fs/promises', 'net', 'tls', 'dgram', 'dns', 'dns/promises', 'http', 'https', 'http2', 'child_process', 'cluster', 'worker_threads', 'timers', 'timers/promises'];

/** Node I/O modules refused per part, with the reason the table gives. */
const NO_IO = {
  // "do I/O, keep timers, log". node:net's address predicates and SocketAddress are pure
  // parsing helpers, so they stay allowed.
  protocol: {
    modules: IO_MODULES,
    allow: { net: ['isIP', 'isIPv4', 'isIPv6', 'SocketAddress'] },
    message: 'protocol/ is pure (docs/architecture.md): no I/O, timers or logging.',
  },
  // "import node:net, node:tls or node:fs: it reaches the world through session/ports.ts".
  session: {
    modules: ['fs', 'fs/promises', 'net', 'tls', 'dgram', 'dns', 'dns/promises', 'http', 'https', 'http2', 'child_process'],
    allow: {},
    message: 'session/ reaches the world through session/ports.ts (docs/architecture.md), not through Node I/O modules.',
  },
};

const describePart = (part) => (FILE_PARTS.includes(part) ? `src/${part}.ts` : `src/${part}/`);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The `no-restricted-imports` options for one part. `extra` lists what one file may import
 * beyond its part's row (an exception at the end of this file).
 * @param {keyof typeof LAYERS} part
 * @param {string[]} [extra]
 */
function layerRule(part, extra = []) {
  const allowed = [...LAYERS[part], ...extra];
  const patterns = [];
  for (const other of PARTS) {
    if (other === part || allowed.includes(other)) continue;
    const files = allowed.filter((a) => a.startsWith(`${other}/`)).map((a) => a.slice(other.length + 1));
    const target = FILE_PARTS.includes(other) ? `${other}\\.js$` : files.length > 0 ? `${other}/(?!(?:${files.map(escape).join('|')})$)` : `${other}/`;
    patterns.push({
      // Relative specifiers reaching another part: ../x/, ../../x/, ../server.js (./x/ from src/server.ts, src/index.ts).
      regex: `${FILE_PARTS.includes(part) ? '^\\./' : '^(?:\\.\\./)+'}${target}`,
      message: `${describePart(part)} must not import ${describePart(other)}${files.length > 0 ? ` (only ${files.join(', ')})` : ''}: see the layer table in docs/architecture.md and LAYERS in eslint.config.js.`,
    });
  }
  const paths = [];
  const io = NO_IO[part];
  if (io) {
    for (const mod of io.modules) {
      for (const name of [mod, `node:${mod}`]) {
        const allow = io.allow[mod];
        paths.push(allow ? { name, allowImportNames: allow, message: io.message } : { name, message: io.message });
      }
    }
  }
  if (part === 'protocol') {
    // Any package (a specifier that is neither relative nor a Node builtin).
    const builtins = builtinModules.map(escape).join('|');
    patterns.push({ regex: `^(?!node:|\\.|(?:${builtins})(?:/|$))`, message: 'protocol/ is pure (docs/architecture.md): no packages.' });
  }
  return ['error', { paths, patterns }];
}

/** Files of a part: src/<part>/** or src/<part>.ts. */
const filesOf = (part) => (FILE_PARTS.includes(part) ? [`src/${part}.ts`] : [`src/${part}/**/*.ts`]);

/** A per-file exception: one file may import more than its part's row. */
const allowExtra = (file, part, extra) => ({ files: [file], rules: { 'no-restricted-imports': layerRule(part, extra) } });

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', 'vendor/**', 'bench/**', 'examples/**', 'deploy/**', 'eslint.config.js'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { 'import-x': importX },
    settings: {
      // import-x parses the imported modules itself to follow the graph: .ts with typescript-eslint's parser.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // The sources import `./x.js` (NodeNext); resolve that to x.ts for the cycle check.
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // `_name` marks a value that is deliberately unused (destructured away, an interface parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      // `async` without `await` is how the in-memory adapter and test doubles implement the async
      // ports: it also turns a synchronous throw into a rejection, which callers rely on.
      '@typescript-eslint/require-await': 'off',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // House rule: no source file over 400 lines (one concept per file).
    files: ['src/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }] },
  },
  // The layer table, one block per part.
  ...Object.keys(LAYERS).map((part) => ({ files: filesOf(/** @type {keyof typeof LAYERS} */ (part)), rules: { 'no-restricted-imports': layerRule(/** @type {keyof typeof LAYERS} */ (part)) } })),
  {
    // Tests parse YAML, JSON and HTTP bodies into `any` and assert on them; typing every
    // fixture would add casts, not safety.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // No per-file exceptions: the issue-12 debt is paid. A new one needs a reason and an owner.
);
