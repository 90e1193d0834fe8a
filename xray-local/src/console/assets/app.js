// The console's shell: the header, the views behind #/map, #/traces, #/trace/ID, #/analytics
// and #/status, and the polling that keeps the current view live.

import { WINDOWS } from './api.js';
import { h, replace } from './dom.js';
import { mapView } from './map.js';
import { tracesView } from './traces.js';
import { detailView } from './detail.js';
import { analyticsView } from './analytics.js';
import { statusView } from './status.js';

const POLL_MS = 2000;

const VIEWS = [
  ['map', 'Service map', mapView],
  ['traces', 'Traces', tracesView],
  ['analytics', 'Analytics', analyticsView],
  ['status', 'Status', statusView],
];

/** Shared between views: the time window, and helpers to move between views. */
const ctx = {
  window: Number(localStorage.getItem('xray-local.window') ?? 0),
  /** Opens the trace list with a filter expression. */
  showTraces(filter) {
    location.hash = `#/traces?filter=${encodeURIComponent(filter || '')}`;
  },
  /** Opens one trace. */
  showTrace(id) {
    location.hash = `#/trace/${encodeURIComponent(id)}`;
  },
  /** Fetches the current view's data again now. */
  refreshNow() {
    refresh(true);
  },
  /** Marks the data as fresh (or not) in the header. */
  live(error) {
    const el = document.getElementById('live');
    if (!el) return;
    el.className = error ? 'live down' : 'live up';
    el.textContent = error ? `not updating: ${error.message}` : `live \u00b7 ${new Date().toLocaleTimeString()}`;
  },
};

let current = null;
let busy = false;

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  const params = new URLSearchParams(query);
  const [name, ...rest] = path.split('/');
  return { name: name || 'map', arg: rest.length ? decodeURIComponent(rest.join('/')) : null, params };
}

function header(active) {
  const select = h('select', {
    id: 'window',
    'aria-label': 'time window',
    onchange: (e) => {
      ctx.window = Number(e.target.value);
      localStorage.setItem('xray-local.window', String(ctx.window));
      refresh(true);
    },
  }, WINDOWS.map(([secs, label]) => h('option', { value: secs, selected: secs === ctx.window }, label)));
  return h('header', {},
    h('a', { class: 'brand', href: '#/map' }, 'xray-local'),
    h('nav', {}, VIEWS.map(([name, label]) =>
      h('a', { href: `#/${name}`, class: name === active ? 'active' : null, id: `nav-${name}` }, label))),
    select,
    h('span', { id: 'live', class: 'live' }, 'connecting\u2026'));
}

function route() {
  const { name, arg, params } = parseHash();
  if (current?.unmount) current.unmount();
  const main = h('main', { id: 'view', dataset: { view: name } });
  const active = name === 'trace' ? 'traces' : name;
  replace(document.body, header(active), main);
  const make = name === 'trace' ? detailView : (VIEWS.find(([n]) => n === name) || VIEWS[0])[2];
  current = make(main, ctx, { arg, params });
  refresh(true);
}

async function refresh(force) {
  if (!current || (busy && !force) || (document.hidden && !force)) return;
  busy = true;
  const view = current;
  try {
    await view.refresh();
    if (view === current) ctx.live(null);
  } catch (err) {
    if (view === current) ctx.live(err);
  } finally {
    busy = false;
  }
}

window.addEventListener('hashchange', route);
setInterval(() => refresh(false), POLL_MS);
route();
