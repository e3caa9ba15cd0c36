/**
 * @module test/unit/sftp/ssh-crypto-binding.test
 * ssh2's native crypto binding: reported as loaded exactly when ssh2 itself uses it, and built
 * wherever .ci/run installed the toolchain (the bench and the container image depend on it).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sshCryptoBindingLoaded } from '../../../src/sftp/ssh-crypto-binding.js';

const require = createRequire(import.meta.url);
const built = path.join(path.dirname(require.resolve('ssh2/package.json')), 'lib/protocol/crypto/build/Release/sshcrypto.node');

describe('ssh2 crypto binding', () => {
  it('is reported as loaded exactly when its build output exists', () => {
    assert.equal(sshCryptoBindingLoaded(), existsSync(built));
  });

  it('is built under CI (.ci/run installs python3, make and g++ before npm ci)', { skip: process.env.CI ? false : 'outside CI a machine without a C++ toolchain runs the slower fallback' }, () => {
    assert.equal(sshCryptoBindingLoaded(), true, `missing ${built}: npm ci ran without a C++ toolchain`);
  });
});
