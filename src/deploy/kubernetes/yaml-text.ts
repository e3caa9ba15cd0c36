/**
 * @module deploy/kubernetes/yaml-text
 * How rendered data becomes YAML text: one set of stringify options for the manifest stream
 * and the pod's kftpd.yaml, so output is stable byte for byte. Pure.
 */
import { stringify } from 'yaml';

/**
 * YAML 1.1 quoting: kubectl and kustomize parse manifests with go-yaml, where an unquoted
 * `on`, `off`, `yes` or `no` is a boolean; with version 1.1 the `yaml` package quotes such
 * strings (harmless for YAML 1.2 readers such as kftpd's own loader). lineWidth 0 never
 * folds long strings, so a value is always on one line and diffs stay readable.
 */
const OPTIONS = { version: '1.1', lineWidth: 0, minContentWidth: 0 } as const;

/** `value` as a YAML document (no `---`, ends with a newline). */
export function toYaml(value: unknown): string {
  return stringify(value, OPTIONS);
}
