// The API client: every call carries the key from session storage as
// Authorization: Bearer (never in a URL) and errors become ApiError.
//
// Every request the console makes goes to a path relative to where the
// console is served (serverURL), never to an absolute one: behind a
// reverse proxy that serves the server under a prefix (/db/console/), the
// API is then /db/api/… and the metrics /db/metrics.

const KEY = 'minidbgo.apiKey';

export function getKey() { return sessionStorage.getItem(KEY) || ''; }
export function setKey(k) {
  if (k) sessionStorage.setItem(KEY, k); else sessionStorage.removeItem(KEY);
}

// BASE is the server's root as this browser reaches it: the parent of the
// console's directory (this module is <root>console/api.js).
export const BASE = new URL('../', import.meta.url);

// serverURL resolves a server path, written without a leading slash
// ('api/stats', 'metrics'), against BASE. An absolute path would skip a
// proxy's prefix, so it is refused.
export function serverURL(path) {
  if (/^(?:\/|[a-z][a-z0-9+.-]*:)/i.test(path)) throw new Error(`serverURL: ${path} is not a path relative to the server's root`);
  return new URL(path, BASE).href;
}

// ApiError is a non-2xx answer: status, the API's code and message.
export class ApiError extends Error {
  constructor(status, body) {
    const msg = body && typeof body === 'object' && body.error ? body.error : `HTTP ${status}`;
    super(msg);
    this.status = status;
    this.code = body && body.code || '';
    this.body = body;
  }
}

export function authHeaders(extra) {
  const h = new Headers(extra || {});
  const k = getKey();
  if (k) h.set('Authorization', 'Bearer ' + k);
  return h;
}

// col encodes a collection name or _id for a path segment.
export const seg = (s) => encodeURIComponent(s);
// docSeg escapes a document id for api/{col}/{id}: a leading underscore
// too (%5F), since the server takes api/{col}/_find and the like for its
// collection routes, never for a document.
export const docSeg = (id) => seg(id).replace(/^_/, '%5F');

// call sends a request to path (relative to the server's root: see
// serverURL). body: an object (sent as JSON) or a string (sent
// as is, as JSON). It resolves to {data, text, res, ms, etag}.
export async function call(method, path, opts = {}) {
  const headers = authHeaders(opts.headers);
  let body = opts.body;
  if (body !== undefined) {
    if (typeof body !== 'string') body = JSON.stringify(body);
    headers.set('Content-Type', 'application/json');
  }
  const t0 = performance.now();
  const res = await fetch(serverURL(path), { method, headers, body, signal: opts.signal, cache: 'no-store', credentials: 'omit' });
  const text = await res.text();
  const ms = performance.now() - t0;
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return { data, text, res, ms, etag: res.headers.get('ETag') };
}

export const get = (p, o) => call('GET', p, o);
export const post = (p, body, o = {}) => call('POST', p, { ...o, body });
export const put = (p, body, o = {}) => call('PUT', p, { ...o, body });
export const del = (p, o) => call('DELETE', p, o);

// errText is what to tell the user about an error.
export function errText(e) {
  if (e instanceof ApiError) {
    if (e.status === 401) return 'The API key was refused (401). Sign in again.';
    if (e.status === 403) return `Not allowed with this key (403): ${e.message}`;
    return `${e.message} (${e.status}${e.code ? ' ' + e.code : ''})`;
  }
  return String(e && e.message || e);
}
