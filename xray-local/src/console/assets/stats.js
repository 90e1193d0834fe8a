// Numbers for the map and the analytics: rates from X-Ray's summary statistics, percentiles
// from response-time histograms and from plain lists, and histogram bins.

import { s } from './dom.js';

/** ok / error (4xx, not throttled) / throttle (429) / fault (5xx) counts of a SummaryStatistics. */
export function outcome(stats) {
  const st = stats || {};
  const throttle = st.ErrorStatistics?.ThrottleCount || 0;
  const error = (st.ErrorStatistics?.TotalCount || 0) - throttle;
  const fault = st.FaultStatistics?.TotalCount || 0;
  const total = st.TotalCount || 0;
  const ok = st.OkCount ?? Math.max(0, total - error - throttle - fault);
  return { ok, error: Math.max(0, error), throttle, fault, total, avg: total ? (st.TotalResponseTime || 0) / total : null };
}

/** The p-th percentile (0..1) of a histogram [{Value, Count}], by nearest rank. */
export function histogramPercentile(histogram, p) {
  const entries = [...(histogram || [])].filter((e) => e.Count > 0).sort((a, b) => a.Value - b.Value);
  const total = entries.reduce((n, e) => n + e.Count, 0);
  if (!total) return null;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const e of entries) {
    seen += e.Count;
    if (seen >= rank) return e.Value;
  }
  return entries[entries.length - 1].Value;
}

/** The p-th percentile (0..1) of a list of numbers, by nearest rank. */
export function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export const PERCENTILES = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p95', 0.95],
  ['p99', 0.99],
];

/** Values with counts ([{Value, Count}]) into `n` equal bins from 0 to the largest value. */
export function bins(entries, n) {
  const max = entries.reduce((m, e) => Math.max(m, e.Value), 0);
  const width = max > 0 ? max / n : 1;
  const counts = new Array(n).fill(0);
  for (const e of entries) counts[Math.min(n - 1, Math.floor(e.Value / width))] += e.Count;
  return { counts, width, max };
}

/** A small SVG bar chart of a histogram, with the axis in milliseconds. */
export function histogramChart(entries, { width = 360, height = 120, n = 24, label = 'response time' } = {}) {
  const { counts, width: binWidth, max } = bins(entries, n);
  const top = Math.max(1, ...counts);
  const chartH = height - 22;
  const barW = width / n;
  const svg = s('svg', { class: 'histogram', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' },
    s('title', {}, `${label} histogram`));
  counts.forEach((count, i) => {
    const bh = count ? Math.max(2, (count / top) * chartH) : 0;
    const lo = (i * binWidth * 1000).toFixed(1);
    const hi = ((i + 1) * binWidth * 1000).toFixed(1);
    svg.append(s('rect', { class: 'hbar', x: i * barW + 1, y: chartH - bh, width: Math.max(1, barW - 2), height: bh },
      s('title', {}, `${lo}-${hi} ms: ${count}`)));
  });
  svg.append(s('line', { class: 'axis', x1: 0, y1: chartH, x2: width, y2: chartH }));
  svg.append(s('text', { class: 'tick', x: 0, y: height - 6 }, '0'));
  svg.append(s('text', { class: 'tick end', x: width, y: height - 6 }, `${(max * 1000).toFixed(1)} ms`));
  return svg;
}
