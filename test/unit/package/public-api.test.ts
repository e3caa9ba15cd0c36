/**
 * @module test/unit/package/public-api.test
 * The package as a consumer gets it: publint (strict) over what `npm pack` would publish, and
 * `import('kftpd')` resolving through package.json's `exports` to the built src/index.ts,
 * whose names are real values (a re-export of a missing name would be undefined at run time).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

// dist/test/unit/package/ -> the package root.
const PKG_DIR = path.resolve(fileURLToPath(new URL('../../../../', import.meta.url)));

describe('package', () => {
  it('passes publint --strict (exports, types, bin and files point at packed files)', async () => {
    const { messages, pkg } = await publint({ pkgDir: PKG_DIR, strict: true, pack: 'npm' });
    const problems = messages.filter((m) => m.type !== 'suggestion').map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`);
    assert.deepEqual(problems, []);
  });

  it("import('kftpd') resolves through exports to the public API", async () => {
    // A variable, so tsc does not resolve the name at compile time (dist may not exist yet).
    const self = 'kftpd';
    const api = (await import(self)) as Record<string, unknown>;
    assert.equal(fileURLToPath(import.meta.resolve(self)), path.join(PKG_DIR, 'dist/src/index.js'));
    for (const name of ['FtpServer', 'loadConfig', 'parseConfigObject', 'configSchema', 'ConfigError', 'createLogger', 'ServerMetrics', 'FileAuthenticator', 'hashPassword', 'verifyPassword', 'expandPermissions', 'StorageError', 'isStorageError', 'LocalStorageProvider', 'MemoryStorageProvider', 'RENDER_TARGETS']) {
      assert.notEqual(api[name], undefined, name);
    }
    for (const [name, value] of Object.entries(api)) assert.notEqual(value, undefined, `${name} is exported as undefined`);
    // The API is usable as documented: the defaults load without a file.
    const loadConfig = api['loadConfig'] as (o: { env: NodeJS.ProcessEnv; args: string[] }) => Promise<{ config: { listen: { port: number } } }>;
    assert.equal((await loadConfig({ env: {}, args: [] })).config.listen.port, 2121);
  });
});
