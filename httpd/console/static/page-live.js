// Live: a collection's change feed, tailed from now. EventSource cannot
// send the Authorization header, so the event stream is read with fetch()
// and parsed here; it resumes after a break with Last-Event-ID.
import { authHeaders, errText, ApiError, serverURL } from './api.js';
import { h } from './util.js';

const MAX_ROWS = 200;

// SSEParser turns text chunks of a text/event-stream into events
// {id, event, data}; comments (heartbeats) are dropped.
export class SSEParser {
  constructor(onEvent) { this.buf = ''; this.ev = { data: [] }; this.onEvent = onEvent; }
  push(chunk) {
    this.buf += chunk;
    let i;
    while ((i = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buf.slice(0, i);
      const nl = this.buf[i] === '\r' && this.buf[i + 1] === '\n' ? 2 : 1;
      this.buf = this.buf.slice(i + nl);
      this.line(line);
    }
  }
  line(line) {
    if (line === '') {
      if (this.ev.data.length) this.onEvent({ id: this.ev.id, event: this.ev.event || 'message', data: this.ev.data.join('\n') });
      this.ev = { data: [], id: undefined };
      return;
    }
    if (line.startsWith(':')) return;
    const c = line.indexOf(':');
    const name = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') this.ev.data.push(value);
    else if (name === 'id') this.ev.id = value;
    else if (name === 'event') this.ev.event = value;
  }
}

export async function render(root, ctx, col) {
  root.append(h('h1', null, 'Live'));
  root.append(h('div', { class: 'toolbar' }, await ctx.picker(col, (c) => ctx.go('#/live/' + ctx.seg(c)))));
  if (!col) { root.append(h('p', null, 'Choose a collection to follow its changes.')); return; }

  const state = h('span', { id: 'live-state', class: 'badge', 'aria-live': 'polite' }, 'connecting…');
  const toggle = h('button', { type: 'button', id: 'live-toggle' }, 'Pause');
  const clear = h('button', { type: 'button' }, 'Clear');
  const tbody = h('tbody', { id: 'live-rows' });
  let ctrl = null, lastId = '', running = true, retry = 0, count = 0;

  function add(ch) {
    count++;
    const t = new Date();
    const row = h('tr', { class: 'op-' + ch.op, 'data-seq': ch.seq },
      h('td', { class: 'n' }, ch.seq), h('td', null, t.toLocaleTimeString()),
      h('td', null, h('span', { class: 'op' }, ch.op)),
      h('td', null, ch._id ? h('a', { href: `#/documents/${ctx.seg(col)}` }, ch._id) : '–'),
      h('td', { class: 'n' }, ch.rev ?? ''));
    tbody.prepend(row);
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(-1);
  }

  async function connect() {
    ctrl = new AbortController();
    const q = lastId ? '' : '&since=now';
    const headers = authHeaders({ Accept: 'text/event-stream' });
    if (lastId) headers.set('Last-Event-ID', lastId);
    try {
      const res = await fetch(serverURL(`api/${ctx.seg(col)}/_changes?feed=eventsource${q}`), { headers, signal: ctrl.signal, cache: 'no-store', credentials: 'omit' });
      if (!res.ok) {
        let body = null;
        try { body = await res.json(); } catch { /* not JSON */ }
        throw new ApiError(res.status, body);
      }
      state.textContent = 'live'; state.className = 'badge live';
      retry = 0;
      const parser = new SSEParser((ev) => {
        if (ev.id) lastId = ev.id;
        try { add(JSON.parse(ev.data)); } catch { /* not a change */ }
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
      }
      throw new Error('the stream ended');
    } catch (e) {
      if (!running || (e && e.name === 'AbortError')) return;
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
        state.textContent = 'this server has no change feed'; state.className = 'badge error';
        return;
      }
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) { ctx.error(e); state.textContent = 'refused'; return; }
      if (e instanceof ApiError && e.status === 410) lastId = ''; // history lost: start again from now
      retry = Math.min(retry + 1, 5);
      state.textContent = `reconnecting (${errText(e)})`; state.className = 'badge warn';
      setTimeout(() => { if (running) connect(); }, 1000 * retry);
    }
  }

  toggle.addEventListener('click', () => {
    running = !running;
    toggle.textContent = running ? 'Pause' : 'Resume';
    if (running) connect(); else { ctrl && ctrl.abort(); state.textContent = 'paused'; state.className = 'badge'; }
  });
  clear.addEventListener('click', () => tbody.replaceChildren());
  root.append(h('div', { class: 'row' }, state, toggle, clear),
    h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'live' },
      h('caption', { class: 'sr' }, 'Changes to ' + col + ', newest first'),
      h('thead', null, h('tr', null, ['Seq', 'Seen', 'Op', '_id', 'Rev'].map((t) => h('th', { scope: 'col', class: t === 'Seq' || t === 'Rev' ? 'n' : null }, t)))),
      tbody)));
  connect();
  return () => { running = false; ctrl && ctrl.abort(); };
}
