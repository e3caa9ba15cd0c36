/**
 * @module deploy/f5/f5-versions
 * Which AS3 and BIG-IP (TMOS) versions a rendered declaration needs, from the features it
 * really uses, and the check against the versions the operator runs (deploy.f5.as3Version,
 * deploy.f5.tmosVersion). The declaration is stamped with the lowest schemaVersion that
 * carries all its features: AS3 refuses a schemaVersion newer than itself, and CIS 2.18 to
 * 2.20.3 validate every AS3 ConfigMap against the AS3 3.52 schema they bundle and skip one
 * that fails with a single log line, so a needlessly new stamp fails silently. Pure.
 *
 * Sources of the minimums (F5Networks/f5-appsvcs-extension @ b44d5a0):
 * - AS3 3.46.0, port lists as a virtual's port: docs/refguide/revision-history.rst, 3.46.0
 *   ("Added support for using address and port lists in a virtual service", issue 269);
 *   schema/3.45.0 still requires an integer virtualPort.
 * - AS3 3.20.0, an FTP profile referenced with `use`: revision history, 3.20.0.
 * - AS3 3.29.0, a tcp monitor without send/receive strings: schema/3.28.0 and older require
 *   `send` on every tcp monitor.
 * - AS3 3.17.0, everything else kftpd renders (Service_TCP with iRule pointers, pools, TCP
 *   profiles, http and tcp-half-open monitors, [VIP, CIDR] pairs): the oldest schema under
 *   schema/ that accepts those objects.
 * - TMOS 14.1 for a port-list virtual (AS3 creates a traffic-matching-criteria object:
 *   src/lib/properties.json, "ltm virtual" traffic-matching-criteria minVersion 14.1), TMOS
 *   14.0 for FTP_Profile.ftpsMode ("ltm profile ftp" ftps-mode minVersion 14.0).
 * - AS3 3.50.0 and later no longer run on BIG-IP 13.1 to 14.1.x (docs/userguide/prereqs.rst).
 */
import type { As3ApplicationObject } from './as3-types.js';

export interface F5Requirement {
  /** What needs it, for messages and docs. */
  readonly what: string;
  /** Lowest AS3 schemaVersion, "3.x.y". */
  readonly as3: string;
  /** Lowest TMOS, or null when any TMOS that runs that AS3 will do. */
  readonly tmos: string | null;
}

export const F5_REQUIREMENTS = Object.freeze({
  base: { what: 'virtuals, pools, TCP profiles, monitors and the PROXY iRule', as3: '3.17.0', tmos: null },
  ftpProfile: { what: 'the FTP profile of ftp-profile mode (declared and referenced with use, ftpsMode)', as3: '3.20.0', tmos: '14.0' },
  tcpMonitor: { what: 'a tcp monitor without send/receive strings (deploy.f5.monitor tcp)', as3: '3.29.0', tmos: null },
  portList: { what: 'data virtuals on a port list (passthrough mode: one per passive slice)', as3: '3.46.0', tmos: '14.1' },
} satisfies Record<string, F5Requirement>);

/** AS3 from this version on needs TMOS 15.1 or later. */
const AS3_DROPPED_OLD_TMOS = { as3: '3.50.0', tmos: '15.1' } as const;

/** Compares dotted versions numerically ("3.9" < "3.46.0"; missing parts count as 0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The features the objects of a declaration use, base first. */
export function requirementsOf(objects: Iterable<As3ApplicationObject>): F5Requirement[] {
  const found = new Set<F5Requirement>([F5_REQUIREMENTS.base]);
  for (const object of objects) {
    if (object.class === 'Service_TCP' && typeof object.virtualPort === 'object') found.add(F5_REQUIREMENTS.portList);
    if (object.class === 'FTP_Profile') found.add(F5_REQUIREMENTS.ftpProfile);
    if (object.class === 'Monitor' && object.monitorType === 'tcp' && object.send === undefined) found.add(F5_REQUIREMENTS.tcpMonitor);
  }
  return [...found];
}

function highest(values: readonly string[]): string {
  return values.reduce((max, value) => (compareVersions(value, max) > 0 ? value : max));
}

/** The schemaVersion to stamp: the highest AS3 minimum among the features used. */
export function schemaVersionFor(requirements: readonly F5Requirement[]): string {
  return highest(requirements.map((requirement) => requirement.as3));
}

/** The lowest TMOS the features need, or null. */
export function tmosVersionFor(requirements: readonly F5Requirement[]): string | null {
  const versions = requirements.map((requirement) => requirement.tmos).filter((tmos): tmos is string => tmos !== null);
  return versions.length === 0 ? null : highest(versions);
}

/**
 * Errors for a declaration whose features the operator's AS3 or TMOS cannot carry, and for an
 * AS3 that cannot run on the stated TMOS at all.
 */
export function versionErrors(requirements: readonly F5Requirement[], as3Version: string, tmosVersion: string): string[] {
  const errors: string[] = [];
  for (const requirement of requirements) {
    if (compareVersions(requirement.as3, as3Version) > 0) {
      errors.push(`${requirement.what} needs AS3 ${requirement.as3} or later, but deploy.f5.as3Version is ${as3Version}: upgrade AS3 (for CIS, a CIS release bundling a newer AS3 schema), or use another deploy.f5.mode / deploy.f5.monitor`);
    }
    if (requirement.tmos !== null && compareVersions(requirement.tmos, tmosVersion) > 0) {
      errors.push(`${requirement.what} needs BIG-IP ${requirement.tmos} or later, but deploy.f5.tmosVersion is ${tmosVersion}`);
    }
  }
  if (compareVersions(as3Version, AS3_DROPPED_OLD_TMOS.as3) >= 0 && compareVersions(tmosVersion, AS3_DROPPED_OLD_TMOS.tmos) < 0) {
    errors.push(`deploy.f5.as3Version ${as3Version} does not run on BIG-IP ${tmosVersion} (AS3 ${AS3_DROPPED_OLD_TMOS.as3} and later need ${AS3_DROPPED_OLD_TMOS.tmos}): use AS3 3.49 or earlier there, or upgrade BIG-IP`);
  }
  return errors;
}
