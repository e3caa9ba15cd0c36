/**
 * @module test/helpers/storage
 * The one set of storage test helpers: make an adapter (local on a temp directory, memory),
 * seed files and trees through the StorageBackend API, read them back and hash them, and
 * clean up. Tests that are not about the local filesystem itself seed and check files with
 * these, so they hold for every adapter; confinement and symlink tests stay on the disk.
 * Must not: reach around the storage port (no fs calls on an adapter's files), except to
 * create and remove the local adapter's temp directory.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isStorageError } from '../../src/storage/errors.js';
import type { StorageErrorCode } from '../../src/storage/errors.js';
import { LocalStorageProvider } from '../../src/storage/local/local-storage.js';
import { MemoryStorageProvider } from '../../src/storage/memory/memory-storage.js';
import type { Entry, StorageBackend, StorageCapabilities, StorageProvider, VirtualPath, WriteMode } from '../../src/storage/types.js';
import { randomBuffer, sha256 } from './integration.js';

/** storage.uploadMode: write in place (partial files stay) or through a hidden temporary file. */
export type UploadMode = 'resumable' | 'atomic';
export const UPLOAD_MODES: readonly UploadMode[] = ['resumable', 'atomic'];

export interface StorageFixture {
  readonly adapter: string;
  readonly uploadMode: UploadMode;
  readonly provider: StorageProvider;
  /** The backend for `home` (default "/"). */
  readonly backend: StorageBackend;
  cleanup(): Promise<void>;
}

export interface StorageOptions {
  /** Home of `backend` inside the provider's root (default "/"). */
  readonly home?: VirtualPath;
  readonly uploadMode?: UploadMode;
  /** Local adapter: fsync on commit. */
  readonly fsync?: boolean;
  /** Memory adapter: bytes before NO_SPACE. */
  readonly capacityBytes?: number;
}

/** One storage adapter the suites run over. */
export interface StorageAdapter {
  readonly name: string;
  /** What the adapter declares (StorageProvider.capabilities), known before any backend exists. */
  readonly capabilities: StorageCapabilities;
  /** The upload modes it implements; for the others, why not (a skip reason). */
  readonly uploadModes: Readonly<Record<UploadMode, true | string>>;
  create(options?: StorageOptions): Promise<StorageFixture>;
}

/** The local adapter on a fresh temp directory, removed by cleanup(). */
export async function createLocalStorage(options: StorageOptions = {}): Promise<StorageFixture & { readonly root: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'kftpd-storage-'));
  const uploadMode = options.uploadMode ?? 'resumable';
  const provider = new LocalStorageProvider({ root, uploadMode, ...(options.fsync === undefined ? {} : { fsync: options.fsync }) });
  const backend = await provider.forHome(options.home ?? '/');
  return { adapter: 'local', uploadMode, provider, backend, root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** The memory adapter (resumable writes only). */
export async function createMemoryStorage(options: StorageOptions = {}): Promise<StorageFixture> {
  const uploadMode = options.uploadMode ?? 'resumable';
  if (uploadMode !== 'resumable') throw new Error(`the memory adapter has no ${uploadMode} upload mode`);
  const provider = new MemoryStorageProvider(options.capacityBytes === undefined ? {} : { capacityBytes: options.capacityBytes });
  const backend = await provider.forHome(options.home ?? '/');
  return { adapter: 'memory', uploadMode, provider, backend, cleanup: async () => undefined };
}

/** Every adapter in src/storage, for suites that loop over them (the contract suite). */
export const STORAGE_ADAPTERS: readonly StorageAdapter[] = [
  {
    name: 'local',
    // The constructor does no I/O: the root is only read by forHome and ping.
    capabilities: new LocalStorageProvider({ root: os.tmpdir() }).capabilities,
    uploadModes: { resumable: true, atomic: true },
    create: createLocalStorage,
  },
  {
    name: 'memory',
    capabilities: new MemoryStorageProvider().capabilities,
    uploadModes: { resumable: true, atomic: 'the memory adapter writes in place only (storage.uploadMode is a local-adapter setting)' },
    create: createMemoryStorage,
  },
];

/** An optional feature of StorageCapabilities a test depends on. */
export type StorageFeature = 'rename' | 'append' | 'resumeRead' | 'resumeWrite' | 'setModifiedTime';

const FEATURE_TEXT: Record<StorageFeature, string> = {
  rename: 'rename',
  append: 'append',
  resumeRead: 'reads from an offset',
  resumeWrite: 'resumed writes',
  setModifiedTime: 'setting the modification time',
};

/**
 * node:test's `skip` option for a test that needs `features`: false when the adapter has them
 * all, else the reason (the first missing feature), so a skipped contract test says why.
 */
export function skipUnless(adapter: string, capabilities: StorageCapabilities, ...features: StorageFeature[]): false | string {
  for (const feature of features) {
    const has = feature === 'rename' ? capabilities.rename !== 'none' : capabilities[feature];
    if (!has) return `the ${adapter} adapter declares no ${FEATURE_TEXT[feature]} (StorageCapabilities.${feature})`;
  }
  return false;
}

/** The write modes an adapter supports ('append' and 'resume' only when declared). */
export function supportedWriteModes(capabilities: StorageCapabilities): WriteMode[] {
  return (['create', 'overwrite', 'append', 'resume', 'update'] as const).filter((mode) =>
    mode === 'append' ? capabilities.append : mode === 'resume' || mode === 'update' ? capabilities.resumeWrite : true,
  );
}

// --- reading and writing through the port -------------------------------------------------

export async function collect(entries: AsyncIterable<Entry>): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const entry of entries) out.push(entry);
  return out;
}

/** A file's bytes (from `offset`). */
export async function readAll(backend: StorageBackend, file: VirtualPath, offset?: number): Promise<Buffer> {
  const stream = await backend.openRead(file, offset === undefined ? {} : { offset });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A file's content as UTF-8 text. */
export async function readText(backend: StorageBackend, file: VirtualPath): Promise<string> {
  return (await readAll(backend, file)).toString('utf8');
}

/** Writes `data` in one go and commits; a failed write is aborted (as a session does) and rethrown. */
export async function writeAll(backend: StorageBackend, file: VirtualPath, data: Buffer | string, mode: WriteMode = 'overwrite', offset?: number): Promise<void> {
  const handle = await backend.openWrite(file, offset === undefined ? { mode } : { mode, offset });
  try {
    await pipeline(Readable.from([Buffer.from(data)]), handle.stream);
    await handle.commit();
  } catch (error) {
    await handle.abort(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

/** Creates `dir` and every missing parent (mkdir -p through the port). */
export async function makeDirectories(backend: StorageBackend, dir: VirtualPath): Promise<void> {
  let current = '';
  for (const segment of dir.split('/').filter((s) => s !== '')) {
    current += `/${segment}`;
    try {
      await backend.makeDirectory(current);
    } catch (error) {
      if (!(isStorageError(error) && error.code === 'ALREADY_EXISTS')) throw error;
    }
  }
}

/** The parent of a virtual path ("/a/b" → "/a", "/a" → "/"). */
function parentOf(file: VirtualPath): VirtualPath {
  const cut = file.lastIndexOf('/');
  return cut <= 0 ? '/' : file.slice(0, cut);
}

/** Writes one file (creating its parent directories); returns the content's sha256. */
export async function seedFile(backend: StorageBackend, file: VirtualPath, data: Buffer | string): Promise<string> {
  await makeDirectories(backend, parentOf(file));
  await writeAll(backend, file, data);
  return sha256(Buffer.from(data));
}

/**
 * Writes a tree: virtual path to content (a string or Buffer) or to a size in bytes (random
 * bytes; 0 an empty file). A path ending in "/" is an empty directory. Returns path to sha256
 * for the files.
 */
export async function seedTree(backend: StorageBackend, files: Readonly<Record<string, string | Buffer | number>>): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const [key, content] of Object.entries(files)) {
    const file = key.startsWith('/') ? key : `/${key}`;
    if (file.endsWith('/')) {
      await makeDirectories(backend, file);
      continue;
    }
    sums[key] = await seedFile(backend, file, typeof content === 'number' ? randomBuffer(content) : content);
  }
  return sums;
}

/** Creates `count` small files f0000.txt… in `dir` (each holding its name and a newline); returns the names. */
export async function seedManyFiles(backend: StorageBackend, dir: VirtualPath, count: number): Promise<string[]> {
  await makeDirectories(backend, dir);
  const names = Array.from({ length: count }, (_, i) => `f${String(i).padStart(4, '0')}.txt`);
  const prefix = dir === '/' ? '' : dir;
  // Bounded parallelism keeps this quick without exhausting file descriptors.
  for (let i = 0; i < names.length; i += 100) {
    await Promise.all(names.slice(i, i + 100).map((name) => writeAll(backend, `${prefix}/${name}`, `${name}\n`)));
  }
  return names;
}

/** True when `file` exists (any type). */
export async function exists(backend: StorageBackend, file: VirtualPath): Promise<boolean> {
  try {
    await backend.stat(file);
    return true;
  } catch (error) {
    if (isStorageError(error) && error.code === 'NOT_FOUND') return false;
    throw error;
  }
}

/** The names in a directory, sorted. */
export async function listNames(backend: StorageBackend, dir: VirtualPath = '/'): Promise<string[]> {
  return (await collect(backend.list(dir))).map((entry) => entry.name).sort();
}

/**
 * Every file under `dir` (recursively): path relative to `dir` (with "/") to sha256, keys
 * sorted, so two trees compare with one deepEqual.
 */
export async function treeSums(backend: StorageBackend, dir: VirtualPath = '/'): Promise<Record<string, string>> {
  const files: string[] = [];
  const walk = async (at: VirtualPath, relative: string): Promise<void> => {
    for (const entry of await collect(backend.list(at))) {
      const child = at === '/' ? `/${entry.name}` : `${at}/${entry.name}`;
      const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.type === 'directory') await walk(child, rel);
      else if (entry.type === 'file') files.push(rel);
    }
  };
  await walk(dir, '');
  const base = dir === '/' ? '' : dir;
  const sums: Record<string, string> = {};
  for (const file of files.sort()) sums[file] = sha256(await readAll(backend, `${base}/${file}`));
  return sums;
}

/** Asserts that `action` rejects (or throws) a StorageError with one of `codes`. */
export async function rejectsWith(action: () => Promise<unknown>, ...codes: [StorageErrorCode, ...StorageErrorCode[]]): Promise<void> {
  await assert.rejects(
    async () => action(),
    (error: unknown) => {
      assert.ok(isStorageError(error), `expected a StorageError, got ${String(error)}`);
      assert.ok(codes.includes(error.code), `expected ${codes.join('|')}, got ${error.code}`);
      return true;
    },
  );
}
