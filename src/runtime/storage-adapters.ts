/**
 * @module runtime/storage-adapters
 * Owns which storage adapter a server runs on: adapters are registered here by name, each
 * a factory from the config to a `StorageProvider` (which declares its capabilities; FEAT,
 * HELP and the SFTP frontend read them from the provider, never from the adapter's name).
 * Today the config names one adapter, the local filesystem; an S3 adapter becomes one more
 * row here and a `storage` config section, and no frontend changes.
 */
import type { Config } from '../config/schema.js';
import { LocalStorageProvider } from '../storage/local/local-storage.js';
import type { StorageProvider } from '../storage/types.js';

export type StorageAdapterFactory = (config: Readonly<Config>) => StorageProvider;

/** The registered adapters, by the name the config uses. */
export const STORAGE_ADAPTERS: Readonly<Record<string, StorageAdapterFactory>> = {
  local: (config) => new LocalStorageProvider({ root: config.storage.root, uploadMode: config.storage.uploadMode, fsync: config.storage.fsync }),
};

/** The adapter the config chooses (the local filesystem until the config offers another). */
export function storageAdapterName(_config: Readonly<Config>): string {
  return 'local';
}

export function createStorage(config: Readonly<Config>): StorageProvider {
  const name = storageAdapterName(config);
  const factory = STORAGE_ADAPTERS[name];
  if (!factory) throw new Error(`unknown storage adapter "${name}"`);
  return factory(config);
}
