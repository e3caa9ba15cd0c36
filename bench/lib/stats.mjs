/**
 * Statistics and presentation: medians over rounds, percentiles, number formatting and the
 * Markdown table (rows = metrics, columns = servers, best in bold, ratios).
 */

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * v.length);
  return v[Math.min(v.length - 1, Math.max(0, rank - 1))];
}

/** A number with 3 significant digits (no exponent), or a dash. */
export function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (typeof x !== 'number') return String(x);
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1000) return Math.round(x).toLocaleString('en-US');
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return x.toFixed(digits);
}

function fmtRatio(r) {
  if (r === null || !Number.isFinite(r)) return '';
  return ` (${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×)`;
}

/**
 * One metric row as defined by the driver:
 *   { key, label, better: 'higher'|'lower'|null, base: 'ceiling'|'best-ref'|null, integer?: true,
 *     values: { server: number|string|null } }
 * Returns the cells, the best server and kftpd's ratio to the best reference.
 */
export function rowCells(row, servers, { subject = 'kftpd', ceiling = 'ceiling', references = [] } = {}) {
  const numeric = (s) => (typeof row.values[s] === 'number' && Number.isFinite(row.values[s]) ? row.values[s] : null);
  const contenders = servers.filter((s) => s !== ceiling && numeric(s) !== null);
  let best = null;
  if (row.better && contenders.length > 1) {
    const pick = row.better === 'higher' ? Math.max : Math.min;
    const bestValue = pick(...contenders.map(numeric));
    best = contenders.filter((s) => numeric(s) === bestValue);
  }
  const refs = references.filter((s) => numeric(s) !== null);
  let bestRef = null;
  if (row.better && refs.length > 0) {
    const pick = row.better === 'higher' ? Math.max : Math.min;
    bestRef = pick(...refs.map(numeric));
  }
  let baseValue = null;
  if (row.base === 'ceiling') baseValue = numeric(ceiling);
  else if (row.base === 'best-ref') baseValue = bestRef;
  const cells = servers.map((s) => {
    const v = row.values[s];
    if (v === undefined || v === null) return '—';
    let text = typeof v === 'number' ? (row.integer ? Math.round(v).toLocaleString('en-US') : fmt(v)) : String(v);
    const n = numeric(s);
    if (n !== null && baseValue && s !== ceiling) text += fmtRatio(n / baseValue);
    if (best && best.includes(s)) text = `**${text}**`;
    return text;
  });
  const subjectValue = numeric(subject);
  const vsBestRef = subjectValue !== null && bestRef ? subjectValue / bestRef : null;
  return { cells, best, vsBestRef };
}

/** The Markdown table: metric | servers... | kftpd ÷ best reference. */
export function markdownTable(rows, servers, options) {
  const header = ['metric', ...servers.map((s) => options.titles?.[s] ?? s), `${options.subject ?? 'kftpd'} ÷ best ref`];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const row of rows) {
    if (row.section) {
      lines.push(`| **${row.section}** |${' |'.repeat(header.length - 1)}`);
      continue;
    }
    const { cells, vsBestRef } = rowCells(row, servers, options);
    const arrow = row.better === 'higher' ? ' ↑' : row.better === 'lower' ? ' ↓' : '';
    const base = row.base === 'ceiling' ? ' [÷ceiling]' : row.base === 'best-ref' ? ' [÷best ref]' : '';
    const last = vsBestRef === null ? '—' : `${vsBestRef.toFixed(2)}×`;
    lines.push(`| ${row.label}${arrow}${base} | ${cells.join(' | ')} | ${last} |`);
  }
  return lines.join('\n');
}
