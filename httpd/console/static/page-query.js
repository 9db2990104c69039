// Query: filter, sort, projection and limit; the results with timings;
// the _explain plan drawn as its stages (COLLSCAN / IDSCAN / IXSCAN, keys
// and documents examined). In Aggregate mode, a pipeline of stages run by
// _aggregate (paged with its cursor) and explained by _explain.
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

// parsePipeline checks the pipeline box: a JSON array of stages, each an
// object with one "$stage" key. It throws an Error naming the problem.
export function parsePipeline(text) {
  const t = text.trim();
  if (!t) throw new Error('The pipeline is empty: write a JSON array of stages, like [{"$match": {}}]');
  let v;
  try { v = JSON.parse(t); } catch (e) { throw new Error(`The pipeline is not valid JSON: ${e.message}`); }
  if (!Array.isArray(v)) throw new Error('The pipeline must be a JSON array of stages, like [{"$match": {}}]');
  v.forEach((st, i) => {
    const keys = st !== null && typeof st === 'object' && !Array.isArray(st) ? Object.keys(st) : [];
    if (keys.length !== 1 || !keys[0].startsWith('$')) {
      throw new Error(`Stage ${i} of the pipeline must be an object with one "$stage" key, like {"$group": {…}}`);
    }
  });
  return v;
}

// showDocs fills the results card with a page of documents.
function showDocs(el, docs, took, more, extra) {
  el.replaceChildren(
    h('h2', { id: 'results-title' }, 'Results'),
    h('p', { class: 'muted', id: 'timing' }, `${docs.length} document${docs.length === 1 ? '' : 's'} in ${ms(took)} (round trip)`, more ? ' · more follow (cursor)' : ''),
    h('pre', { class: 'json', tabindex: 0, 'aria-label': 'Result documents' }, docs.map((d) => pretty(JSON.stringify(d))).join('\n')),
    extra);
  el.hidden = false;
}

export async function render(root, ctx, col) {
  root.append(h('h1', null, 'Query'));
  root.append(h('div', { class: 'toolbar' }, await ctx.picker(col, (c) => ctx.go('#/query/' + ctx.seg(c)))));
  if (!col) { root.append(h('p', null, 'Choose a collection.')); return; }

  const stateKey = 'minidbgo.query.' + col;
  const saved = JSON.parse(sessionStorage.getItem(stateKey) || '{}');
  const save = (o) => sessionStorage.setItem(stateKey, JSON.stringify(Object.assign(saved, o)));
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
    ctx.clearError();
    let body;
    try {
      body = { filter: parseJSONInput('The filter', filter.value), sort: sortOrFields('The sort', sort.value),
        fields: sortOrFields('The projection', fields.value), limit: Number(limit.value) || undefined };
    } catch (e) { msg.textContent = e.message; msg.className = 'msg error'; return; }
    save({ filter: filter.value, sort: sort.value, fields: fields.value, limit: limit.value });
    try {
      const [found, explained] = await Promise.all([
        post(`api/${ctx.seg(col)}/_find`, body),
        post(`api/${ctx.seg(col)}/_explain`, body),
      ]);
      drawPlan(plan, explained.data, explained.ms);
      showDocs(results, found.data.docs, found.ms, found.data.cursor);
    } catch (e) {
      msg.textContent = e.message; msg.className = 'msg error';
      ctx.error(e);
    }
  });

  const agg = aggregateForm(ctx, col, saved, save, plan, results);

  // The mode switch: two radio buttons (arrow keys move between them).
  const modes = h('fieldset', { class: 'modes', id: 'q-mode' }, h('legend', { class: 'sr' }, 'Query mode'),
    ['find', 'aggregate'].map((m) => h('span', { class: 'mode' },
      h('input', { type: 'radio', name: 'q-mode', id: 'q-mode-' + m, value: m, checked: (saved.mode || 'find') === m,
        onchange: () => setMode(m) }),
      h('label', { for: 'q-mode-' + m }, m === 'find' ? 'Find' : 'Aggregate'))));
  function setMode(m) {
    form.hidden = m !== 'find';
    agg.hidden = m !== 'aggregate';
    plan.hidden = true; results.hidden = true;
    save({ mode: m });
  }
  form.hidden = (saved.mode || 'find') !== 'find';
  agg.hidden = !form.hidden;
  root.append(modes, form, agg, h('div', { class: 'split' }, plan, results));
}

// aggregateForm is Aggregate mode: the pipeline box, Run (the first page,
// then "Next page" with the cursor) and Explain.
function aggregateForm(ctx, col, saved, save, plan, results) {
  const pipeline = h('textarea', { id: 'agg-pipeline', rows: 8, spellcheck: 'false',
    placeholder: '[{"$match": {"status": "A"}}, {"$group": {"_id": "$cust", "total": {"$sum": "$amount"}}}]' });
  pipeline.value = saved.pipeline || '';
  const size = h('input', { id: 'agg-limit', type: 'number', min: 1, max: 10000, value: saved.aggLimit || 20 });
  const msg = h('p', { class: 'msg', id: 'agg-msg', 'aria-live': 'polite' });
  const explain = h('button', { type: 'button', id: 'agg-explain', class: 'secondary' }, 'Explain');
  const form = h('form', { id: 'agg-form', class: 'stack' },
    field('Pipeline', pipeline, 'A JSON array of stages: $match $group $sort $limit $project $unwind $lookup … (see docs/aggregation.md)'),
    h('div', { class: 'inline' }, field('Page size', size)),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Run'), explain, msg));
  const path = (what) => `api/${ctx.seg(col)}/${what}`;

  // read checks the pipeline; it returns the request body or null (the
  // problem shown next to the box).
  function read() {
    msg.textContent = ''; msg.className = 'msg';
    ctx.clearError();
    pipeline.removeAttribute('aria-invalid');
    try {
      const body = { pipeline: parsePipeline(pipeline.value), limit: Number(size.value) || undefined };
      save({ pipeline: pipeline.value, aggLimit: size.value });
      return body;
    } catch (e) {
      msg.textContent = e.message; msg.className = 'msg error';
      pipeline.setAttribute('aria-invalid', 'true');
      pipeline.focus();
      return null;
    }
  }
  function failed(e) {
    msg.textContent = e.message; msg.className = 'msg error';
    ctx.error(e);
  }

  // show runs one page: the pipeline's first, or the one after cursor.
  async function show(body, page) {
    const res = await post(path('_aggregate'), body);
    const next = res.data.cursor;
    const more = next ? h('button', { type: 'button', id: 'agg-next', onclick: async (ev) => {
      ev.currentTarget.disabled = true;
      try { await show({ cursor: next, limit: body.limit }, page + 1); document.getElementById('agg-next')?.focus(); } catch (e) { failed(e); }
    } }, 'Next page') : null;
    showDocs(results, res.data.docs, res.ms, next,
      h('div', { class: 'row' }, h('span', { id: 'agg-page', class: 'muted' }, `Page ${page}`), more));
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = read();
    if (!body) return;
    plan.hidden = true;
    try { await show(body, 1); } catch (e) { failed(e); }
  });
  explain.addEventListener('click', async () => {
    const body = read();
    if (!body) return;
    try {
      const res = await post(path('_explain'), body);
      drawPipelinePlan(plan, res.data, res.ms);
    } catch (e) { failed(e); }
  });
  return form;
}

// drawPipelinePlan draws the plan of a pipeline's scan (its leading
// $match, and a $sort an index serves) and then its stages in order,
// marking those the scan performs.
export function drawPipelinePlan(el, e, took) {
  drawPlan(el, e.source || {}, took);
  const pushed = e.pushedDown || 0;
  const stages = e.stages || [];
  el.querySelector('h2').after(
    h('p', { class: 'muted' }, pushed ? `The scan below performs ${pushed > 1 ? `the first ${pushed} stages` : 'the first stage'} of the pipeline; the others run after it.`
      : 'The scan below reads the collection for the pipeline; every stage runs after it.'));
  el.append(h('h3', { id: 'pipeline-title' }, 'Pipeline stages'),
    h('ol', { class: 'plan pipeline', 'aria-labelledby': 'pipeline-title' },
      stages.map((name, i) => h('li', { class: 'stage ' + (i < pushed ? 'pushed' : 'agg'), 'data-agg-stage': name },
        h('strong', null, name), h('span', null, i < pushed ? 'done by the scan' : 'runs after the scan')))));
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
