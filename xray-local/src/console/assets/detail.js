// One trace: a waterfall of every segment and subsegment to scale, each row expandable to its
// annotations, metadata, http / sql / aws blocks, exceptions and raw JSON; the problems
// xray-local found in the trace; and every document as it arrived.

import * as api from './api.js';
import { h, ms, replace, show, when } from './dom.js';

/** Every entity of a trace's documents, once each, in tree order with its depth.
 * A document sent again (in progress, then finished) counts once: the finished one wins,
 * else the one received last. Linear in the number of entities. */
export function entities(documents) {
  const byId = new Map();
  const order = [];
  const visit = (doc, parentId, topLevel) => {
    if (!doc || typeof doc !== 'object') return;
    const id = typeof doc.id === 'string' ? doc.id : `#${order.length}`;
    const entry = {
      id, doc, parentId: topLevel ? (typeof doc.parent_id === 'string' ? doc.parent_id : null) : parentId,
      kind: topLevel && doc.type !== 'subsegment' ? 'segment' : 'subsegment',
    };
    const seen = byId.get(id);
    if (!seen) {
      byId.set(id, entry);
      order.push(id);
    } else if (!(seen.doc.in_progress !== true && doc.in_progress === true)) {
      // Keep where it was first seen in the order, take the newer content.
      byId.set(id, entry);
    }
    for (const sub of Array.isArray(doc.subsegments) ? doc.subsegments : []) visit(sub, id, false);
  };
  for (const doc of documents) visit(doc, null, true);
  const children = new Map();
  const roots = [];
  for (const id of order) {
    const e = byId.get(id);
    if (e.parentId && byId.has(e.parentId) && e.parentId !== id) {
      if (!children.has(e.parentId)) children.set(e.parentId, []);
      children.get(e.parentId).push(e);
    } else {
      e.orphan = !!e.parentId;
      roots.push(e);
    }
  }
  const start = (e) => (Number.isFinite(e.doc.start_time) ? e.doc.start_time : Infinity);
  const out = [];
  const placed = new Set();
  const walk = (list, depth) => {
    list.sort((a, b) => start(a) - start(b));
    for (const e of list) {
      if (placed.has(e.id)) continue;
      placed.add(e.id);
      e.depth = depth;
      out.push(e);
      walk(children.get(e.id) || [], depth + 1);
    }
  };
  walk(roots, 0);
  // Entities only reachable through a cycle of parent ids: shown at the top level.
  for (const id of order) if (!placed.has(id)) walk([byId.get(id)], 0);
  return out;
}

function outcome(doc) {
  if (doc.in_progress === true) return 'progress';
  if (doc.fault === true) return 'fault';
  if (doc.throttle === true) return 'throttle';
  if (doc.error === true) return 'error';
  return 'ok';
}

function kv(rows) {
  return h('table', { class: 'kv' }, rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))));
}

function json(value) {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

function section(title, ...content) {
  return h('section', { class: 'block' }, h('h4', {}, title), ...content);
}

function exceptions(cause) {
  if (!cause || typeof cause !== 'object') return typeof cause === 'string' ? [h('p', {}, `cause: exception ${cause}`)] : [];
  const list = Array.isArray(cause.exceptions) ? cause.exceptions : [];
  return [
    cause.working_directory ? h('p', {}, `working directory: ${cause.working_directory}`) : null,
    ...list.map((ex) => h('div', { class: 'exception' },
      h('strong', {}, `${ex.type || 'exception'}${ex.remote ? ' (remote)' : ''}: `), String(ex.message ?? ''),
      Array.isArray(ex.stack) && ex.stack.length
        ? h('pre', { class: 'stack' }, ex.stack.map((f) => `  at ${f.label ?? '?'} (${f.path ?? '?'}:${f.line ?? '?'})`).join('\n'))
        : null)),
  ];
}

/** The expandable part of a row. */
function details(e) {
  const d = e.doc;
  const parts = [];
  const facts = [
    ['id', d.id], ['kind', `${e.kind}${d.namespace ? ` (${d.namespace})` : ''}`],
    ['start', when(d.start_time)], ['end', d.in_progress ? 'in progress' : when(d.end_time)],
    ['duration', d.in_progress ? '-' : ms(d.end_time - d.start_time)],
  ];
  if (d.origin) facts.push(['origin', d.origin]);
  if (d.user) facts.push(['user', d.user]);
  if (d.traced) facts.push(['traced', 'yes: the callee records its own segment']);
  if (e.orphan) facts.push(['parent', `${e.parentId} (not received)`]);
  parts.push(kv(facts.map(([k, v]) => [k, show(v)])));
  if (d.annotations && typeof d.annotations === 'object' && Object.keys(d.annotations).length) {
    parts.push(section('Annotations', kv(Object.entries(d.annotations).map(([k, v]) => [k, show(v)]))));
  }
  if (d.metadata !== undefined) parts.push(section('Metadata', json(d.metadata)));
  if (d.http !== undefined) {
    const req = d.http.request || {};
    const res = d.http.response || {};
    parts.push(section('HTTP', kv([
      ['request', `${req.method ?? ''} ${req.url ?? ''}`.trim() || '-'],
      ['response', res.status !== undefined ? `${res.status}${res.content_length !== undefined ? `, ${res.content_length} bytes` : ''}` : '-'],
      ...(req.client_ip ? [['client ip', req.client_ip]] : []),
      ...(req.user_agent ? [['user agent', req.user_agent]] : []),
    ].map(([k, v]) => [k, show(v)])), json(d.http)));
  }
  if (d.sql !== undefined) parts.push(section('SQL', json(d.sql)));
  if (d.aws !== undefined) parts.push(section('AWS', json(d.aws)));
  if (d.service !== undefined) parts.push(section('Service', json(d.service)));
  if (d.cause !== undefined) parts.push(section('Exceptions', ...exceptions(d.cause)));
  parts.push(h('details', { class: 'raw' }, h('summary', {}, 'Raw JSON of this entity'), json(d)));
  return h('div', { class: 'entity-details' }, ...parts);
}

function waterfall(list, open) {
  const starts = list.map((e) => e.doc.start_time).filter(Number.isFinite);
  const ends = list.map((e) => (Number.isFinite(e.doc.end_time) ? e.doc.end_time : e.doc.start_time)).filter(Number.isFinite);
  const t0 = Math.min(...starts);
  const t1 = Math.max(t0, ...ends);
  const span = t1 - t0 || 0.001;
  const axis = h('div', { class: 'axis-row' }, h('div', { class: 'label' }, 'name'),
    h('div', { class: 'track ticks' }, [0, 0.25, 0.5, 0.75, 1].map((f) =>
      h('span', { class: 'tick', style: { left: `${f * 100}%` } }, ms(f * span)))));
  const rows = list.map((e) => {
    const d = e.doc;
    const start = Number.isFinite(d.start_time) ? d.start_time : t0;
    const end = Number.isFinite(d.end_time) ? d.end_time : t1;
    const cls = outcome(d);
    const more = h('div', { class: 'more', hidden: true });
    const left = ((start - t0) / span) * 100;
    const width = Math.max(0, ((end - start) / span) * 100);
    const duration = d.in_progress ? 'in progress' : ms(end - start);
    const row = h('div', {
      class: `row ${e.kind} ${cls}`, id: `entity-${e.id}`, dataset: { entityId: e.id }, tabindex: 0,
      onclick: () => toggle(), onkeydown: (ev) => { if (ev.key === 'Enter') toggle(); },
    },
    h('div', { class: 'label', style: { 'padding-left': `${0.4 + e.depth * 1.1}em` }, title: d.name ?? '' },
      h('span', { class: 'name' }, String(d.name ?? '(no name)')),
      d.namespace ? h('span', { class: `ns ${d.namespace}` }, d.namespace) : null,
      e.orphan ? h('span', { class: 'ns orphan' }, 'orphan') : null),
    h('div', { class: 'track' },
      h('div', { class: `bar ${cls}`, style: { left: `${left}%`, width: `${width}%` }, title: `${duration} at +${ms(start - t0)}` }),
      h('span', { class: 'dur', style: { left: `${left + width}%` } }, duration)));
    let built = false;
    function toggle() {
      if (!built) {
        more.append(details(e));
        built = true;
      }
      more.hidden = !more.hidden;
      row.classList.toggle('open', !more.hidden);
      if (more.hidden) open.delete(e.id);
      else open.add(e.id);
    }
    // Rows opened before the trace changed (more documents arrived) stay open.
    if (open.has(e.id)) {
      open.delete(e.id);
      toggle();
    }
    return [row, more];
  });
  return { node: h('div', { class: 'waterfall', id: 'waterfall' }, axis, ...rows), t0, span };
}

function problems(list) {
  if (!list.length) return h('p', { class: 'good', id: 'problems' }, 'xray-local found no problem in this trace.');
  return h('ul', { class: 'problems', id: 'problems' }, list.map((p) => h('li', { class: `problem ${p.severity || ''}` },
    h('span', { class: `sev ${p.severity || ''}` }, String(p.severity || 'problem')), ' ', String(p.message ?? ''),
    p.entity_id ? h('a', {
      href: '#', class: 'entity-link', onclick: (ev) => {
        ev.preventDefault();
        document.getElementById(`entity-${p.entity_id}`)?.scrollIntoView({ block: 'center' });
        document.getElementById(`entity-${p.entity_id}`)?.focus();
      },
    }, ` (${p.entity_id})`) : null)));
}

export function detailView(root, ctx, { arg }) {
  const id = arg || '';
  const head = h('div', { class: 'trace-head' });
  const body = h('div', {});
  replace(root, h('p', {}, h('a', { href: '#/traces' }, '\u2190 all traces')), h('h2', {}, 'Trace ', h('code', { id: 'trace-id' }, id)), head, body);
  let last = '';
  const open = new Set();
  return {
    async refresh() {
      let t;
      try {
        t = await api.trace(id);
      } catch (err) {
        if (err.status === 404) {
          replace(body, h('p', { class: 'empty' }, `xray-local holds no trace ${id}: it may not have arrived yet, or it was evicted.`));
          last = '';
          return;
        }
        throw err;
      }
      const text = JSON.stringify(t);
      if (text === last) return;
      last = text;
      const docs = Array.isArray(t.documents) ? t.documents : [];
      const list = entities(docs);
      const wf = waterfall(list, open);
      const rootDoc = list.find((e) => e.kind === 'segment')?.doc || {};
      const req = rootDoc.http?.request || {};
      const services = [...new Set(list.filter((e) => e.kind === 'segment').map((e) => String(e.doc.name)))];
      const faults = list.filter((e) => e.doc.fault === true).length;
      const errors = list.filter((e) => e.doc.error === true).length;
      replace(head, kv([
        ['started', when(wf.t0)], ['duration', ms(wf.span)],
        ['entities', `${list.length} (${services.length} segment${services.length === 1 ? '' : 's'}: ${services.join(', ')})`],
        ['request', `${req.method ?? ''} ${req.url ?? ''}`.trim() || '-'],
        ['outcome', faults ? `${faults} with a fault` : errors ? `${errors} with an error` : 'ok'],
      ]));
      replace(body,
        h('h3', {}, 'Timeline'), wf.node,
        h('h3', {}, `Problems (${(t.problems || []).length})`), problems(t.problems || []),
        h('h3', {}, `Documents as received (${docs.length})`),
        docs.map((d, i) => h('details', { class: 'raw doc' },
          h('summary', {}, `${i + 1}. ${d?.type === 'subsegment' ? 'subsegment' : 'segment'} ${String(d?.name ?? '')} (${String(d?.id ?? '')})`),
          json(d))));
    },
  };
}
