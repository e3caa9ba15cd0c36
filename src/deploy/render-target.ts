/**
 * @module deploy/render-target
 * What a `kftpd render` target is: a pure function from the validated config to text (YAML
 * or JSON) plus warnings for the operator. The registry of targets lives in
 * deploy/render-targets.ts; the CLI only looks targets up there.
 */
import type { Config } from '../config/schema.js';

export interface RenderOutput {
  /** The artefact, ready for a file or `kubectl apply -f -` (ends with a newline). */
  readonly text: string;
  /** Things the operator should know but that do not stop the artefact from working. */
  readonly warnings: readonly string[];
  /**
   * Why the artefact, although it could be written, cannot work as rendered (a declaration
   * the target AS3 refuses, pools nobody fills, Services that drop data connections...).
   * `kftpd render` prints these and writes nothing unless --force. Configs that cannot be
   * rendered at all throw DeployLayoutError instead.
   */
  readonly errors: readonly string[];
}

export interface RenderTarget {
  /** One line for `kftpd render --help`. */
  readonly description: string;
  /** File name used for committed output under deploy/ (e.g. "kubernetes.yaml"). */
  readonly fileName: string;
  readonly render: (config: Config) => RenderOutput;
}
