// Query: filter, sort, projection and limit; the results with timings;
// the _explain plan drawn as its stages (COLLSCAN / IDSCAN / IXSCAN, keys
// and documents examined).
import { post } from './api.js';
import { h, field, pretty, num, ms, parseJSONInput } from './util.js';

// sortOrFields reads a box that takes an object or the short string form
// ("-price,_id").
function sortOrFields(name, text) {
  const t = text.trim();
  if (!t) return undefined;
  if (t.startsWith('{')) return parseJSONInput(name, t);
  return t;
}

export async function render(root, ctx, col) {
  root.append(h('h1', null, 'Query'));
  root.append(h('div', { class: 'toolbar' }, await ctx.picker(col, (c) => ctx.go('#/query/' + ctx.seg(c)))));
  if (!col) { root.append(h('p', null, 'Choose a collection.')); return; }

  const saved = JSON.parse(sessionStorage.getItem('minidbgo.query.' + col) || '{}');
  const filter = h('textarea', { id: 'q-filter', rows: 4, spellcheck: 'false', placeholder: '{"age": {"$gte": 30}}' });
  filter.value = saved.filter || '';
  const sort = h('input', { id: 'q-sort', type: 'text', spellcheck: 'false', placeholder: '{"age": -1}  or  -age,_id', value: saved.sort || '' });
  const fields = h('input', { id: 'q-fields', type: 'text', spellcheck: 'false', placeholder: '{"name": 1}  or  name,age', value: saved.fields || '' });
  const limit = h('input', { id: 'q-limit', type: 'number', min: 1, max: 10000, value: saved.limit || 20 });
  const msg = h('p', { class: 'msg', 'aria-live': 'polite' });
  const plan = h('section', { id: 'plan', class: 'card', 'aria-labelledby': 'plan-title', hidden: true });
  const results = h('section', { id: 'results', class: 'card', 'aria-labelledby': 'results-title', hidden: true });

  const form = h('form', { id: 'query-form', class: 'stack' },
    field('Filter', filter, 'A JSON object in the query language: $eq $gt $in $and $or $regex $exists …'),
    h('div', { class: 'inline' }, field('Sort', sort), field('Projection', fields), field('Limit', limit)),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Run'), msg));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.textContent = ''; msg.className = 'msg';
    let body;
    try {
      body = { filter: parseJSONInput('The filter', filter.value), sort: sortOrFields('The sort', sort.value),
        fields: sortOrFields('The projection', fields.value), limit: Number(limit.value) || undefined };
    } catch (e) { msg.textContent = e.message; msg.className = 'msg error'; return; }
    sessionStorage.setItem('minidbgo.query.' + col, JSON.stringify({ filter: filter.value, sort: sort.value, fields: fields.value, limit: limit.value }));
    try {
      const [found, explained] = await Promise.all([
        post(`/api/${ctx.seg(col)}/_find`, body),
        post(`/api/${ctx.seg(col)}/_explain`, body),
      ]);
      drawPlan(plan, explained.data, explained.ms);
      const docs = found.data.docs;
      results.replaceChildren(
        h('h2', { id: 'results-title' }, 'Results'),
        h('p', { class: 'muted', id: 'timing' }, `${docs.length} documents in ${ms(found.ms)} (round trip)`, found.data.cursor ? ' · more follow (cursor)' : ''),
        h('pre', { class: 'json', tabindex: 0, 'aria-label': 'Result documents' }, docs.map((d) => pretty(JSON.stringify(d))).join('\n')));
      results.hidden = false;
    } catch (e) {
      msg.textContent = e.message; msg.className = 'msg error';
      ctx.error(e);
    }
  });
  root.append(form, h('div', { class: 'split' }, plan, results));
}

// drawPlan shows the plan as a left-to-right chain of stages.
export function drawPlan(el, e, took) {
  const stages = [];
  const scan = e.plan || 'COLLSCAN';
  const scanNote = {
    COLLSCAN: 'reads every document of the collection',
    IDSCAN: 'reads documents by _id',
    IXSCAN: 'walks an index range',
  }[scan] || '';
  stages.push({ name: scan, cls: scan.toLowerCase(), lines: [scanNote,
    e.index && `index ${e.index}` + (e.indexFields ? ` (${e.indexFields.join(', ')})` : ''),
    e.ranges && `${e.ranges} range${e.ranges > 1 ? 's' : ''}`,
    `keys examined: ${num(e.keysExamined)}`] });
  stages.push({ name: 'FETCH', cls: 'fetch', lines: [`docs examined: ${num(e.docsExamined)}`] });
  if (e.inMemorySort) stages.push({ name: 'SORT', cls: 'sort', lines: ['in memory'] });
  else if (e.sortByIndex) stages.push({ name: 'SORT', cls: 'sortix', lines: ['by the index (no sort)'] });
  stages.push({ name: 'RETURN', cls: 'ret', lines: [`returned: ${num(e.nReturned)}`] });
  const ratio = e.nReturned ? (e.docsExamined / e.nReturned) : e.docsExamined;
  el.replaceChildren(
    h('h2', { id: 'plan-title' }, 'Plan'),
    h('ol', { class: 'plan', 'aria-label': 'Plan stages, in order' },
      stages.map((s) => h('li', { class: 'stage ' + s.cls, 'data-stage': s.name },
        h('strong', null, s.name), s.lines.filter(Boolean).map((l) => h('span', null, l))))),
    h('p', { class: 'muted' }, `Explain took ${ms(took)}. `,
      scan === 'COLLSCAN' && e.docsExamined > 0 ? 'No index serves this filter: consider one on the filtered fields. ' : '',
      e.nReturned ? `${ratio.toFixed(1)} documents examined per document returned.` : ''));
  el.hidden = false;
}
