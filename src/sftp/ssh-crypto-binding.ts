/**
 * @module sftp/ssh-crypto-binding
 * Whether ssh2 runs its ciphers in its optional native binding. npm builds it while installing
 * ssh2 when a C++ toolchain is there, and without one ssh2 falls back to slower code silently:
 * on the bench machine SFTP downloads lose about a quarter of their throughput and uploads a
 * third, at 1.3–1.6× the CPU (docs/sftp.md). The server says so once at start-up.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** True when ssh2 loaded its native binding (AES-GCM and chacha20-poly1305 in C). */
export function sshCryptoBindingLoaded(): boolean {
  try {
    // ssh2 has no "exports" map; crypto.js is the module that tries to load the binding.
    const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: unknown };
    return crypto.bindingAvailable === true;
  } catch {
    return false;
  }
}
