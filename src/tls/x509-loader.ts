/**
 * @module tls/x509-loader
 * Loads @peculiar/x509 on first use. Its dependency-injection container (tsyringe) needs
 * the reflect-metadata polyfill, which is its documented requirement; importing it here
 * keeps the polyfill (and the library) off the start-up path of a server that has its own
 * certificate: only self-signed generation uses it.
 */
import type * as X509 from '@peculiar/x509';

let loading: Promise<typeof X509> | undefined;

/** The @peculiar/x509 module, imported once per process. */
export function loadX509(): Promise<typeof X509> {
  loading ??= (async () => {
    await import('reflect-metadata');
    return import('@peculiar/x509');
  })().catch((error: unknown) => {
    // A failed import must not stay cached: a later call may succeed (or report again).
    loading = undefined;
    throw error;
  });
  return loading;
}
