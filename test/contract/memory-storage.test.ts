/**
 * @module test/contract/memory-storage.test
 * Runs the storage contract against a standalone MemoryStorage (the provider's run is in
 * storage.test.ts), plus its test-only features (shared tree
 * between homes, capacity -> NO_SPACE).
 * Must not: touch the filesystem.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStorageError } from '../../src/storage/errors.js';
import { MemoryStorage, MemoryStorageProvider } from '../../src/storage/memory/memory-storage.js';
import { readAll, rejectsWith, writeAll } from '../helpers/storage.js';
import { runStorageContract } from './storage.contract.js';

const standalone = new MemoryStorage();
runStorageContract({
  name: 'memory (standalone)',
  capabilities: standalone.capabilities,
  uploadMode: 'resumable',
  create: async () => ({ backend: new MemoryStorage(), cleanup: async () => undefined }),
});

describe('MemoryStorage specifics', () => {
  it('homes of one provider share the tree', async () => {
    const provider = new MemoryStorageProvider();
    const alice = await provider.forHome('/alice');
    const admin = await provider.forHome('/');
    await writeAll(alice, '/f', 'from alice');
    assert.equal((await readAll(admin, '/alice/f')).toString(), 'from alice');
    await provider.ping();
  });

  it('a home below a file is NOT_A_DIRECTORY', async () => {
    const provider = new MemoryStorageProvider();
    await writeAll(await provider.forHome('/'), '/file', 'x');
    await rejectsWith(() => provider.forHome('/file/alice'), 'NOT_A_DIRECTORY');
    await rejectsWith(() => provider.forHome('alice'), 'INVALID_NAME');
  });

  it('new content becomes visible on commit', async () => {
    const b = new MemoryStorage();
    await writeAll(b, '/f', 'old');
    const handle = await b.openWrite('/f', { mode: 'append' });
    await new Promise<void>((resolve, reject) => handle.stream.write(Buffer.from('+new'), (e) => (e ? reject(e) : resolve())));
    assert.equal((await readAll(b, '/f')).toString(), 'old');
    await handle.commit();
    assert.equal((await readAll(b, '/f')).toString(), 'old+new');
  });

  it('a full volume fails the upload with NO_SPACE, and abort keeps what fit', async () => {
    const b = new MemoryStorage({ capacityBytes: 10 });
    await writeAll(b, '/a', '12345');
    const handle = await b.openWrite('/b', { mode: 'create' });
    handle.stream.on('error', () => undefined);
    handle.stream.write(Buffer.from('abc'));
    handle.stream.write(Buffer.from('defghij'));
    await assert.rejects(handle.commit(), (error: unknown) => isStorageError(error) && error.code === 'NO_SPACE');
    await handle.abort(new Error('cleanup'));
    assert.equal((await readAll(b, '/b')).toString(), 'abc');
  });
});
