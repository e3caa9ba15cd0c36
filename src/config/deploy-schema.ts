/**
 * @module config/deploy-schema
 * The `deploy` section of the one config schema: how `kftpd render` places the server on
 * Kubernetes and in front of it on F5 BIG-IP. The server itself ignores this section; the
 * renderers read it together with the server settings (passive range, replicas, ports,
 * PROXY protocol, timeouts) so manifests, balancer objects and the server cannot disagree.
 * Pure: no I/O.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const quantity = /^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?$/;
/** A quantity, or empty for "not set". */
const optionalQuantity = /^([0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?)?$/;

const kubernetesName = z
  .string()
  .max(52)
  .regex(dnsLabel, 'must be a lowercase DNS label (letters, digits, inner hyphens)');

const serviceSchema = z
  .strictObject({
    type: z
      .enum(['ClusterIP', 'NodePort', 'LoadBalancer'])
      .default('ClusterIP')
      .describe('Type of the control Service (ports 21, implicit TLS and SFTP). ClusterIP when F5 (CIS) reaches pods directly; NodePort or LoadBalancer otherwise.'),
    loadBalancerIP: z
      .string()
      .refine((value) => value === '' || isIP(value) !== 0, 'must be an IP address')
      .default('')
      .describe('Fixed external address for type LoadBalancer (set as spec.loadBalancerIP and the MetalLB/CIS annotations). Empty: the provider chooses.'),
    externalTrafficPolicy: z
      .enum(['Cluster', 'Local'])
      .default('Local')
      .describe('For NodePort and LoadBalancer: Local keeps the client address (no masquerade) and sends traffic only to pods on the receiving node. NodePort data Services need Cluster (render refuses Local: only the replica\'s own node would answer its passive ports) and then passive.requireSameAddress false.'),
    controlNodePort: port.default(0).describe('nodePort for the control port with type NodePort (0: Kubernetes chooses).'),
    implicitNodePort: port.default(0).describe('nodePort for the implicit TLS port with type NodePort (0: Kubernetes chooses).'),
    sftpNodePort: port.default(0).describe('nodePort for the SFTP port (22 on the Service) with type NodePort and sftp.enabled (0: Kubernetes chooses).'),
    annotations: z
      .array(z.string())
      .default([])
      .describe('Extra annotations on the control Service and the per-replica data Services, "key=value".'),
  })
  .describe('How clients (or the balancer) reach the pods.');

const storageSchema = z
  .strictObject({
    existingClaim: z.string().default('').describe('Use this PersistentVolumeClaim for storage.root instead of creating one.'),
    size: z.string().regex(quantity, 'must be a Kubernetes quantity, e.g. 100Gi').default('10Gi').describe('Size of the created PersistentVolumeClaim.'),
    storageClassName: z.string().default('').describe('StorageClass of the created claim (empty: the cluster default). Several replicas need a ReadWriteMany class (NFS, CephFS, EFS, Azure Files, Filestore).'),
    accessMode: z
      .enum(['auto', 'ReadWriteMany', 'ReadWriteOnce'])
      .default('auto')
      .describe('auto: ReadWriteMany when passive.replicas > 1 (every replica serves the same files), ReadWriteOnce for one replica.'),
  })
  .describe('The volume mounted at the served directory.');

const resourcesSchema = z
  .strictObject({
    cpuRequest: z.string().regex(quantity).default('250m').describe('CPU request per pod.'),
    memoryRequest: z.string().regex(quantity).default('256Mi').describe('Memory request per pod.'),
    cpuLimit: z.string().regex(optionalQuantity, 'must be a Kubernetes quantity or empty').default('').describe('CPU limit per pod (empty: none; CPU limits throttle transfers).'),
    memoryLimit: z.string().regex(optionalQuantity, 'must be a Kubernetes quantity or empty').default('1Gi').describe('Memory limit per pod (empty: none).'),
  })
  .describe('Container resources.');

const kubernetesSchema = z
  .strictObject({
    namespace: kubernetesName.default('kftpd').describe('Namespace of every rendered object.'),
    image: z.string().min(1).default('ghcr.io/kftpd/kftpd:latest').describe('Container image (build it from the Dockerfile; pin a digest in production).'),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent').describe('Image pull policy.'),
    service: serviceSchema.prefault({}),
    dataServiceType: z
      .enum(['ClusterIP', 'NodePort'])
      .default('ClusterIP')
      .describe('Type of the per-replica data Services. NodePort (no BIG-IP in front: render refuses node ports behind deploy.f5) needs the passive range inside the node-port range (30000-32767): each nodePort equals its passive port so the advertised port is the one the balancer forwards.'),
    storage: storageSchema.prefault({}),
    resources: resourcesSchema.prefault({}),
    usersSecretName: kubernetesName.default('kftpd-users').describe('Secret holding the users file under the key users.yaml (create it with kftpd user add, then kubectl create secret generic).'),
    tlsSecretName: kubernetesName.default('kftpd-tls').describe('kubernetes.io/tls Secret with the server certificate (tls.crt, tls.key).'),
    certManager: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Also render a cert-manager Certificate that fills tlsSecretName.'),
        issuerName: z.string().default('').describe('Issuer or ClusterIssuer name (needed when enabled).'),
        issuerKind: z.enum(['Issuer', 'ClusterIssuer']).default('ClusterIssuer').describe('Kind of the issuer.'),
        dnsNames: z.array(z.string()).default([]).describe('Names on the certificate (the name clients use for the VIP).'),
      })
      .prefault({})
      .describe('cert-manager Certificate.'),
    serviceMonitor: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Render a Prometheus Operator ServiceMonitor for /metrics.'),
        interval: z.string().default('30s').describe('Scrape interval.'),
      })
      .prefault({})
      .describe('Prometheus scraping (needs admin metrics, which render always enables in the pod).'),
    networkPolicy: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Render a NetworkPolicy admitting only the FTP ports, the passive slice and the admin port.'),
        allowFrom: z
          .array(z.string())
          .default([])
          .describe('CIDRs allowed to reach the FTP ports (the balancer\'s self/SNAT addresses, or client networks). Empty: anywhere.'),
        metricsFrom: z
          .array(z.string())
          .default([])
          .describe('Namespaces (names) allowed to reach the admin port besides the kubelet. Empty: any namespace.'),
      })
      .prefault({})
      .describe('NetworkPolicy.'),
    maxUnavailable: z.number().int().min(0).default(1).describe('PodDisruptionBudget maxUnavailable.'),
    runAsUser: z.number().int().min(1).default(10001).describe('Non-root user id the container runs as (also fsGroup).'),
  })
  .describe('`kftpd render kubernetes`: StatefulSet, Services, PodDisruptionBudget, NetworkPolicy, ConfigMap, storage.');

const f5Schema = z
  .strictObject({
    virtualAddress: z
      .string()
      .refine((value) => value === '' || isIP(value) !== 0, 'must be an IP address')
      .default('')
      .describe('The BIG-IP virtual address (VIP) clients connect to. Needed by the f5 renderers; also what passive.address should advertise.'),
    tenant: z
      .string()
      .regex(/^([A-Za-z][0-9A-Za-z_.-]{0,63})?$/, 'must start with a letter (letters, digits, _ . -), at most 64 characters')
      .default('')
      .describe('AS3 tenant (BIG-IP partition). Empty: the release name (deploy.name). AS3 replaces a tenant as a whole, so each release needs its own: a tenant that does not contain the release name is refused.'),
    application: z.string().regex(/^[A-Za-z][0-9A-Za-z_.-]{0,63}$/).default('ftp').describe('AS3 application name.'),
    mode: z
      .enum(['passthrough', 'ftp-profile'])
      .default('passthrough')
      .describe('passthrough: L4 virtuals, TLS end to end, one data virtual per replica slice. ftp-profile: cleartext FTP through BIG-IP\'s FTP profile (the ALG rewrites PASV and pins data connections); no FTPS.'),
    poolMembers: z
      .enum(['cis', 'static'])
      .default('cis')
      .describe('cis: pools left empty for F5 Container Ingress Services to fill from the Service labels (AS3 ConfigMap mode, --pool-member-type=cluster; render f5-cis). static: memberAddresses, one pod address per replica in ordinal order (render f5-as3).'),
    memberAddresses: z
      .array(z.string())
      .default([])
      .describe('Pod addresses of replicas 0..N-1 for poolMembers static (never node addresses: a node does not own a replica\'s passive slice).'),
    allowFrom: z
      .array(z.string())
      .default([])
      .describe('Client CIDRs allowed by the virtuals (AS3 virtualAddresses accept-from pairs). Empty: any source.'),
    snat: z
      .string()
      .refine((value) => value === 'auto' || value === 'none' || value === 'self' || /^\/[A-Za-z0-9_.-]+\/.+/.test(value), 'auto, none, self or a SNAT pool path such as /Common/snat-ftp')
      .default('auto')
      .describe('Source address translation: auto (self IPs), none, self, or an existing SNAT pool path.'),
    monitor: z.enum(['tcp', 'tcp-half-open', 'http-readyz']).default('http-readyz').describe('Pool health monitor. http-readyz probes the admin /readyz (a draining replica leaves the pool before it stops accepting).'),
    idleTimeoutSeconds: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('TCP idle timeout on the virtuals. 0: derived from limits.idleTimeoutMs plus a margin, so the balancer never cuts a session the server still keeps.'),
    as3Version: z
      .string()
      .regex(/^3\.[0-9]{1,3}(\.[0-9]{1,3})?$/, 'an AS3 version such as 3.52 or 3.56.0')
      .default('3.52')
      .describe('The AS3 version that receives the declaration: the BIG-IP\'s AS3 package for f5-as3; for f5-cis the AS3 schema CIS validates ConfigMaps against (CIS 2.18-2.20.3: 3.52, CIS 2.20.4: 3.56). The declaration carries the lowest schemaVersion its features need; render refuses one that needs more than this.'),
    tmosVersion: z
      .string()
      .regex(/^[0-9]{2}\.[0-9]{1,2}(\.[0-9]{1,2})*$/, 'a BIG-IP TMOS version such as 15.1 or 17.1.1')
      .default('15.1')
      .describe('The BIG-IP (TMOS) version. Port-list virtuals (passthrough) need 14.1, the FTP profile fields of ftp-profile mode 14.0, and AS3 3.50 or later 15.1: render refuses what the version cannot run.'),
    cisNamespace: z
      .string()
      .max(52)
      .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/, 'must be a lowercase DNS label or empty')
      .default('')
      .describe('Namespace of the CIS AS3 ConfigMap. Empty: deploy.kubernetes.namespace, where CIS finds the labelled Services (another namespace needs CIS in hub mode).'),
  })
  .describe('`kftpd render f5-as3` and `f5-cis`: BIG-IP virtual servers, pools, port lists and the PROXY iRule.');

export const deploySchema = z
  .strictObject({
    name: kubernetesName.default('kftpd').describe('Base name of rendered objects; pods are <name>-0, <name>-1, ... (the replica index comes from it).'),
    kubernetes: kubernetesSchema.prefault({}),
    f5: f5Schema.prefault({}),
  })
  .describe('Deployment artefacts (`kftpd render`); the server ignores this section.');

export type DeployConfig = z.output<typeof deploySchema>;
