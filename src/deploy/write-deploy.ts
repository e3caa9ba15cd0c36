/**
 * @module deploy/write-deploy
 * Writes the rendered deploy/ tree to disk (kept apart from deploy-examples.ts so rendering
 * stays free of writes). `npm run render:deploy` runs it from the repository root.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { renderDeployTree } from './deploy-examples.js';

export async function writeDeployTree(repoRoot: string): Promise<string[]> {
  const files = await renderDeployTree(repoRoot);
  // Start from an empty tree so a target or example that was removed leaves no stale file.
  await rm(join(repoRoot, 'deploy'), { recursive: true, force: true });
  for (const [path, text] of files) {
    await mkdir(dirname(join(repoRoot, path)), { recursive: true });
    await writeFile(join(repoRoot, path), text, 'utf8');
  }
  return [...files.keys()];
}
