// The service map: GetServiceGraph's services as nodes, their edges as arrows, laid out in
// layers from left to right (callers left of what they call). Each node has a ring of its
// ok / error / throttle / fault shares, its average latency and request count; each edge its
// request count and average latency. Clicking a node lists its traces: service("name").

import * as api from './api.js';
import { clip, h, ms, replace, s } from './dom.js';
import { outcome } from './stats.js';

const COL = 230; // horizontal distance between layers
const ROW = 120; // vertical distance between nodes of a layer
const R = 30; // node radius
const PAD = 100; // room for a clipped name under the first and last columns
const MAX_ROWS = 10; // nodes in one column before a layer wraps
const SUB_COL = 170; // distance between the columns of a wrapped layer

/** Layers for a graph that may have cycles: depth-first from the sources, back edges ignored,
 * then the longest path to each node. Linear in nodes + edges. */
export function layout(nodes, edges) {
  const out = new Map(nodes.map((n) => [n.id, []]));
  const indeg = new Map(nodes.map((n) => [n.id, 0]));
  for (const e of edges) {
    if (!out.has(e.from) || !out.has(e.to) || e.from === e.to) continue;
    out.get(e.from).push(e.to);
    indeg.set(e.to, indeg.get(e.to) + 1);
  }
  // Topological order of the graph without its back edges (iterative DFS, post-order).
  const state = new Map();
  const order = [];
  const starts = [...nodes.filter((n) => indeg.get(n.id) === 0), ...nodes].map((n) => n.id);
  const forward = new Map(nodes.map((n) => [n.id, []]));
  for (const start of starts) {
    if (state.has(start)) continue;
    const stack = [[start, 0]];
    state.set(start, 'open');
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = out.get(top[0])[top[1]++];
      if (next === undefined) {
        state.set(top[0], 'done');
        order.push(top[0]);
        stack.pop();
      } else if (!state.has(next)) {
        forward.get(top[0]).push(next);
        state.set(next, 'open');
        stack.push([next, 0]);
      } else if (state.get(next) === 'done') {
        forward.get(top[0]).push(next);
      } // an open node: a back edge, left out of the layering
    }
  }
  order.reverse();
  const layer = new Map(nodes.map((n) => [n.id, 0]));
  for (const id of order) {
    for (const next of forward.get(id)) layer.set(next, Math.max(layer.get(next), layer.get(id) + 1));
  }
  // Within a layer: order by the mean position of the callers (two sweeps), names break ties.
  const layers = [];
  for (const n of nodes) (layers[layer.get(n.id)] ||= []).push(n.id);
  const pos = new Map();
  const name = new Map(nodes.map((n) => [n.id, n.name]));
  layers.forEach((ids) => ids.sort((a, b) => name.get(a).localeCompare(name.get(b))).forEach((id, i) => pos.set(id, i)));
  const callers = new Map(nodes.map((n) => [n.id, []]));
  for (const [from, tos] of forward) for (const to of tos) callers.get(to).push(from);
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const ids of layers.slice(1)) {
      const key = (id) => {
        const c = callers.get(id);
        return c.length ? c.reduce((sum, x) => sum + pos.get(x), 0) / c.length : pos.get(id);
      };
      ids.sort((a, b) => key(a) - key(b) || name.get(a).localeCompare(name.get(b))).forEach((id, i) => pos.set(id, i));
    }
  }
  // A layer taller than MAX_ROWS nodes (one service calling 40 hosts) wraps into several
  // columns, so 50 nodes still fit a screen or two.
  const rowsOf = (ids) => Math.ceil(ids.length / Math.ceil(ids.length / MAX_ROWS));
  const tallest = Math.max(1, ...layers.map(rowsOf));
  const xy = new Map();
  let x = PAD;
  layers.forEach((ids) => {
    const rows = rowsOf(ids);
    const cols = Math.ceil(ids.length / rows);
    ids.forEach((id, i) => {
      const col = Math.floor(i / rows);
      const inCol = col === cols - 1 ? ids.length - col * rows : rows;
      const offset = ((tallest - inCol) * ROW) / 2;
      xy.set(id, { x: x + col * SUB_COL, y: PAD + offset + (i % rows) * ROW });
    });
    x += (cols - 1) * SUB_COL + COL;
  });
  return { xy, width: x - COL + PAD, height: PAD * 2 + (tallest - 1) * ROW + 20 };
}

/** The nodes and edges of the map from GetServiceGraph's services. */
export function graph(services) {
  const nodes = services.map((svc) => ({
    id: svc.ReferenceId,
    name: svc.Name || (svc.Names || [])[0] || '(unnamed)',
    type: svc.Type || '',
    root: !!svc.Root,
    stats: outcome(svc.SummaryStatistics),
  }));
  const ids = new Set(nodes.map((n) => n.id));
  const edges = [];
  for (const svc of services) {
    for (const e of svc.Edges || []) {
      if (ids.has(e.ReferenceId)) edges.push({ from: svc.ReferenceId, to: e.ReferenceId, stats: outcome(e.SummaryStatistics) });
    }
  }
  return { nodes, edges };
}

const KINDS = ['ok', 'error', 'throttle', 'fault'];

function ring(stats) {
  const c = 2 * Math.PI * R;
  const g = s('g', { class: 'ring' });
  if (!stats.total) {
    g.append(s('circle', { class: 'seg none', r: R }));
    return g;
  }
  let at = 0;
  for (const kind of KINDS) {
    const share = stats[kind] / stats.total;
    if (share <= 0) continue;
    const len = share * c;
    // A dash of the share's length, starting where the previous one stopped (from 12 o'clock).
    g.append(s('circle', {
      class: `seg ${kind}`, r: R,
      'stroke-dasharray': `${len} ${c - len}`, 'stroke-dashoffset': `${c / 4 - at}`,
    }));
    at += len;
  }
  return g;
}

function kindLabel(type) {
  if (!type) return 'service';
  if (type === 'client') return 'client';
  if (type.startsWith('AWS::')) return type.slice(5);
  if (type === 'remote') return 'remote';
  return type;
}

function draw(nodes, edges, onPick, onPickEdge) {
  const { xy, width, height } = layout(nodes, edges);
  const svg = s('svg', {
    id: 'service-map', class: 'map', width: Math.max(width, 400), height: Math.max(height, 200),
    viewBox: `0 0 ${Math.max(width, 400)} ${Math.max(height, 200)}`, role: 'img', 'aria-label': 'service map',
  });
  svg.append(s('defs', {}, s('marker', {
    id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse',
  }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }))));
  const edgeLayer = s('g', { class: 'edges' });
  const nodeLayer = s('g', { class: 'nodes' });
  for (const e of edges) {
    const a = xy.get(e.from);
    const b = xy.get(e.to);
    let d;
    if (e.from === e.to) {
      d = `M ${a.x + R * 0.7} ${a.y - R * 0.7} c 40 -50 40 50 ${-R * 0.2} ${R * 1.2}`;
    } else if (b.x > a.x) {
      const mx = (a.x + b.x) / 2;
      d = `M ${a.x + R} ${a.y} C ${mx} ${a.y}, ${mx} ${b.y}, ${b.x - R - 2} ${b.y}`;
    } else {
      // A call back to an earlier layer: arc below the nodes.
      const low = Math.max(a.y, b.y) + ROW * 0.6;
      d = `M ${a.x} ${a.y + R} C ${a.x} ${low}, ${b.x} ${low}, ${b.x} ${b.y + R + 2}`;
    }
    const cls = e.stats.fault ? 'fault' : e.stats.error || e.stats.throttle ? 'error' : 'ok';
    const title = `${e.stats.total} requests, average ${ms(e.stats.avg)}; ${e.stats.fault} faults, ` +
      `${e.stats.error} errors, ${e.stats.throttle} throttled`;
    edgeLayer.append(s('path', { class: `edge ${cls}`, d, 'marker-end': 'url(#arrow)', dataset: { from: e.from, to: e.to } },
      s('title', {}, title)));
    // A wide invisible twin of the arrow takes the clicks: edge("caller", "callee").
    edgeLayer.append(s('path', { class: 'edge-hit', d, onclick: () => onPickEdge(e) }, s('title', {}, `${title}. Click to list these calls' traces.`)));
    const lx = e.from === e.to ? a.x + R + 30 : (a.x + b.x) / 2;
    const ly = e.from === e.to ? a.y : (a.y + b.y) / 2 - 8;
    // Past a couple of dozen arrows their labels would only pile up; the tooltips stay.
    if (edges.length <= 25) edgeLayer.append(s('text', { class: 'edge-label', x: lx, y: ly }, `${e.stats.total} \u00b7 ${ms(e.stats.avg)}`));
  }
  for (const n of nodes) {
    const { x, y } = xy.get(n.id);
    const st = n.stats;
    const g = s('g', {
      class: `node ${n.type === 'client' ? 'client' : ''}`, transform: `translate(${x} ${y})`, tabindex: 0,
      role: 'button', dataset: { name: n.name, type: n.type },
      onclick: () => onPick(n), onkeydown: (ev) => { if (ev.key === 'Enter') onPick(n); },
    });
    g.append(s('title', {}, `${n.name} (${kindLabel(n.type)}): ${st.total} requests, average ${ms(st.avg)}; ` +
      `ok ${st.ok}, errors ${st.error}, throttled ${st.throttle}, faults ${st.fault}. Click to list its traces.`));
    g.append(s('circle', { class: 'disc', r: R - 5 }));
    g.append(ring(st));
    g.append(s('text', { class: 'latency', y: -2 }, st.total ? ms(st.avg) : ''));
    g.append(s('text', { class: 'count', y: 12 }, st.total ? `${st.total} req` : ''));
    g.append(s('text', { class: 'name', y: R + 16 }, clip(n.name, 24)));
    g.append(s('text', { class: 'kind', y: R + 30 }, kindLabel(n.type)));
    nodeLayer.append(g);
  }
  svg.append(edgeLayer, nodeLayer);
  return svg;
}

function quote(name) {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A filter expression selecting one node's traces. */
export function serviceFilter(name) {
  return `service(${quote(name)})`;
}

/** A filter expression selecting the traces with a call from one node to another. */
export function edgeFilter(from, to) {
  return `edge(${quote(from)}, ${quote(to)})`;
}

export function mapView(root, ctx) {
  const summary = h('p', { class: 'summary' });
  const holder = h('div', { class: 'map-holder' });
  const legend = h('p', { class: 'legend' },
    KINDS.map((k) => h('span', { class: `key ${k}` }, k === 'error' ? 'error (4xx)' : k === 'fault' ? 'fault (5xx)' : k === 'throttle' ? 'throttle (429)' : k)),
    ' Each node: average latency and requests; each arrow: requests \u00b7 average latency. Click a node or an arrow to list its traces.');
  replace(root, h('h2', {}, 'Service map'), summary, legend, holder);
  let last = '';
  return {
    async refresh() {
      const services = await api.serviceGraph(ctx.window);
      const text = JSON.stringify(services);
      if (text === last) return;
      last = text;
      const { nodes, edges } = graph(services);
      replace(summary, `${nodes.length} nodes, ${edges.length} edges`);
      if (!nodes.length) {
        replace(holder, h('p', { class: 'empty' }, 'No traces yet. Point an SDK at this daemon (AWS_XRAY_DAEMON_ADDRESS) and send a request.'));
        return;
      }
      const names = new Map(nodes.map((n) => [n.id, n.name]));
      replace(holder, draw(nodes, edges, (n) => ctx.showTraces(serviceFilter(n.name)),
        (e) => ctx.showTraces(edgeFilter(names.get(e.from), names.get(e.to)))));
    },
  };
}
