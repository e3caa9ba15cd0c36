/**
 * @module cli/io
 * The process surface CLI commands are given, so they can be tested without a process.
 */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  readonly env: NodeJS.ProcessEnv;
}
