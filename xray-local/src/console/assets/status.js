// Status: what xray-local holds against its caps, what it evicted, the problems it found,
// and the sampling rules it hands to SDKs.

import * as api from './api.js';
import { bytes, h, pct, replace } from './dom.js';

function card(key, value, note) {
  return h('div', { class: 'card', dataset: { figure: key } },
    h('div', { class: 'value' }, value), h('div', { class: 'key' }, key), note ? h('div', { class: 'note' }, note) : null);
}

function gauge(label, used, max, format) {
  const share = max > 0 ? Math.min(1, used / max) : 0;
  return h('div', { class: 'gauge' },
    h('div', { class: 'gauge-label' }, `${label}: ${format(used)} of ${format(max)} (${pct(share)})`),
    h('div', { class: 'gauge-track' }, h('div', { class: `gauge-fill ${share > 0.9 ? 'high' : ''}`, style: { width: `${share * 100}%` } })));
}

function rules(records) {
  if (!records.length) return h('p', { class: 'empty' }, 'No sampling rules.');
  const cols = ['RuleName', 'Priority', 'FixedRate', 'ReservoirSize', 'ServiceName', 'ServiceType', 'Host', 'HTTPMethod', 'URLPath'];
  return h('table', { class: 'rules', id: 'sampling-rules' },
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, c)))),
    h('tbody', {}, records.map((r) => h('tr', {}, cols.map((c) => h('td', {}, String(r.SamplingRule?.[c] ?? '')))))));
}

export function statusView(root) {
  const cards = h('div', { class: 'cards', id: 'status-cards' });
  const gauges = h('div', {});
  const sampling = h('div', {});
  replace(root, h('h2', {}, 'Status'), cards, gauges, h('h3', {}, 'Sampling rules served to SDKs'), sampling);
  let last = '';
  return {
    async refresh() {
      const [st, records] = await Promise.all([api.status(), api.samplingRules().catch((err) => err)]);
      const text = JSON.stringify([st, records instanceof Error ? records.message : records]);
      if (text === last) return;
      last = text;
      const n = (v) => (Number.isFinite(v) ? v.toLocaleString() : '-');
      replace(cards,
        card('traces', n(st.traces), 'held now'),
        st.pending_traces !== undefined ? card('pending traces', n(st.pending_traces), 'still arriving') : null,
        st.datagrams !== undefined ? card('datagrams', n(st.datagrams), 'received') : null,
        card('documents', n(st.documents), 'received'),
        card('evicted traces', n(st.evicted_traces), 'oldest first, over a cap'),
        card('bytes', bytes(st.bytes), 'held now'),
        card('errors', n(st.errors), 'problems of severity error (see each trace)'));
      replace(gauges,
        gauge('traces', st.traces, st.max_traces, n),
        gauge('memory', st.bytes, st.max_bytes, bytes));
      replace(sampling, records instanceof Error
        ? h('p', { class: 'empty' }, `The sampling rules could not be read: ${records.message}`)
        : rules(records));
    },
  };
}
