/**
 * @module index
 * The package's public API (`import { FtpServer, loadConfig } from 'kftpd'`): what an embedder
 * needs to load a config, plug in its own authenticator or storage and run the server. Only
 * re-exports; the CLI (`kftpd`) is the package's bin, not part of this API.
 * Must not: hold code, or export internals (session, protocol, net): a name exported here is
 * a promise to keep it.
 */

// The server and its dependencies.
export { FtpServer, type FtpServerDeps } from './server.js';
export type { Clock } from './core/clock.js';
export type { Logger } from './core/logger.js';
export { createLogger } from './observability/logger.js';
export { ServerMetrics } from './observability/metrics.js';

// Configuration: the one schema, the loader (defaults < file < KFTPD_* env < flags), errors.
export { configSchema, type Config, type ConfigInput } from './config/schema.js';
export { loadConfig, parseConfigObject, type LoadConfigOptions, type LoadedConfig } from './config/load.js';
export { ConfigError, type ConfigIssue } from './config/errors.js';

// Authentication.
export type { AuthAttempt, AuthFailureReason, AuthResult, Authenticator } from './auth/types.js';
export { FileAuthenticator, type FileAuthenticatorOptions } from './auth/file-authenticator.js';
export { hashPassword, verifyPassword } from './auth/password-hash.js';
export type { Principal } from './core/principal.js';
export { PERMISSIONS, expandPermissions, type Permission } from './core/permissions.js';

// Storage: the backend interface, its coded errors and the two adapters.
export type {
  Entry,
  EntryType,
  OpenReadOptions,
  OpenWriteOptions,
  ReadSource,
  StorageBackend,
  StorageCapabilities,
  StorageProvider,
  VirtualPath,
  WriteHandle,
  WriteMode,
} from './storage/types.js';
export { StorageError, isStorageError, type StorageErrorCode } from './storage/errors.js';
export { LocalStorage, LocalStorageProvider, type UploadMode } from './storage/local/local-storage.js';
export { MemoryStorage, MemoryStorageProvider, type MemoryStorageOptions } from './storage/memory/memory-storage.js';

// Deployment artefacts generated from a config (what `kftpd render` prints).
export { RENDER_TARGETS } from './deploy/render-targets.js';
export type { RenderOutput, RenderTarget } from './deploy/render-target.js';
