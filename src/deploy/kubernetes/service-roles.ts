/**
 * @module deploy/kubernetes/service-roles
 * A label telling the release's Services apart (they all carry the same release labels), so
 * a selector such as the ServiceMonitor's can pick exactly one kind. Pure.
 */
export const SERVICE_ROLE_LABEL = 'kftpd/service';

export type ServiceRole = 'headless' | 'control' | 'implicit' | 'sftp' | 'data';

export function serviceRoleLabel(role: ServiceRole): Record<string, string> {
  return { [SERVICE_ROLE_LABEL]: role };
}
