// Calls to the JSON endpoints beside the page: the X-Ray query API (as the AWS SDKs call it)
// and xray-local's own /local/... endpoints.

/** An answer other than 2xx, with the server's message. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }

  /** The 0-based character offset a filter-expression error points at, if it names one. */
  get position() {
    const found = /\bposition (\d+)/.exec(this.message);
    return found ? Number(found[1]) : null;
  }
}

async function call(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `xray-local is not answering (${err.message})`, null);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = null;
  }
  if (!response.ok) {
    const message = (json && (json.message || json.Message)) || text || response.statusText;
    throw new ApiError(response.status, message, json);
  }
  if (json === null) throw new ApiError(response.status, `not JSON: ${text.slice(0, 200)}`, null);
  return json;
}

/** The time windows the header offers, in seconds (0: everything xray-local holds). */
export const WINDOWS = [
  [300, 'last 5 minutes'],
  [900, 'last 15 minutes'],
  [3600, 'last hour'],
  [6 * 3600, 'last 6 hours'],
  [24 * 3600, 'last 24 hours'],
  [0, 'everything held'],
];

/** StartTime and EndTime (epoch seconds) for a window ending now. */
export function range(windowSeconds) {
  const now = Date.now() / 1000;
  // A minute of slack at the end: a laptop's clock and an SDK's can disagree a little.
  return { StartTime: windowSeconds > 0 ? now - windowSeconds : 0, EndTime: now + 60 };
}

/** Trace summaries matching a filter, newest first, following NextToken up to `limit`. */
export async function summaries(filter, window, limit) {
  const list = [];
  let token;
  let processed = 0;
  let truncated = false;
  const r = range(window);
  for (let page = 0; page < 1000; page++) {
    const body = { ...r, Sampling: false };
    if (filter) body.FilterExpression = filter;
    if (token) body.NextToken = token;
    const answer = await call('POST', '/TraceSummaries', body);
    list.push(...(answer.TraceSummaries || []));
    processed += answer.TracesProcessedCount || 0;
    token = answer.NextToken;
    if (!token) break;
    if (list.length >= limit) {
      truncated = true;
      break;
    }
  }
  list.sort((a, b) => startOf(b) - startOf(a));
  return { list, processed, truncated };
}

/** When a trace started: the summary's StartTime, else the epoch in its id. */
export function startOf(summary) {
  if (Number.isFinite(summary.StartTime)) return summary.StartTime;
  const epoch = /^1-([0-9a-f]{8})-/.exec(summary.Id || '');
  return epoch ? parseInt(epoch[1], 16) : 0;
}

/** Every service of the service graph for a window, following NextToken. */
export async function serviceGraph(window) {
  const services = [];
  let token;
  for (let page = 0; page < 100; page++) {
    const body = { ...range(window) };
    if (token) body.NextToken = token;
    const answer = await call('POST', '/ServiceGraph', body);
    services.push(...(answer.Services || []));
    token = answer.NextToken;
    if (!token) break;
  }
  return services;
}

/** One trace as xray-local holds it: its raw documents and the problems found in it. */
export function trace(id) {
  return call('GET', `/local/traces/${encodeURIComponent(id)}`);
}

/** Counts, caps and evictions. */
export function status() {
  return call('GET', '/local/status');
}

/** The sampling rules xray-local hands to SDKs. */
export async function samplingRules() {
  const answer = await call('POST', '/GetSamplingRules', {});
  return answer.SamplingRuleRecords || [];
}
