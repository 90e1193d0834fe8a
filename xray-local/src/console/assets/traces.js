// The trace list: GetTraceSummaries with the filter box's expression, newest first.

import * as api from './api.js';
import { clip, h, ms, replace, show, when } from './dom.js';

/** How many summaries are fetched, and how many rows are shown. */
export const FETCH_LIMIT = 1000;
const SHOW_LIMIT = 500;

const EXAMPLES = [
  'ok', 'fault', 'responsetime > 0.5', 'http.status = 404', 'http.url CONTAINS "users"',
  'annotation.userId = 1 AND ok', 'service("notification") { fault }', 'edge("user-management", "notification")',
];

/** The filter form shared by the trace list and the analytics: returns {form, error, value()}. */
export function filterBox(initial, onSubmit) {
  const input = h('input', {
    id: 'filter', type: 'text', value: initial, spellcheck: 'false', autocomplete: 'off',
    placeholder: 'filter expression, e.g. service("api") { fault } OR responsetime > 1', 'aria-label': 'filter expression',
  });
  const error = h('div', { id: 'filter-error', class: 'filter-error', role: 'alert', hidden: true });
  const form = h('form', {
    class: 'filter', onsubmit: (e) => {
      e.preventDefault();
      onSubmit(input.value.trim());
    },
  },
  input,
  h('button', { type: 'submit', id: 'filter-apply' }, 'Apply'),
  h('button', { type: 'button', onclick: () => { input.value = ''; onSubmit(''); } }, 'Clear'));
  const examples = h('p', { class: 'examples' }, 'Examples: ', EXAMPLES.map((ex) =>
    h('a', { href: '#', class: 'example', onclick: (e) => { e.preventDefault(); input.value = ex; onSubmit(ex); } }, ex)));
  return {
    nodes: [form, error, examples],
    /** Shows the server's message, and the expression with the position it names marked. */
    showError(expr, err) {
      if (!err) {
        error.hidden = true;
        error.replaceChildren();
        return;
      }
      error.hidden = false;
      const parts = [h('strong', {}, err.status === 400 ? 'The filter expression is not valid: ' : 'Error: '), err.message];
      const pos = err.position;
      if (pos !== null && expr) {
        const chars = [...expr];
        const at = Math.min(pos, chars.length);
        parts.push(h('pre', { class: 'expr' },
          chars.slice(0, at).join(''),
          h('mark', { class: 'at' }, at < chars.length ? chars[at] : ' '),
          chars.slice(at + 1).join(''),
          '\n', ' '.repeat(at), '^'));
      }
      replace(error, ...parts);
    },
  };
}

function status(summary) {
  const badges = [];
  const code = summary.Http?.HttpStatus;
  if (summary.HasFault) badges.push(h('span', { class: 'badge fault' }, 'fault'));
  if (summary.HasThrottle) badges.push(h('span', { class: 'badge throttle' }, 'throttle'));
  if (summary.HasError && !summary.HasThrottle) badges.push(h('span', { class: 'badge error' }, 'error'));
  if (!summary.HasFault && !summary.HasError && !summary.HasThrottle) badges.push(h('span', { class: 'badge ok' }, 'ok'));
  if (summary.IsPartial) badges.push(h('span', { class: 'badge partial' }, 'partial'));
  return [code ? h('span', { class: 'code' }, String(code)) : null, ...badges];
}

/** Annotations of a summary as "key=value" chips (each key once, values joined). */
function annotations(summary) {
  const chips = [];
  for (const [key, values] of Object.entries(summary.Annotations || {})) {
    const shown = (values || []).map((v) => {
      const a = v.AnnotationValue || {};
      return show(a.StringValue ?? a.NumberValue ?? a.BooleanValue);
    });
    const text = `${key}=${shown.join(', ')}`;
    chips.push(h('span', { class: 'chip', title: text }, clip(text, 40)));
  }
  return chips;
}

function row(summary, ctx) {
  const id = summary.Id;
  const http = summary.Http || {};
  const cls = summary.HasFault ? 'fault' : summary.HasError || summary.HasThrottle ? 'error' : 'ok';
  return h('tr', { class: `trace ${cls}`, dataset: { traceId: id } },
    h('td', { class: 'time' }, when(api.startOf(summary))),
    h('td', { class: 'id' }, h('a', { href: `#/trace/${encodeURIComponent(id)}` }, id)),
    h('td', { class: 'num' }, ms(summary.Duration)),
    h('td', { class: 'num' }, ms(summary.ResponseTime)),
    h('td', { class: 'status' }, status(summary)),
    h('td', {}, http.HttpMethod || ''),
    h('td', { class: 'url', title: http.HttpURL || '' }, clip(http.HttpURL || '', 60)),
    h('td', { class: 'annotations' }, annotations(summary)),
  );
}

export function tracesView(root, ctx, { params }) {
  let filter = params.get('filter') || '';
  const box = filterBox(filter, (expr) => {
    if (expr === filter) {
      ctx.refreshNow();
    }
    ctx.showTraces(expr);
  });
  const summary = h('p', { class: 'summary', id: 'trace-count' });
  const body = h('tbody', { id: 'trace-rows' });
  const table = h('table', { class: 'traces' },
    h('thead', {}, h('tr', {}, ['Time', 'Trace ID', 'Duration', 'Response', 'Status', 'Method', 'URL', 'Annotations']
      .map((c) => h('th', {}, c)))),
    body);
  replace(root, h('h2', {}, 'Traces'), ...box.nodes, summary, table);
  let last = null;
  return {
    async refresh() {
      let result;
      try {
        result = await api.summaries(filter, ctx.window, FETCH_LIMIT);
      } catch (err) {
        if (err.status === 400) {
          box.showError(filter, err);
          replace(summary, 'No traces listed: fix the filter expression.');
          body.replaceChildren();
          last = null;
          return;
        }
        throw err;
      }
      box.showError(filter, null);
      const text = JSON.stringify(result.list.slice(0, SHOW_LIMIT));
      if (text === last) return;
      last = text;
      const n = result.list.length;
      replace(summary,
        `${n}${result.truncated ? '+' : ''} trace${n === 1 ? '' : 's'}`,
        filter ? h('span', {}, ' matching ', h('code', {}, filter)) : '',
        n > SHOW_LIMIT ? `; the newest ${SHOW_LIMIT} are shown` : '');
      replace(body, result.list.slice(0, SHOW_LIMIT).map((sm) => row(sm, ctx)));
      if (!n) body.append(h('tr', {}, h('td', { colspan: 8, class: 'empty' }, filter ? 'No trace matches.' : 'No traces yet.')));
    },
  };
}
