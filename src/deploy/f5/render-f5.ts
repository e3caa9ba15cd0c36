/**
 * @module deploy/f5/render-f5
 * The two F5 render targets: `f5-as3` (the AS3 request as JSON, to POST to
 * /mgmt/shared/appsvcs/declare from a pipeline) and `f5-cis` (the same declaration in a CIS
 * AS3 ConfigMap, plus a commented-out TransportServer as the CRD-mode alternative for the
 * control virtual). Pure: config in, text and warnings out; the same config always gives the
 * same bytes.
 */
import type { Config } from '../../config/schema.js';
import { DeployLayoutError, f5TenantName } from '../layout.js';
import type { RenderOutput, RenderTarget } from '../render-target.js';
import { toYaml } from '../kubernetes/yaml-text.js';
import { buildAs3Request } from './as3-declaration.js';
import { cisConfigMap } from './cis-configmap.js';
import { cisSftpTransportServer, cisTransportServer, transportServerPrerequisites } from './cis-transport-server.js';

/**
 * The AS3 request to POST. Its pools carry addresses only with static members: with
 * poolMembers cis they are left for CIS to fill, and posting them directly would create
 * empty pools, so that is an error (render f5-cis is the way to hand them to CIS).
 */
export function renderF5As3(config: Config): RenderOutput {
  const { request, warnings, errors } = buildAs3Request(config);
  const allErrors = [...errors];
  if (config.deploy.f5.poolMembers === 'cis') {
    allErrors.push('kftpd render f5-as3 with deploy.f5.poolMembers cis leaves every pool empty (serverAddresses []) for F5 CIS to fill: posted to BIG-IP directly it creates pools without members. Hand it to CIS with kftpd render f5-cis, or set deploy.f5.poolMembers static with the pod addresses in deploy.f5.memberAddresses');
  }
  return { text: `${JSON.stringify(request, null, 2)}\n`, warnings, errors: allErrors };
}

function comment(lines: readonly string[]): string {
  return lines.map((line) => (line === '' ? '#' : `# ${line}`)).join('\n') + '\n';
}

/**
 * The TransportServer is rendered as a comment block, never as a live object, and always (not
 * only for tiny slices): applying it next to the ConfigMap would ask for a second virtual on
 * VIP:21 beside the AS3 one (BIG-IP refuses the duplicate destination), and the ConfigMap-mode
 * CIS that reads the ConfigMap ignores custom resources anyway. Kept as text, it documents the
 * only part of the design a CRD-mode CIS can express, validated like the rest.
 */
function transportServerBlock(config: Config): string {
  const sftp = cisSftpTransportServer(config);
  const header = [
    'Alternative for a CIS instance in CRD mode (--custom-resource-mode=true), NOT applied:',
    ...(sftp === null
      ? ['one CIS instance runs either CRD mode or AS3 ConfigMap mode, never both, and this', 'TransportServer would duplicate the "control" virtual of the ConfigMap above (VIP:21).']
      : ['one CIS instance runs either CRD mode or AS3 ConfigMap mode, never both, and these', 'TransportServers would duplicate the "control" and "sftp" virtuals above (VIP:21, VIP:22).']),
    `${sftp === null ? 'It' : 'The first'} covers the control port only: a TransportServer listens on a single port and cannot`,
    'keep the destination port, so the passive slices (one data virtual per replica) and',
    'implicit FTPS still need the AS3 declaration (kftpd render f5-as3).',
    ...(sftp === null ? [] : ['SFTP needs no passive ports, so its TransportServer (the second one) is complete.']),
    'Create first on BIG-IP:',
    ...transportServerPrerequisites(config).map((line) => `  ${line}`),
    'then remove the leading "# " from the lines below.',
    '',
  ];
  const objects = [cisTransportServer(config), ...(sftp === null ? [] : [sftp])];
  const body = objects.map((object) => toYaml(object).trimEnd()).join('\n---\n').split('\n');
  return comment([...header, ...body]);
}

export function renderF5Cis(config: Config): RenderOutput {
  if (config.deploy.f5.poolMembers !== 'cis') {
    throw new DeployLayoutError('kftpd render f5-cis needs deploy.f5.poolMembers cis: CIS fills the pools from the Services labelled cis.f5.com/as3-*, which `kftpd render kubernetes` labels only then (for static members push kftpd render f5-as3 instead)');
  }
  const { request, warnings, errors, tmosVersion } = buildAs3Request(config, { poolMembers: 'cis' });
  const { f5, kubernetes } = config.deploy;
  const allWarnings = [...warnings];
  if (f5.cisNamespace !== '' && f5.cisNamespace !== kubernetes.namespace) {
    allWarnings.push(`deploy.f5.cisNamespace (${f5.cisNamespace}) is not deploy.kubernetes.namespace (${kubernetes.namespace}): CIS looks for the labelled Services in the ConfigMap's own namespace unless it runs in hub mode (--hubmode); put the ConfigMap in ${kubernetes.namespace} or run CIS with --hubmode`);
  }
  const header = comment([
    `kftpd render f5-cis: BIG-IP objects for ${config.deploy.name} through F5 Container Ingress Services`,
    'in AS3 ConfigMap mode, with --pool-member-type=cluster (pool members are pod addresses,',
    "which BIG-IP must reach; the monitors probe the pods' admin or control port directly).",
    'CIS fills each pool (controlPool, implicitPool, sftpPool, dataPool<N>) from the one Service',
    'labelled cis.f5.com/as3-pool=<pool> by `kftpd render kubernetes`.',
    `Needs AS3 ${request.declaration.schemaVersion} (its schemaVersion; CIS 2.18-2.20.3 validate against AS3 3.52)${tmosVersion === null ? '' : ` and BIG-IP ${tmosVersion}`} or later.`,
    `AS3 tenant ${f5TenantName(config)}: AS3 replaces a tenant whole, so it belongs to this release alone.`,
    'Deleting this ConfigMap does not remove the tenant from BIG-IP.',
  ]);
  const text = `${header}${toYaml(cisConfigMap(config, request))}---\n${transportServerBlock(config)}`;
  return { text, warnings: allWarnings, errors };
}

export const F5_AS3_TARGET: RenderTarget = Object.freeze({
  description: 'F5 BIG-IP AS3 declaration (JSON) for a pipeline: virtuals, pools, port lists, PROXY iRule',
  fileName: 'f5-as3.json',
  render: renderF5As3,
});

export const F5_CIS_TARGET: RenderTarget = Object.freeze({
  description: 'F5 CIS AS3 ConfigMap (YAML) carrying the same declaration; pools filled by CIS',
  fileName: 'f5-cis.yaml',
  render: renderF5Cis,
});
