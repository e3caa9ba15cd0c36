/**
 * @module tls/certificate-store
 * The server's current TLS material (key, certificate chain, optional client CA bundle),
 * validated before use and hot-swapped when the files change, so certificate renewal never
 * needs a restart and never takes FTPS down.
 * Owns: reading and validating the PEM files (with tls/tls-material), the all-or-nothing swap, change detection
 * (stat polling, which follows symlinks: a Kubernetes Secret volume swaps its `..data`
 * symlink, cert-manager renews by rewriting the Secret), and reporting reload outcomes.
 * Must not: put key material in errors, events or logs; replace good material with a pair
 * that failed validation; build per-session SecureContexts (tls/session-context does); or
 * keep the process alive (watchers and timers are unref'd).
 */
import { unwatchFile, watchFile } from 'node:fs';
import { asError, digestOf, readTlsFile, validate, type CertificateSnapshot, type LoadedMaterial, type RawFiles } from './tls-material.js';

export { TLS_INVALID_CODE, TlsMaterialError, type CertificateSnapshot, type TlsFileRole } from './tls-material.js';

/** Outcome of a reload, reported through `onReload`. */
export type CertificateReloadEvent = { readonly ok: true; readonly fingerprint: string } | { readonly ok: false; readonly error: Error };

export interface CertificateStoreOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA bundle client certificates must chain to (mutual TLS). */
  readonly caFile?: string;
  /** How often the files are stat'ed for changes, and a failed reload retried. */
  readonly reloadIntervalMs: number;
  readonly onReload?: (event: CertificateReloadEvent) => void;
}

/** A failed reload: `key` identifies the broken content so the same failure is reported once. */
interface Failure {
  readonly key: string;
  readonly reported: boolean;
}

type Trigger = 'manual' | 'watch';

export class CertificateStore {
  readonly #options: CertificateStoreOptions;
  #material: LoadedMaterial | null = null;
  #failure: Failure | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #queuedTrigger: Trigger = 'watch';
  #starting: Promise<void> | null = null;
  #watching = false;
  #closed = false;
  // Any stat change (mtime, size, inode behind a swapped symlink) triggers a full re-read;
  // the content digest then tells a real change from a touch.
  readonly #onFileChange = (): void => {
    void this.#request('watch');
  };

  constructor(options: CertificateStoreOptions) {
    if (!Number.isFinite(options.reloadIntervalMs) || options.reloadIntervalMs <= 0) {
      throw new RangeError(`reloadIntervalMs must be a positive number, got ${String(options.reloadIntervalMs)}`);
    }
    this.#options = { ...options };
  }

  /**
   * Loads and validates the files, then starts watching them. Rejects with a
   * TlsMaterialError (code KFTPD_TLS_INVALID) naming the offending file.
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('CertificateStore is closed'));
    // One start per store, even if called twice: watchers must be registered once.
    this.#starting ??= this.#load().catch((error: unknown) => {
      this.#starting = null;
      throw error;
    });
    return this.#starting;
  }

  async #load(): Promise<void> {
    const raw = await this.#readAll();
    const loaded = validate(raw, this.#options);
    if (this.#closed) return;
    this.#material = loaded;
    this.#watch();
  }

  /** The material for new handshakes. Stable until a successful reload replaces it. */
  current(): CertificateSnapshot {
    return this.#loaded().snapshot;
  }

  /** notAfter of the current leaf certificate (for metrics and expiry warnings). */
  expiresAt(): Date {
    return new Date(this.#loaded().notAfter.getTime());
  }

  /**
   * Re-reads and re-validates the files now (e.g. on SIGHUP). Never rejects: the outcome
   * goes to `onReload`. Unchanged content is not reported; before start() or after
   * close() this does nothing.
   */
  reload(): Promise<void> {
    return this.#request('manual');
  }

  /** Stops watching. The last material stays readable through current(). */
  close(): void {
    this.#closed = true;
    if (this.#watching) {
      for (const file of this.#files()) {
        // With our own listener: other watchers of the same path are left alone.
        unwatchFile(file, this.#onFileChange);
      }
      this.#watching = false;
    }
    this.#stopRetry();
  }

  #loaded(): LoadedMaterial {
    if (this.#material === null) throw new Error('CertificateStore has not been started');
    return this.#material;
  }

  #files(): string[] {
    const files = [this.#options.certFile, this.#options.keyFile];
    if (this.#options.caFile !== undefined) files.push(this.#options.caFile);
    return [...new Set(files)];
  }

  #watch(): void {
    for (const file of this.#files()) {
      watchFile(file, { interval: this.#options.reloadIntervalMs, persistent: false }, this.#onFileChange);
    }
    this.#watching = true;
  }

  /**
   * Runs one reload at a time. A request made while one runs is queued (once): the files
   * may have changed after the running attempt read them, so it must not just share it.
   */
  #request(trigger: Trigger): Promise<void> {
    if (this.#closed || this.#material === null) return Promise.resolve();
    if (this.#queued !== null) {
      if (trigger === 'manual') this.#queuedTrigger = 'manual';
      return this.#queued;
    }
    const run = (runTrigger: Trigger): Promise<void> => {
      const attempt = this.#attempt(runTrigger)
        // #attempt handles every expected failure; this keeps a bug from becoming a rejection.
        .catch((error: unknown) => this.#emit({ ok: false, error: asError(error) }))
        .finally(() => {
          if (this.#running === attempt) this.#running = null;
        });
      this.#running = attempt;
      return attempt;
    };
    if (this.#running === null) return run(trigger);
    this.#queuedTrigger = trigger;
    const queued = this.#running.then(() => {
      this.#queued = null;
      return run(this.#queuedTrigger);
    });
    this.#queued = queued;
    return queued;
  }

  async #attempt(trigger: Trigger): Promise<void> {
    let raw: RawFiles;
    try {
      raw = await this.#readAll();
    } catch (error) {
      const failure = asError(error);
      this.#fail(`read:${failure.message}`, failure, trigger);
      return;
    }
    const current = this.#material;
    if (this.#closed || current === null) return;
    const digest = digestOf(raw);
    if (digest === current.digest) {
      // Back to (or still at) the material in use, e.g. a bad write was reverted.
      const wasReported = this.#failure?.reported === true;
      this.#clearFailure();
      if (wasReported) this.#emit({ ok: true, fingerprint: current.snapshot.fingerprint });
      return;
    }
    if (this.#failure?.key === digest && this.#failure.reported) return;
    let loaded: LoadedMaterial;
    try {
      loaded = validate(raw, this.#options);
    } catch (error) {
      this.#fail(digest, asError(error), trigger);
      return;
    }
    if (this.#closed) return;
    this.#material = loaded;
    this.#clearFailure();
    this.#emit({ ok: true, fingerprint: loaded.snapshot.fingerprint });
  }

  /**
   * A watched change that fails validation is only reported if the same content still fails
   * one interval later: a certificate and key replaced one after the other are briefly a
   * mismatched pair, and that is not worth an error in the log. An explicit reload() reports
   * at once. Either way the retry timer keeps trying until the files are good again.
   */
  #fail(key: string, error: Error, trigger: Trigger): void {
    const previous = this.#failure;
    const confirmed = trigger === 'manual' || previous?.key === key;
    if (confirmed) {
      if (!(previous?.key === key && previous.reported)) this.#emit({ ok: false, error });
      this.#failure = { key, reported: true };
    } else {
      this.#failure = { key, reported: false };
    }
    this.#scheduleRetry();
  }

  #clearFailure(): void {
    this.#failure = null;
    this.#stopRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== null || this.#closed) return;
    this.#retryTimer = setInterval(() => {
      void this.#request('watch');
    }, this.#options.reloadIntervalMs);
    this.#retryTimer.unref();
  }

  #stopRetry(): void {
    if (this.#retryTimer !== null) {
      clearInterval(this.#retryTimer);
      this.#retryTimer = null;
    }
  }

  #emit(event: CertificateReloadEvent): void {
    try {
      this.#options.onReload?.(event);
    } catch {
      // A throwing listener must not break reloading; reporting is its only job.
    }
  }

  async #readAll(): Promise<RawFiles> {
    const { certFile, keyFile, caFile } = this.#options;
    const [cert, key, ca] = await Promise.all([
      readTlsFile('certificate', certFile),
      readTlsFile('key', keyFile),
      caFile === undefined ? Promise.resolve(undefined) : readTlsFile('ca', caFile),
    ]);
    return ca === undefined ? { cert, key } : { cert, key, ca };
  }
}
