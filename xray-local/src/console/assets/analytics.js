// Analytics: per service, the response-time histogram and percentiles of GetServiceGraph with
// the ok / error / throttle / fault rates; for the traces matching a filter expression, the same
// figures computed from their summaries. Both update as traces arrive.

import * as api from './api.js';
import { h, ms, pct, replace } from './dom.js';
import { outcome, histogramChart, histogramPercentile, percentile, PERCENTILES } from './stats.js';
import { FETCH_LIMIT, filterBox } from './traces.js';

function rates(o) {
  return [o.ok, o.error, o.throttle, o.fault].map((n) => h('td', { class: 'num' }, o.total ? pct(n / o.total) : '-'));
}

function serviceTable(services) {
  const rows = services.map((svc) => {
    const o = outcome(svc.SummaryStatistics);
    const hist = svc.ResponseTimeHistogram || [];
    return h('tr', { class: 'service', dataset: { name: svc.Name ?? '' } },
      h('td', {}, String(svc.Name ?? '(unnamed)')),
      h('td', {}, String(svc.Type ?? '')),
      h('td', { class: 'num' }, String(o.total)),
      ...rates(o),
      h('td', { class: 'num' }, ms(o.avg)),
      ...PERCENTILES.map(([, p]) => h('td', { class: 'num' }, ms(histogramPercentile(hist, p)))),
      h('td', {}, hist.length ? histogramChart(hist, { width: 200, height: 56, n: 16, label: `${svc.Name} response time` }) : ''));
  });
  return h('table', { class: 'analytics', id: 'service-stats' },
    h('thead', {}, h('tr', {}, ['Service', 'Type', 'Requests', 'ok', 'error', 'throttle', 'fault', 'average',
      ...PERCENTILES.map(([n]) => n), 'response time'].map((c) => h('th', {}, c)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 13, class: 'empty' }, 'No services yet.'))));
}

function filteredSet(result, filter) {
  const list = result.list;
  const times = list.map((t) => t.ResponseTime).filter(Number.isFinite).sort((a, b) => a - b);
  const n = list.length;
  const count = (f) => list.filter(f).length;
  const faults = count((t) => t.HasFault);
  const throttles = count((t) => t.HasThrottle);
  const errors = count((t) => t.HasError && !t.HasThrottle);
  const figures = [
    ['traces', `${n}${result.truncated ? '+' : ''}`],
    ['ok', n ? pct((n - count((t) => t.HasFault || t.HasError || t.HasThrottle)) / n) : '-'],
    ['error rate', n ? pct(errors / n) : '-'],
    ['throttle rate', n ? pct(throttles / n) : '-'],
    ['fault rate', n ? pct(faults / n) : '-'],
    ...PERCENTILES.map(([name, p]) => [name, ms(percentile(times, p))]),
  ];
  return h('div', { id: 'filtered-stats' },
    h('p', { class: 'summary' }, filter ? ['Traces matching ', h('code', {}, filter)] : 'All traces in the window',
      result.truncated ? ` (the newest ${FETCH_LIMIT})` : ''),
    h('div', { class: 'cards' }, figures.map(([k, v]) => h('div', { class: 'card', dataset: { figure: k } },
      h('div', { class: 'value' }, v), h('div', { class: 'key' }, k)))),
    times.length ? histogramChart(times.map((v) => ({ Value: v, Count: 1 })), { width: 640, height: 160, n: 32, label: 'response time of the filtered traces' })
      : h('p', { class: 'empty' }, 'No trace to chart.'));
}

export function analyticsView(root, ctx, { params }) {
  const filter = params.get('filter') || '';
  const box = filterBox(filter, (expr) => {
    if (expr === filter) ctx.refreshNow();
    location.hash = `#/analytics?filter=${encodeURIComponent(expr)}`;
  });
  const filtered = h('div', {});
  const perService = h('div', {});
  replace(root, h('h2', {}, 'Analytics'),
    h('h3', {}, 'Filtered traces'), ...box.nodes, filtered,
    h('h3', {}, 'Per service (GetServiceGraph)'), perService);
  let last = '';
  return {
    async refresh() {
      const [services, result] = await Promise.all([
        api.serviceGraph(ctx.window),
        api.summaries(filter, ctx.window, FETCH_LIMIT).catch((err) => err),
      ]);
      const text = JSON.stringify([services, result instanceof Error ? result.message : result.list]);
      if (text === last) return;
      last = text;
      replace(perService, serviceTable(services));
      if (result instanceof api.ApiError && result.status === 400) {
        box.showError(filter, result);
        replace(filtered, h('p', { class: 'empty' }, 'Fix the filter expression to see its figures.'));
      } else if (result instanceof Error) {
        throw result;
      } else {
        box.showError(filter, null);
        replace(filtered, filteredSet(result, filter));
      }
    },
  };
}
