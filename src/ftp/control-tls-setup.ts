/**
 * @module ftp/control-tls-setup
 * Owns the FTPS material of the FTP frontend: the certificate (tls.certFile, or a
 * self-signed one created under stateDir when none is configured), its reload, and the
 * per-connection TLS scopes (tls/resumption-registry) every control and data connection
 * of this frontend uses.
 */
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { ControlTlsSetup } from '../net/control-tls.js';
import { CertificateStore } from '../tls/certificate-store.js';
import { TlsResumptionRegistry } from '../tls/resumption-registry.js';
import { ensureSelfSignedCertificate } from '../tls/self-signed.js';

export interface ControlTls {
  readonly setup: ControlTlsSetup;
  readonly certificates: CertificateStore;
  /** Set when a self-signed certificate is in use (the CLI prints its fingerprint). */
  readonly selfSigned: { certFile: string; fingerprint: string } | null;
}

/** Loads (or, with no certificate configured, creates) the certificate and watches it; null with TLS off. */
export async function startControlTls(config: Readonly<Config>, logger: Logger): Promise<ControlTls | null> {
  const tlsConfig = config.tls;
  if (tlsConfig.control === 'off') return null;
  let { certFile, keyFile } = tlsConfig;
  let selfSigned: ControlTls['selfSigned'] = null;
  if (certFile === '') {
    const generated = await ensureSelfSignedCertificate(path.join(config.stateDir, 'tls'));
    ({ certFile, keyFile } = generated);
    selfSigned = { certFile, fingerprint: generated.fingerprint };
    logger.warn({ event: 'tls.self-signed', certFile, fingerprint: generated.fingerprint, created: generated.created }, 'no tls.certFile configured: using a self-signed certificate');
  }
  const caFile = tlsConfig.clientCertificates.mode === 'off' ? undefined : tlsConfig.clientCertificates.caFile;
  const certificates = new CertificateStore({
    certFile,
    keyFile,
    ...(caFile ? { caFile } : {}),
    reloadIntervalMs: tlsConfig.reloadIntervalMs,
    onReload: (event) => {
      if (event.ok) logger.info({ event: 'tls.reloaded', fingerprint: event.fingerprint }, 'certificate reloaded');
      else logger.error({ event: 'tls.reload-failed', err: event.error }, 'certificate reload failed; keeping the previous certificate');
    },
  });
  await certificates.start();
  return {
    certificates,
    selfSigned,
    setup: {
      registry: new TlsResumptionRegistry({
        material: () => certificates.current(),
        contextOptions: { minVersion: tlsConfig.minVersion, maxVersion: tlsConfig.maxVersion, ciphers: tlsConfig.ciphers },
      }),
      handshakeTimeoutMs: tlsConfig.handshakeTimeoutMs,
      clientCertificates: tlsConfig.clientCertificates.mode,
      ccc: tlsConfig.ccc,
    },
  };
}
