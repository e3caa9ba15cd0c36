/**
 * @module test/contract/storage.test
 * The storage contract over every adapter (test/helpers/storage STORAGE_ADAPTERS) × every
 * upload mode (storage.uploadMode), plus the capability-keyed skips themselves: an adapter that
 * declares fewer features gets those tests skipped with a reason, not failed nor silently passed.
 * Must not: hold adapter-specific behaviour (that is in <adapter>-storage.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { skipUnless, STORAGE_ADAPTERS, supportedWriteModes, UPLOAD_MODES } from '../helpers/storage.js';
import { runStorageContractMatrix } from './storage.contract.js';

runStorageContractMatrix();

describe('storage contract matrix', () => {
  it('covers every adapter in every upload mode, each mode run or skipped with a reason', () => {
    assert.deepEqual(STORAGE_ADAPTERS.map((a) => a.name).sort(), ['local', 'memory']);
    assert.deepEqual([...UPLOAD_MODES], ['resumable', 'atomic']);
    for (const adapter of STORAGE_ADAPTERS) {
      for (const mode of UPLOAD_MODES) {
        const supported = adapter.uploadModes[mode];
        assert.ok(supported === true || (typeof supported === 'string' && supported.length > 0), `${adapter.name} × ${mode}`);
      }
      assert.equal(adapter.uploadModes.resumable, true, `${adapter.name} writes in place`);
    }
  });

  it('skips a test only for a feature the adapter does not declare, and says which', () => {
    const full = { rename: 'atomic', append: true, resumeRead: true, resumeWrite: true, setModifiedTime: true } as const;
    assert.equal(skipUnless('x', full, 'rename', 'append', 'resumeRead', 'resumeWrite', 'setModifiedTime'), false);
    const bare = { rename: 'none', append: false, resumeRead: false, resumeWrite: false, setModifiedTime: false } as const;
    assert.match(String(skipUnless('s3', bare, 'rename')), /s3 adapter declares no rename \(StorageCapabilities\.rename\)/);
    assert.match(String(skipUnless('s3', { ...full, append: false }, 'rename', 'append')), /StorageCapabilities\.append/);
    assert.match(String(skipUnless('s3', { ...full, setModifiedTime: false }, 'setModifiedTime')), /modification time/);
    assert.equal(skipUnless('s3', { ...full, rename: 'copy' }, 'rename'), false, 'a copying rename is a rename');
    assert.deepEqual(supportedWriteModes(full), ['create', 'overwrite', 'append', 'resume', 'update']);
    assert.deepEqual(supportedWriteModes(bare), ['create', 'overwrite']);
  });
});
