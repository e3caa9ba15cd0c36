/**
 * @module config/write-docs
 * Owns writing the generated configuration reference to disk (kept apart from docs.ts so
 * rendering stays pure). Used by the docs regeneration command; see DOCS_REGENERATE_COMMAND.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { renderConfigDocs } from './docs.js';

export async function writeConfigDocs(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderConfigDocs(), 'utf8');
}
