/**
 * @module runtime/frontend
 * The contract between the server runtime and a protocol frontend (FTP, SFTP, and whatever
 * comes next). A frontend owns its listeners and its connection type; it admits every new
 * connection through the runtime's admission, logs users in through the file service, and
 * takes part in the drain. The runtime never looks inside a frontend's connections: it
 * counts them, asks them to drain, and closes what is left at the deadline.
 */

/** One listening address of a frontend. */
export interface FrontendAddress {
  /** Which listener: `control`, `implicit`, `sftp`. */
  readonly listener: string;
  readonly host: string;
  readonly port: number;
}

export interface ProtocolFrontend {
  /** The protocol, for logs and metrics: `ftp`, `sftp`. */
  readonly name: string;
  /** Binds the listeners (and loads what they need: certificates, host keys). */
  start(): Promise<void>;
  /** The bound listeners; empty before start. */
  addresses(): readonly FrontendAddress[];
  /** Every listener is bound and accepting (readiness). */
  readonly listening: boolean;
  /** Open sessions (admitted connections that have not closed yet). */
  readonly liveSessions: number;
  /** Closes the listeners: no new connection from now on. */
  stopAccepting(): void;
  /**
   * Sessions finish what they are doing and close once idle for `idleMs` (0: as soon as the
   * running command or request has been answered).
   */
  drain(idleMs: number): void;
  /** The drain deadline: closes every session left, then releases the frontend's resources. */
  close(): Promise<void>;
}
