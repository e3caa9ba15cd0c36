/**
 * @module core/dns-name
 * The syntax of a DNS host name, for config validation and the passive address resolver.
 * Pure: looks nothing up.
 */

/**
 * RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, at most 63
 * characters each and 253 in all, an optional trailing dot. A last label of digits only is
 * refused, so a mistyped IPv4 literal ("10.0.0.300") is reported instead of being looked up.
 */
export function isDnsName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
  if (!labels.every((part) => label.test(part))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1] ?? '');
}
