/**
 * @module test/unit/lint/layers.test
 * The layer rules in eslint.config.js really refuse what docs/architecture.md forbids: each
 * case lints a few import lines as if they were in a given src file, with the project's own
 * config (only its no-restricted-imports rule, without type information, so files need not
 * exist). Guards against a rule that silently stops matching, which `npm run lint` being green
 * could never show. Likewise the import-cycle rule is shown to catch a cycle.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const PKG_DIR = path.resolve(fileURLToPath(new URL('../../../../', import.meta.url)));

const eslint = new ESLint({
  cwd: PKG_DIR,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
});

/** The import lines refused when placed in `file`. */
async function refused(file: string, lines: readonly string[]): Promise<string[]> {
  const [result] = await eslint.lintText(`${lines.join('\n')}\n`, { filePath: path.join(PKG_DIR, file) });
  assert.ok(result);
  const fatal = result.messages.filter((m) => m.fatal === true);
  assert.deepEqual(fatal, []);
  return result.messages.map((m) => lines[m.line - 1] ?? `line ${m.line}`);
}

const cases: readonly { file: string; allowed: string[]; forbidden: string[] }[] = [
  {
    file: 'src/protocol/new-file.ts',
    allowed: ["import { isIP, SocketAddress } from 'node:net';", "import { x } from './reply.js';"],
    forbidden: [
      "import { createServer } from 'node:net';",
      "import { readFile } from 'node:fs/promises';",
      "import tls from 'tls';",
      "import { setTimeout } from 'node:timers/promises';",
      "import pino from 'pino';",
      "import type { Logger } from '../session/ports.js';",
      "import { parseCidrList } from '../core/cidr.js';",
      "export { x } from '../storage/types.js';",
    ],
  },
  {
    file: 'src/session/handlers/new-file.ts',
    allowed: [
      "import type { StorageBackend } from '../../storage/types.js';",
      "import { StorageError } from '../../storage/errors.js';",
      "import type { Authenticator } from '../../auth/types.js';",
      "import { ReplyCode } from '../../protocol/reply.js';",
      "import type { Logger } from '../ports.js';",
      "import { Readable } from 'node:stream';",
    ],
    forbidden: [
      "import net from 'node:net';",
      "import { connect } from 'node:tls';",
      "import fs from 'fs';",
      "import { LocalStorage } from '../../storage/local/local-storage.js';",
      "import { FileAuthenticator } from '../../auth/file-authenticator.js';",
      "import { sliceTable } from '../../data/passive-slices.js';",
      "import { createLogger } from '../../observability/logger.js';",
      "import { FtpServer } from '../../server.js';",
    ],
  },
  {
    file: 'src/config/new-file.ts',
    allowed: ["import { isCidrList } from '../core/cidr.js';"],
    forbidden: ["import { sliceTable } from '../data/passive-slices.js';", "import { FtpServer } from '../server.js';"],
  },
  {
    // The pure passive helpers config validation needs are in core/; data/ stays out of reach.
    file: 'src/config/schema.ts',
    allowed: ["import { sliceTable } from '../core/passive-slices.js';"],
    forbidden: ["import { PassiveAddressResolver } from '../data/passive-address.js';", "import { ControlConnection } from '../net/control-connection.js';"],
  },
  {
    // The runtime is protocol-neutral: it composes what lies below the frontends, and no frontend.
    file: 'src/runtime/new-file.ts',
    allowed: [
      "import type { Config } from '../config/schema.js';",
      "import { Defender } from '../security/defender.js';",
      "import { SharedProtection } from '../cluster/shared-protection.js';",
      "import { AdminServer } from '../observability/admin-http.js';",
    ],
    forbidden: [
      "import { ControlConnection } from '../net/control-connection.js';",
      "import { Session } from '../session/session.js';",
      "import { FtpFrontend } from '../ftp/ftp-frontend.js';",
      "import { SftpFrontend } from '../sftp/sftp-frontend.js';",
      "import { FtpServer } from '../server.js';",
    ],
  },
  {
    // A new frontend never touches FTP code, and the FTP frontend knows no other protocol.
    file: 'src/sftp/new-file.ts',
    allowed: ["import type { ServerRuntime } from '../runtime/server-runtime.js';", "import { UserFiles } from '../files/user-files.js';"],
    forbidden: ["import { FtpFrontend } from '../ftp/ftp-frontend.js';", "import { ControlConnection } from '../net/control-connection.js';", "import { Session } from '../session/session.js';"],
  },
  {
    file: 'src/ftp/new-file.ts',
    allowed: ["import { ControlConnection } from '../net/control-connection.js';", "import type { ServerRuntime } from '../runtime/server-runtime.js';", "import type { Config } from '../config/schema.js';"],
    forbidden: ["import { SftpFrontend } from '../sftp/sftp-frontend.js';", "import { loadConfig } from '../config/load.js';", "import { FtpServer } from '../server.js';"],
  },
  {
    // Shared protection keeps the defender's ban copy in step; its wiring from the config is the runtime's.
    file: 'src/cluster/new-file.ts',
    allowed: ["import type { Defender } from '../security/defender.js';", "import type { Logger } from '../core/logger.js';"],
    forbidden: ["import type { Config } from '../config/schema.js';", "import type { ServerMetrics } from '../observability/metrics.js';"],
  },
  {
    // The defender's wiring moved to the runtime: security/ imports core only.
    file: 'src/security/new-file.ts',
    allowed: ["import type { SessionGuard } from '../core/session-guard.js';"],
    forbidden: ["import type { Config } from '../config/schema.js';", "import { ServerMetrics } from '../observability/metrics.js';"],
  },
  {
    // The cross-cutting ports are in core/, which imports no other part.
    file: 'src/core/new-file.ts',
    allowed: ["import type { Logger } from './logger.js';"],
    forbidden: ["import type { SessionMetrics } from '../session/ports.js';", "import { sliceTable } from '../data/passive-slices.js';"],
  },
  {
    file: 'src/observability/new-file.ts',
    allowed: ["import { createServer } from 'node:http';", "import type { AuditEvent } from '../core/audit-event.js';"],
    forbidden: ["import type { Logger } from '../session/ports.js';", "import { Defender } from '../security/defender.js';"],
  },
  {
    // The PROXY header read is in transport/, below both listeners; net/ stays out of data's reach.
    file: 'src/data/new-file.ts',
    allowed: ["import { acceptProxyHeader } from '../transport/proxy-protocol.js';", "import type { PassiveLease } from '../session/ports.js';"],
    forbidden: ["import { ControlConnection } from '../net/control-connection.js';", "import { FtpServer } from '../server.js';"],
  },
  {
    file: 'src/transport/new-file.ts',
    allowed: ["import { parseProxyHeader } from '../protocol/proxy-header.js';", "import type { CidrList } from '../core/cidr.js';"],
    forbidden: ["import type { Logger } from '../session/ports.js';", "import { ControlConnection } from '../net/control-connection.js';"],
  },
  {
    file: 'src/storage/local/new-file.ts',
    allowed: ["import { StorageError } from '../errors.js';", "import fs from 'node:fs';"],
    forbidden: ["import { ReplyCode } from '../../protocol/reply.js';", "import { FtpServer } from '../../server.js';"],
  },
  {
    file: 'src/server.ts',
    allowed: ["import { FtpFrontend } from './ftp/ftp-frontend.js';", "import { ServerRuntime } from './runtime/server-runtime.js';"],
    forbidden: ["import { main } from './cli/main.js';", "import { FtpServer } from './index.js';"],
  },
  {
    file: 'src/cli/commands/new-file.ts',
    allowed: ["import { FtpServer } from '../../server.js';", "import { loadConfig } from '../../config/load.js';"],
    forbidden: ["import { FtpServer } from '../../index.js';"],
  },
];

describe('eslint layer rules (docs/architecture.md)', () => {
  for (const { file, allowed, forbidden } of cases) {
    it(`${file}: refuses exactly the forbidden imports`, async () => {
      assert.deepEqual(await refused(file, [...allowed, ...forbidden]), forbidden);
    });
  }
});

describe('eslint import-cycle rule', () => {
  it('reports a cycle a -> b -> a (and not a file outside one)', async () => {
    // Inside the package (ESLint ignores files outside its cwd); a dot-folder removed after.
    const dir = await mkdtemp(path.join(PKG_DIR, '.lint-cycle-'));
    try {
      await writeFile(path.join(dir, 'a.ts'), "import { b } from './b.js';\nexport const a = (): number => b + 1;\n");
      await writeFile(path.join(dir, 'b.ts'), "import { a } from './a.js';\nexport const b = 1;\nexport const useA = (): number => a();\n");
      await writeFile(path.join(dir, 'c.ts'), "import { b } from './b.js';\nexport const c = b;\n");
      const cycles = new ESLint({
        cwd: PKG_DIR,
        overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
        ruleFilter: ({ ruleId }) => ruleId === 'import-x/no-cycle',
      });
      const results = await cycles.lintFiles([dir]);
      const reported = results.filter((r) => r.messages.length > 0).map((r) => path.basename(r.filePath));
      assert.deepEqual(reported.sort(), ['a.ts', 'b.ts']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
