/**
 * @module tls/x509-loader
 * Loads @peculiar/x509 on first use. The library's dependency-injection container
 * (tsyringe) refuses to load unless `Reflect.getMetadata` exists, which it expects from a
 * global polyfill such as reflect-metadata; kftpd does not ship one.
 * Owns: the lazy, memoised import and the minimal metadata functions present only while
 * the library's modules evaluate.
 * Must not: leave anything on the global `Reflect` (another library testing for
 * reflect-metadata must not mistake this stand-in for the real thing), replace a polyfill
 * somebody else installed, or be needed on the TLS hot path (only certificate generation
 * uses it, so a server with its own certificate never loads the library at all).
 */
import type * as X509 from '@peculiar/x509';

type MetadataKey = unknown;
type MetadataTarget = object;

/** The three functions tsyringe calls, all of them while its decorators run at load time. */
interface ReflectMetadataApi {
  getMetadata?: (key: MetadataKey, target: MetadataTarget) => unknown;
  getOwnMetadata?: (key: MetadataKey, target: MetadataTarget) => unknown;
  defineMetadata?: (key: MetadataKey, value: unknown, target: MetadataTarget) => void;
}

let loading: Promise<typeof X509> | undefined;

/** The @peculiar/x509 module, imported once per process. */
export function loadX509(): Promise<typeof X509> {
  loading ??= importWithMetadataStandIn().catch((error: unknown) => {
    // A failed import must not stay cached: a later call may succeed (or report again).
    loading = undefined;
    throw error;
  });
  return loading;
}

async function importWithMetadataStandIn(): Promise<typeof X509> {
  const reflect = Reflect as typeof Reflect & ReflectMetadataApi;
  if (typeof reflect.getMetadata === 'function') {
    return import('@peculiar/x509');
  }
  // @peculiar/x509 declares no metadata of its own (it is compiled without
  // emitDecoratorMetadata and uses no @inject), so lookups only ever find nothing; the
  // store exists so the stand-in behaves correctly should a decorator define something.
  const store = new WeakMap<MetadataTarget, Map<MetadataKey, unknown>>();
  const getOwnMetadata = (key: MetadataKey, target: MetadataTarget): unknown => store.get(target)?.get(key);
  const getMetadata = (key: MetadataKey, target: MetadataTarget): unknown => {
    for (let current: MetadataTarget | null = target; current !== null; current = Object.getPrototypeOf(current) as MetadataTarget | null) {
      const own = store.get(current);
      if (own?.has(key) === true) {
        return own.get(key);
      }
    }
    return undefined;
  };
  const defineMetadata = (key: MetadataKey, value: unknown, target: MetadataTarget): void => {
    let own = store.get(target);
    if (own === undefined) {
      own = new Map();
      store.set(target, own);
    }
    own.set(key, value);
  };
  const added: ReflectMetadataApi = {};
  if (reflect.getOwnMetadata === undefined) added.getOwnMetadata = getOwnMetadata;
  if (reflect.defineMetadata === undefined) added.defineMetadata = defineMetadata;
  added.getMetadata = getMetadata;
  Object.assign(reflect, added);
  try {
    return await import('@peculiar/x509');
  } finally {
    for (const name of Object.keys(added) as (keyof ReflectMetadataApi)[]) {
      // Only remove what is still ours; never a function someone installed meanwhile.
      if (reflect[name] === added[name]) {
        delete reflect[name];
      }
    }
  }
}
