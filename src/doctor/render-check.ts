/**
 * @module doctor/render-check
 * `kftpd doctor --render-check`: compares what runs with what `kftpd render` makes of the same
 * config, from files alone (no cluster or BIG-IP credentials): the Services and EndpointSlices
 * of the release (`kubectl get services,endpointslices -o json`) and, optionally, the AS3
 * declaration BIG-IP holds (GET /mgmt/shared/appsvcs/declare, or the CIS ConfigMap's
 * template). It finds the drift the troubleshooting guide describes: a replica count changed
 * on one side only, a data Service whose endpoint is not its replica, a port list or a data
 * pool that does not match the slice. Pure: parsed JSON in, findings out.
 */
import type { Config } from '../config/schema.js';
import { buildAs3Request } from '../deploy/f5/as3-declaration.js';
import { kubernetesManifests } from '../deploy/kubernetes/render-kubernetes.js';
import { POD_NAME_LABEL } from '../deploy/kubernetes/data-services.js';
import type { KubernetesObject } from '../deploy/kubernetes/object-meta.js';
import { deployLayout, f5DataPoolName, f5TenantName } from '../deploy/layout.js';
import type { Severity } from './findings.js';

export const RENDER_CHECK_CODES = [
  'SERVICE_OK',
  'SERVICE_MISSING',
  'SERVICE_DIFFERS',
  'SERVICE_STALE',
  'ENDPOINTS_OK',
  'ENDPOINTS_MISSING',
  'CONTROL_NOT_READY',
  'DATA_ENDPOINT_WRONG',
  'DECLARATION_OK',
  'DECLARATION_TENANT_MISSING',
  'DECLARATION_OBJECT_MISSING',
  'DECLARATION_DIFFERS',
  'DECLARATION_STALE',
  'POOL_MEMBER_WRONG',
] as const;

export type RenderCheckCode = (typeof RENDER_CHECK_CODES)[number];

export interface RenderCheckFinding {
  readonly code: RenderCheckCode;
  readonly severity: Severity;
  readonly message: string;
  readonly hint?: string;
}

export interface RenderCheckReport {
  readonly target: string;
  readonly ok: boolean;
  readonly findings: readonly RenderCheckFinding[];
}

type Json = Record<string, unknown>;

const RERENDER = 'render both sides from the same config and apply them (kubectl apply -f <(kftpd render kubernetes ...), then the BIG-IP side)';

function asObject(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The items of a `kubectl get -o json` List (or a single object). */
export function listItems(state: unknown): Json[] {
  const root = asObject(state);
  return root['kind'] === 'List' || Array.isArray(root['items']) ? asArray(root['items']).map(asObject) : [root];
}

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${key}:${stable((value as Json)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The fields of a rendered Service that must hold on the live one (live extras are ignored). */
function serviceDifferences(rendered: KubernetesObject, live: Json): string[] {
  const spec = asObject(rendered['spec']);
  const liveSpec = asObject(live['spec']);
  const out: string[] = [];
  for (const field of ['type', 'externalTrafficPolicy', 'publishNotReadyAddresses', 'clusterIP']) {
    if (spec[field] !== undefined && spec[field] !== liveSpec[field]) out.push(`spec.${field} is ${stable(liveSpec[field])}, rendered ${stable(spec[field])}`);
  }
  if (stable(spec['selector']) !== stable(liveSpec['selector'])) out.push(`spec.selector is ${stable(liveSpec['selector'])}, rendered ${stable(spec['selector'])}`);
  const livePorts = new Map(asArray(liveSpec['ports']).map((port) => [String(asObject(port)['name']), asObject(port)]));
  const renderedPorts = asArray(spec['ports']).map(asObject);
  if (livePorts.size !== renderedPorts.length) out.push(`${livePorts.size} ports, rendered ${renderedPorts.length}`);
  for (const port of renderedPorts) {
    const livePort = livePorts.get(String(port['name']));
    if (livePort === undefined) {
      out.push(`port ${String(port['name'])} missing`);
      continue;
    }
    for (const field of ['port', 'targetPort', 'nodePort']) {
      if (port[field] !== undefined && port[field] !== livePort[field]) out.push(`port ${String(port['name'])} ${field} is ${stable(livePort[field])}, rendered ${stable(port[field])}`);
    }
  }
  const liveLabels = asObject(asObject(live['metadata'])['labels']);
  for (const [key, value] of Object.entries(rendered.metadata.labels)) {
    if (liveLabels[key] !== value) out.push(`label ${key} is ${String(liveLabels[key])}, rendered ${value}`);
  }
  return out;
}

interface Endpoint {
  readonly addresses: readonly string[];
  readonly ready: boolean;
  readonly pod: string | undefined;
  readonly ports: number;
}

function endpointsByService(items: readonly Json[]): Map<string, Endpoint[]> {
  const out = new Map<string, Endpoint[]>();
  for (const slice of items.filter((item) => item['kind'] === 'EndpointSlice')) {
    const service = asObject(asObject(slice['metadata'])['labels'])['kubernetes.io/service-name'];
    if (typeof service !== 'string') continue;
    const ports = asArray(slice['ports']).length;
    const list = out.get(service) ?? [];
    for (const endpoint of asArray(slice['endpoints']).map(asObject)) {
      const ready = asObject(endpoint['conditions'])['ready'] !== false;
      const pod = asObject(endpoint['targetRef'])['name'];
      list.push({ addresses: asArray(endpoint['addresses']).map(String), ready, pod: typeof pod === 'string' ? pod : undefined, ports });
    }
    out.set(service, list);
  }
  return out;
}

function checkServices(config: Config, items: readonly Json[], findings: RenderCheckFinding[]): Map<string, string> {
  const layout = deployLayout(config);
  const rendered = kubernetesManifests(config).objects.filter((object) => object.kind === 'Service');
  const live = new Map(items.filter((item) => item['kind'] === 'Service').map((item) => [String(asObject(item['metadata'])['name']), item]));
  const endpoints = endpointsByService(items);
  const podAddresses = new Map<string, string>();
  let good = 0;
  for (const service of rendered) {
    const name = service.metadata.name;
    const liveService = live.get(name);
    if (liveService === undefined) {
      findings.push({ code: 'SERVICE_MISSING', severity: 'fail', message: `Service ${name} is rendered but not in the cluster state`, hint: RERENDER });
      continue;
    }
    const differences = serviceDifferences(service, liveService);
    if (differences.length > 0) findings.push({ code: 'SERVICE_DIFFERS', severity: 'fail', message: `Service ${name}: ${differences.slice(0, 5).join('; ')}${differences.length > 5 ? ` (+${differences.length - 5} more)` : ''}`, hint: RERENDER });
    else good++;
  }
  for (const [name, item] of live) {
    const labels = asObject(asObject(item['metadata'])['labels']);
    const ours = Object.entries(layout.selector).every(([key, value]) => labels[key] === value);
    if (ours && !rendered.some((service) => service.metadata.name === name)) {
      findings.push({ code: 'SERVICE_STALE', severity: 'warn', message: `Service ${name} carries this release's labels but is not rendered (a replica removed on one side only?)`, hint: `delete it, or ${RERENDER}` });
    }
  }
  if (good === rendered.length) findings.push({ code: 'SERVICE_OK', severity: 'ok', message: `${good} Services match the render` });

  if (endpoints.size === 0) {
    findings.push({ code: 'ENDPOINTS_MISSING', severity: 'warn', message: 'no EndpointSlices in the cluster state: which pod serves which slice was not checked', hint: `kubectl -n ${layout.namespace} get services,endpointslices -o json` });
    return podAddresses;
  }
  let endpointProblems = 0;
  const control = (endpoints.get(layout.controlServiceName) ?? []).filter((endpoint) => endpoint.ready);
  if (control.length === 0) {
    endpointProblems++;
    findings.push({ code: 'CONTROL_NOT_READY', severity: 'fail', message: `the control Service ${layout.controlServiceName} has no ready endpoint`, hint: `kubectl -n ${layout.namespace} describe pods -l app.kubernetes.io/instance=${layout.name}` });
  }
  for (const replica of layout.replicaLayouts) {
    const list = endpoints.get(replica.dataServiceName) ?? [];
    const pods = [...new Set(list.map((endpoint) => endpoint.pod))];
    const portCount = list[0]?.ports ?? 0;
    if (pods.length !== 1 || pods[0] !== replica.podName || portCount !== replica.ports.length) {
      endpointProblems++;
      findings.push({
        code: 'DATA_ENDPOINT_WRONG',
        severity: 'fail',
        message: `data Service ${replica.dataServiceName} (passive ${replica.slice.min}-${replica.slice.max}) has endpoints [${pods.map(String).join(', ')}] with ${portCount} ports; it must have exactly ${replica.podName} with ${replica.ports.length}`,
        hint: `its selector must pick ${POD_NAME_LABEL}=${replica.podName} alone; ${RERENDER}`,
      });
    } else {
      const address = list[0]?.addresses[0];
      if (address !== undefined) podAddresses.set(replica.podName, address);
    }
  }
  if (endpointProblems === 0) findings.push({ code: 'ENDPOINTS_OK', severity: 'ok', message: `each data Service ends at its own replica; ${control.length} ready control endpoint(s)` });
  return podAddresses;
}

/** The Application of this release inside an AS3 request, or a bare ADC declaration. */
function liveApplication(config: Config, declaration: unknown): Json | null {
  const root = asObject(declaration);
  const adc = root['class'] === 'AS3' ? asObject(root['declaration']) : root;
  const tenant = adc[f5TenantName(config)];
  if (tenant === undefined) return null;
  return asObject(asObject(tenant)[config.deploy.f5.application]);
}

function checkDeclaration(config: Config, declaration: unknown, podAddresses: ReadonlyMap<string, string>, findings: RenderCheckFinding[]): void {
  const app = liveApplication(config, declaration);
  const tenant = `${f5TenantName(config)}/${config.deploy.f5.application}`;
  if (app === null) {
    findings.push({ code: 'DECLARATION_TENANT_MISSING', severity: 'fail', message: `the declaration has no tenant ${f5TenantName(config)}`, hint: 'post kftpd render f5-as3 (or apply kftpd render f5-cis); check deploy.f5.tenant' });
    return;
  }
  const rendered = asObject(asObject(buildAs3Request(config).request.declaration[f5TenantName(config)])[config.deploy.f5.application]);
  let problems = 0;
  const fail = (code: RenderCheckCode, message: string): void => {
    problems++;
    findings.push({ code, severity: 'fail', message, hint: RERENDER });
  };
  for (const [name, object] of Object.entries(rendered)) {
    const want = asObject(object);
    const cls = want['class'];
    if (cls !== 'Service_TCP' && cls !== 'Pool' && cls !== 'Net_Port_List') continue;
    const got = asObject(app[name]);
    if (got['class'] !== cls) {
      fail('DECLARATION_OBJECT_MISSING', `${tenant}/${name} (${String(cls)}) is rendered but not on BIG-IP`);
      continue;
    }
    const fields = cls === 'Service_TCP' ? ['virtualPort', 'pool', 'translateServerPort'] : cls === 'Net_Port_List' ? ['ports'] : [];
    for (const field of fields) {
      if (stable(want[field]) !== stable(got[field])) fail('DECLARATION_DIFFERS', `${tenant}/${name}.${field} is ${stable(got[field])}, rendered ${stable(want[field])}`);
    }
  }
  for (const [name, object] of Object.entries(app)) {
    const cls = asObject(object)['class'];
    if ((cls === 'Service_TCP' || cls === 'Net_Port_List') && rendered[name] === undefined) {
      problems++;
      findings.push({ code: 'DECLARATION_STALE', severity: 'fail', message: `${tenant}/${name} (${String(cls)}) is on BIG-IP but not rendered: a data virtual for a replica that no longer exists sends its slice nowhere`, hint: RERENDER });
    }
  }
  // The pools as BIG-IP has them (CIS fills them): data pool i must hold replica i's address.
  for (const replica of deployLayout(config).replicaLayouts) {
    const want = podAddresses.get(replica.podName);
    const pool = asObject(app[f5DataPoolName(replica.index)]);
    const addresses = asArray(pool['members']).flatMap((member) => asArray(asObject(member)['serverAddresses']).map(String));
    if (want === undefined || addresses.length === 0) continue;
    if (addresses.length !== 1 || addresses[0] !== want) {
      problems++;
      findings.push({ code: 'POOL_MEMBER_WRONG', severity: 'fail', message: `${tenant}/${f5DataPoolName(replica.index)} holds [${addresses.join(', ')}], but ${replica.podName} is ${want}`, hint: 'with static members, re-render with the current pod addresses and post again; with CIS, check it runs with --pool-member-type=cluster and sees the Service labels' });
    }
  }
  if (problems === 0) findings.push({ code: 'DECLARATION_OK', severity: 'ok', message: `${tenant}: virtuals, port lists and pools match the render` });
}

/** Compares the cluster state (and the BIG-IP declaration, when given) with the render of `config`. */
export function renderCheck(config: Config, clusterState: unknown, declaration?: unknown): RenderCheckReport {
  const findings: RenderCheckFinding[] = [];
  const podAddresses = checkServices(config, listItems(clusterState), findings);
  if (declaration !== undefined) checkDeclaration(config, declaration, podAddresses, findings);
  return { target: `${config.deploy.kubernetes.namespace}/${config.deploy.name}`, ok: findings.every((finding) => finding.severity !== 'fail'), findings };
}
