// Building the page without ever parsing data as markup: every element comes from
// createElement / createElementNS and every piece of text from a text node, so a segment
// named "<script>alert(1)</script>" shows exactly those characters.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (key === 'style') {
      // CSSOM, not the style attribute: allowed by the page's Content-Security-Policy.
      for (const [k, v] of Object.entries(value)) el.style.setProperty(k, String(v));
    } else if (key === 'href' && !isSafeHref(String(value))) {
      // Links only ever point inside the console.
      continue;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function isSafeHref(href) {
  // "#..." or a path on this origin; not "//host" (another origin) or any scheme.
  return href.startsWith('#') || (href.startsWith('/') && !href.startsWith('//') && !href.startsWith('/\\'));
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: h('td', {class: 'x'}, 'text', otherNode). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element, built the same way. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Milliseconds, readable: 0.4 ms, 12 ms, 1.25 s. Input in seconds. */
export function ms(seconds) {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds)) return '-';
  const v = seconds * 1000;
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 100) return `${v.toFixed(1)} ms`;
  if (v < 10000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(1)} s`;
}

/** A percentage of a fraction, e.g. 0.125 -> "12.5%". */
export function pct(fraction) {
  if (!Number.isFinite(fraction)) return '-';
  return `${(fraction * 100).toFixed(fraction > 0 && fraction < 0.1 ? 1 : 0)}%`;
}

/** A byte count: 512 B, 12.3 KB, 4.5 MB. */
export function bytes(n) {
  if (!Number.isFinite(n)) return '-';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Epoch seconds as a local date and time with milliseconds. */
export function when(epochSeconds) {
  if (!Number.isFinite(epochSeconds)) return '-';
  const d = new Date(epochSeconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Shortens a string for a label; the full text goes into a tooltip. */
export function clip(text, max) {
  const str = String(text ?? '');
  return str.length > max ? `${str.slice(0, max - 1)}\u2026` : str;
}

/** A value of any JSON type as one line of text. */
export function show(value) {
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
