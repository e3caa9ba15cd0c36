/**
 * @module deploy/deploy-examples
 * The example configs under examples/ and what `npm run render:deploy` renders from each into
 * deploy/<example>/. The committed deploy/ tree is checked against this in CI
 * (test/unit/deploy/deploy-drift.test.ts), so hand edits there, or a generator change not
 * followed by a re-render, fail the build. An example is what operators copy, so it must
 * render without a single warning or error: rendering the tree throws otherwise.
 */
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { RENDER_TARGETS } from './render-targets.js';

export interface DeployExample {
  /** examples/<name>.yaml and deploy/<name>/. */
  readonly name: string;
  readonly targets: readonly string[];
}

export const DEPLOY_EXAMPLES: readonly DeployExample[] = Object.freeze([
  // CIS-filled pools: f5-cis only (f5-as3 would be a declaration with empty pools).
  { name: 'f5-passthrough', targets: ['kubernetes', 'f5-cis'] },
  { name: 'f5-static-members', targets: ['kubernetes', 'f5-as3'] },
  { name: 'f5-ftp-profile', targets: ['kubernetes', 'f5-cis'] },
  // FTPS and SFTP side by side: the SSH virtual on 22, host keys from one Secret.
  { name: 'f5-sftp', targets: ['kubernetes', 'f5-cis'] },
  { name: 'nodeport', targets: ['kubernetes'] },
]);

export const DEPLOY_REGENERATE_COMMAND = 'npm run render:deploy';

/**
 * Every file of the deploy/ tree, keyed by its path relative to the repository root, rendered
 * from the example configs in `repoRoot`/examples. The environment is not read (an empty
 * one is passed), so the result is the same on every machine.
 */
export async function renderDeployTree(repoRoot: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const example of DEPLOY_EXAMPLES) {
    const { config } = await loadConfig({ file: join(repoRoot, 'examples', `${example.name}.yaml`), env: {}, args: [] });
    for (const targetName of example.targets) {
      const target = RENDER_TARGETS[targetName];
      if (target === undefined) throw new Error(`deploy example ${example.name}: unknown render target ${targetName}`);
      const output = target.render(config);
      const problems = [...output.errors.map((error) => `error: ${error}`), ...output.warnings.map((warning) => `warning: ${warning}`)];
      if (problems.length > 0) throw new Error(`examples/${example.name}.yaml, render ${targetName}:\n${problems.join('\n')}`);
      files.set(join('deploy', example.name, target.fileName), output.text);
    }
  }
  return files;
}
