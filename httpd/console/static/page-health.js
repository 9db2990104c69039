// Health: requests/s, latency p50/p99, RSS and heap against the memory
// limit, memtable and L0, compactions; sampled every few seconds from
// /metrics (Prometheus text) and /api/stats.
import { get, authHeaders, ApiError, serverURL } from './api.js';
import { h, bytes, num } from './util.js';
import { Chart } from './charts.js';

const KEEP = 60;

// parseProm reads Prometheus text into [{name, labels, value}].
export function parseProm(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

const sum = (ms, name, pred) => ms.filter((m) => m.name === name && (!pred || pred(m.labels))).reduce((a, m) => a + m.value, 0);

// buckets sums the latency histogram over routes: le → cumulative count.
function buckets(ms) {
  const b = new Map();
  for (const m of ms) if (m.name === 'minidbgo_http_request_duration_seconds_bucket') {
    const le = m.labels.le === '+Inf' ? Infinity : Number(m.labels.le);
    b.set(le, (b.get(le) || 0) + m.value);
  }
  return [...b.entries()].sort((a, c) => a[0] - c[0]);
}

// quantile estimates q from the difference of two cumulative histograms
// (linear within a bucket), in seconds; null without requests.
export function quantile(q, now, before) {
  const prev = new Map(before);
  const d = now.map(([le, c]) => [le, c - (prev.get(le) || 0)]);
  const total = d.length ? d[d.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lo = 0, below = 0;
  for (const [le, c] of d) {
    if (c >= rank) {
      if (le === Infinity) return lo;
      return lo + (le - lo) * ((rank - below) / Math.max(1e-12, c - below));
    }
    lo = le; below = c;
  }
  return lo;
}

const seconds = (v) => v >= 1 ? v.toFixed(2) + ' s' : (v * 1000 < 10 ? (v * 1000).toFixed(2) : Math.round(v * 1000)) + ' ms';
const rate = (v) => v >= 100 ? Math.round(v) + '/s' : v.toFixed(1) + '/s';

export async function render(root, ctx) {
  const interval = h('select', { id: 'health-interval' }, [1, 2, 5, 10].map((s) => h('option', { value: s, selected: s === 2 }, s + ' s')));
  const cards = {
    rps: new Chart('Requests per second', rate, ['requests/s']),
    lat: new Chart('Latency', seconds, ['p50', 'p99']),
    mem: new Chart('Memory', bytes, ['RSS', 'Go heap'], 1 << 20),
    mt: new Chart('Memtable', bytes, ['active'], 1024),
    l0: new Chart('L0 and compactions', (v) => num(Math.round(v)), ['L0 tables', 'running', 'done/interval'], 4),
  };
  const facts = h('dl', { class: 'facts', id: 'health-facts' });
  root.append(h('h1', null, 'Health'),
    h('div', { class: 'inline' }, h('div', { class: 'field' }, h('label', { for: 'health-interval' }, 'Update every'), interval), facts),
    h('div', { class: 'charts', id: 'charts' }, Object.values(cards).map((c) => c.el)));

  const hist = { rps: [], p50: [], p99: [], rss: [], heap: [], mt: [], imm: [], l0: [], run: [], comp: [] };
  const push = (k, v) => { hist[k].push(v); if (hist[k].length > KEEP) hist[k].shift(); };
  let prev = null, timer = 0, alive = true, gen = 0;

  async function sample() {
    const t = performance.now();
    const res = await fetch(serverURL('metrics'), { headers: authHeaders(), cache: 'no-store', credentials: 'omit' });
    if (!res.ok) { let b = null; try { b = await res.json(); } catch { /* text */ } throw new ApiError(res.status, b); }
    const ms = parseProm(await res.text());
    let stats = null;
    try { stats = (await get('api/stats')).data; } catch { /* optional */ }
    const cur = { t, req: sum(ms, 'minidbgo_http_requests_total'), b: buckets(ms), comp: sum(ms, 'minidbgo_engine_compactions_total') };
    if (prev) {
      const dt = (cur.t - prev.t) / 1000;
      push('rps', Math.max(0, (cur.req - prev.req) / dt));
      push('p50', quantile(0.5, cur.b, prev.b));
      push('p99', quantile(0.99, cur.b, prev.b));
      push('comp', Math.max(0, cur.comp - prev.comp));
    }
    prev = cur;
    const rss = sum(ms, 'process_resident_memory_bytes') || (stats ? stats.process_rss_mb * 2 ** 20 : null);
    const heap = sum(ms, 'go_memstats_heap_alloc_bytes') || (stats ? stats.go_heap_alloc_mb * 2 ** 20 : null);
    const limit = sum(ms, 'minidbgo_process_memory_limit_bytes') || (stats ? stats.process_rss_limit_mb * 2 ** 20 : 0);
    const gomem = sum(ms, 'go_gc_gomemlimit_bytes'); // math.MaxInt64 when unset
    push('rss', rss); push('heap', heap);
    push('mt', sum(ms, 'minidbgo_engine_memtable_bytes'));
    push('imm', sum(ms, 'minidbgo_engine_immutable_memtables'));
    push('l0', sum(ms, 'minidbgo_engine_level_files', (l) => l.level === '0'));
    push('run', sum(ms, 'minidbgo_engine_compactions_running'));
    cards.rps.draw([hist.rps]);
    cards.lat.draw([hist.p50, hist.p99]);
    cards.mem.draw([hist.rss, hist.heap], [['memory limit', limit], ['GOMEMLIMIT', gomem < 2 ** 62 ? gomem : 0]]);
    cards.mt.draw([hist.mt]);
    cards.mt.legend.append(h('span', { class: 'key' }, `frozen memtables: ${hist.imm[hist.imm.length - 1]}`));
    cards.l0.draw([hist.l0, hist.run, hist.comp]);
    const f = (k, v) => [h('dt', null, k), h('dd', null, v)];
    facts.replaceChildren(...f('Tables', num(sum(ms, 'minidbgo_engine_tables'))), ...f('Table bytes', bytes(sum(ms, 'minidbgo_engine_table_bytes'))),
      ...f('Uptime', Math.round(sum(ms, 'minidbgo_uptime_seconds')) + ' s'),
      ...(stats ? f('CPU', stats.process_cpu_percent.toFixed(1) + ' %') : []),
      ...f('Read-only', sum(ms, 'minidbgo_engine_read_only') ? 'YES' : 'no'));
  }
  // One loop at a time: a change of interval starts a new generation
  // and the old loop stops after its sample.
  async function loop(g) {
    if (!alive || g !== gen) return;
    try { await sample(); } catch (e) { ctx.error(e); }
    if (alive && g === gen) timer = setTimeout(() => loop(g), Number(interval.value) * 1000);
  }
  interval.addEventListener('change', () => { clearTimeout(timer); loop(++gen); });
  loop(gen);
  return () => { alive = false; clearTimeout(timer); };
}
