/**
 * @module cli/doctor-render-check
 * Owns `kftpd doctor --render-check`: loads the config as `kftpd render` does, reads the saved
 * cluster state (and the BIG-IP declaration when given), runs doctor/render-check.ts and prints
 * the report. Nothing is fetched: the operator saves the files with kubectl and curl, so the
 * check needs no credentials of its own.
 * Must not: exit the process. Exit codes: 0 no failure, 1 a check failed, 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { DeployLayoutError } from '../deploy/layout.js';
import { renderCheck } from '../doctor/render-check.js';
import type { RenderCheckReport } from '../doctor/render-check.js';
import type { CliIo } from './io.js';

export const RENDER_CHECK_USAGE = [
  'usage: kftpd doctor --render-check --config FILE --cluster-state FILE [--declaration FILE] [--json]',
  '',
  'Compares a running deployment with what `kftpd render` makes of the same config, from saved files:',
  '  --cluster-state FILE  kubectl -n <namespace> get services,endpointslices -o json',
  '  --declaration FILE    optional: the AS3 declaration BIG-IP holds',
  '                        (curl -sku admin https://<bigip>/mgmt/shared/appsvcs/declare)',
  '  --config FILE         the kftpd config the deployment was rendered from',
  'Checks: every rendered Service exists with the same type, ports, selector and labels; no stale',
  'Service of the release; each data Service ends at its own replica with all its ports; the control',
  'Service has ready endpoints; the declaration has the rendered virtuals, port lists and pools, and',
  'each data pool holds its replica\'s pod address.',
].join('\n');

const LABEL = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL' } as const;

export function formatRenderCheck(report: RenderCheckReport): string {
  const lines = [`kftpd doctor --render-check: ${report.target}`];
  for (const finding of report.findings) {
    lines.push(`${LABEL[finding.severity]} ${finding.code}: ${finding.message}`);
    if (finding.hint !== undefined) lines.push(`     hint: ${finding.hint}`);
  }
  const fails = report.findings.filter((finding) => finding.severity === 'fail').length;
  lines.push(fails === 0 ? 'the deployment matches the render' : `${fails} difference(s) from the render`);
  return `${lines.join('\n')}\n`;
}

async function readJson(file: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (error) {
    throw new DeployLayoutError(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
}

export async function runRenderCheck(args: string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'render-check': { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        'cluster-state': { type: 'string' },
        declaration: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr(`kftpd doctor: ${(error as Error).message}\n\n${RENDER_CHECK_USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    io.stdout(`${RENDER_CHECK_USAGE}\n`);
    return 0;
  }
  const clusterState = values['cluster-state'];
  if (typeof clusterState !== 'string') {
    io.stderr(`kftpd doctor: --render-check needs --cluster-state FILE\n\n${RENDER_CHECK_USAGE}\n`);
    return 2;
  }
  try {
    const configFile = typeof values.config === 'string' ? values.config : undefined;
    const { config } = await loadConfig({ ...(configFile ? { file: configFile } : {}), env: io.env, args: [] });
    const state = await readJson(clusterState, '--cluster-state');
    const declaration = typeof values.declaration === 'string' ? await readJson(values.declaration, '--declaration') : undefined;
    const report = renderCheck(config, state, declaration);
    io.stdout(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatRenderCheck(report));
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DeployLayoutError) {
      io.stderr(`kftpd doctor --render-check: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
