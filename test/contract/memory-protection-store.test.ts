/**
 * @module test/contract/memory-protection-store.test
 * The protection-store contract against the in-memory store (handles on one backend are
 * the same instance, as servers of one process would share it).
 */
import { MemoryProtectionStore } from '../../src/cluster/memory-store.js';
import { runProtectionStoreContract } from './protection-store.contract.js';

runProtectionStoreContract('memory', async () => {
  const store = new MemoryProtectionStore();
  // close() on a shared instance would drop every handle's listeners: handles do not close it.
  const handle = () =>
    new Proxy(store, {
      get(target, property) {
        if (property === 'close') return async () => undefined;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  return { open: async () => handle(), dispose: () => store.close() };
});
