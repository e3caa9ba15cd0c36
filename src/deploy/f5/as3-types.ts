/**
 * @module deploy/f5/as3-types
 * The subset of AS3 3.56 classes kftpd renders, as TypeScript types: the request envelope, the
 * ADC declaration, and the objects of one Application (virtuals, pools, port lists, profiles,
 * monitor, iRule). Property names and value ranges follow the published AS3 schema
 * (vendor/f5/as3-schema-3.56.0.json), which the tests validate every rendered declaration
 * against; these types only keep the builders honest at compile time. Pure: types only.
 */

/** An AS3 pointer: `use` names an object of the same declaration, `bigip` an existing BIG-IP path. */
export type As3Pointer = { readonly use: string } | { readonly bigip: string };

/** AS3 `snat`: a keyword, or an existing SNAT pool by BIG-IP path. */
export type As3Snat = 'auto' | 'none' | 'self' | { readonly bigip: string };

/** AS3 `virtualAddresses`: plain VIPs, or [VIP, accept-from CIDR] pairs (BIG-IP's source filter). */
export type As3VirtualAddresses = readonly string[] | readonly (readonly [string, string])[];

export interface As3PoolMember {
  readonly servicePort: number;
  /** Empty: CIS fills it by service discovery (AS3 ConfigMap mode). */
  readonly serverAddresses: readonly string[];
  readonly shareNodes?: boolean;
  readonly remark?: string;
}

export interface As3Pool {
  readonly class: 'Pool';
  readonly remark?: string;
  readonly loadBalancingMode: 'least-connections-member' | 'round-robin';
  readonly monitors: readonly As3Pointer[];
  readonly members: readonly As3PoolMember[];
}

export interface As3NetPortList {
  readonly class: 'Net_Port_List';
  readonly remark?: string;
  readonly ports: readonly (number | string)[];
}

export interface As3TcpProfile {
  readonly class: 'TCP_Profile';
  readonly remark?: string;
  /** Seconds, 1..86400. */
  readonly idleTimeout: number;
}

export interface As3FtpProfile {
  readonly class: 'FTP_Profile';
  readonly remark?: string;
  readonly port: number;
  readonly ftpsMode: 'disallow' | 'allow' | 'require';
  readonly translateExtendedEnabled: boolean;
  readonly activeModeEnabled: boolean;
  readonly inheritParentProfileEnabled: boolean;
}

export interface As3Monitor {
  readonly class: 'Monitor';
  readonly remark?: string;
  readonly monitorType: 'http' | 'tcp' | 'tcp-half-open';
  /** BIG-IP's alias port: probe this port on the member's address instead of the member's port. */
  readonly targetPort: number;
  readonly interval: number;
  readonly timeout: number;
  /** http only; BIG-IP reads the \r\n escapes itself, so they stay backslash sequences. */
  readonly send?: string;
  readonly receive?: string;
}

export interface As3IRule {
  readonly class: 'iRule';
  readonly remark?: string;
  /** No AS3 backquote expansion: the Tcl text is sent as written. */
  readonly expand: false;
  readonly iRule: string;
}

export interface As3ServiceTcp {
  readonly class: 'Service_TCP';
  readonly remark?: string;
  readonly virtualAddresses: As3VirtualAddresses;
  readonly virtualPort: number | As3Pointer;
  readonly pool: As3Pointer;
  readonly snat: As3Snat;
  readonly profileTCP: As3Pointer;
  readonly profileFTP?: As3Pointer;
  readonly iRules?: readonly As3Pointer[];
  readonly persistenceMethods: readonly string[];
  readonly translateServerPort: boolean;
}

export type As3ApplicationObject = As3ServiceTcp | As3Pool | As3NetPortList | As3TcpProfile | As3FtpProfile | As3Monitor | As3IRule;

export interface As3Application {
  readonly class: 'Application';
  readonly template: 'generic';
  readonly [name: string]: As3ApplicationObject | string;
}

export interface As3Tenant {
  readonly class: 'Tenant';
  readonly [application: string]: As3Application | string;
}

export interface As3Adc {
  readonly class: 'ADC';
  readonly schemaVersion: string;
  readonly id: string;
  readonly label: string;
  readonly remark: string;
  readonly [tenant: string]: As3Tenant | string;
}

/** The body POSTed to /mgmt/shared/appsvcs/declare (and what CIS expects in data.template). */
export interface As3Request {
  readonly class: 'AS3';
  readonly action: 'deploy';
  readonly persist: true;
  readonly declaration: As3Adc;
}
