// Indexes: list (with build progress), create (fields, unique, TTL), drop.
import { get, post, del } from './api.js';
import { h, field, num } from './util.js';

export async function render(root, ctx, col) {
  root.append(h('h1', null, 'Indexes'));
  root.append(h('div', { class: 'toolbar' }, await ctx.picker(col, (c) => ctx.go('#/indexes/' + ctx.seg(c)))));
  if (!col) { root.append(h('p', null, 'Choose a collection.')); return; }
  const tbody = h('tbody');
  let timer = 0;

  async function load() {
    const { data } = await get(`api/${ctx.seg(col)}/_indexes`);
    tbody.replaceChildren();
    if (!data.length) tbody.append(h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'No secondary indexes (documents are found by _id).')));
    let building = false;
    for (const ix of data) {
      const fields = ix.fields.map((f) => (f.desc ? '-' : '') + f.path).join(', ');
      let state = 'ready';
      if (ix.building) {
        building = true;
        const p = ix.progress || { indexed: 0, total: 0 };
        state = h('span', null, h('progress', { max: p.total || 1, value: p.indexed, 'aria-label': `Build of ${ix.name}` }),
          ` ${num(p.indexed)} / ${num(p.total)}`);
      }
      const traits = [ix.unique && 'unique', ix.multikey && 'multikey',
        ix.expireAfterSeconds != null && `TTL ${ix.expireAfterSeconds} s`].filter(Boolean).join(', ');
      tbody.append(h('tr', { 'data-name': ix.name },
        h('th', { scope: 'row' }, ix.name), h('td', null, h('code', null, fields)), h('td', null, traits || '–'), h('td', null, state),
        h('td', { class: 'actions' }, ctx.can('write') && h('button', { type: 'button', class: 'danger small', 'aria-label': 'Drop index ' + ix.name,
          onclick: async () => {
            if (!confirm(`Drop index ${ix.name}?`)) return;
            try { await del(`api/${ctx.seg(col)}/_indexes/${ctx.seg(ix.name)}`); ctx.status(`Dropped index ${ix.name}.`); await load(); } catch (e) { ctx.error(e); }
          } }, 'Drop'))));
    }
    clearTimeout(timer);
    if (building) timer = setTimeout(() => load().catch(ctx.error), 1000);
  }

  root.append(h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'indexes' },
    h('caption', { class: 'sr' }, 'Indexes of ' + col),
    h('thead', null, h('tr', null, ['Name', 'Fields', 'Options', 'State'].map((t) => h('th', { scope: 'col' }, t)), h('th', { scope: 'col' }, h('span', { class: 'sr' }, 'Actions')))),
    tbody)));

  if (ctx.can('write')) {
    const fields = h('input', { id: 'ix-fields', type: 'text', required: true, spellcheck: 'false', placeholder: 'category, -price' });
    const name = h('input', { id: 'ix-name', type: 'text', spellcheck: 'false', pattern: '[A-Za-z0-9_\\-]{1,64}' });
    const unique = h('input', { id: 'ix-unique', type: 'checkbox' });
    const ttl = h('input', { id: 'ix-ttl', type: 'number', min: 0, step: 1, inputmode: 'numeric' });
    const go = h('button', { type: 'submit' }, 'Create index');
    const form = h('form', { id: 'create-index', class: 'card stack', 'aria-labelledby': 'ix-title' },
      h('h2', { id: 'ix-title' }, 'New index'),
      h('div', { class: 'inline' },
        field('Fields', fields, 'Comma-separated paths; a leading - sorts descending.'),
        field('Name (optional)', name),
        field('Expire after (seconds)', ttl, 'TTL, one field only: a document expires this many seconds after the date in the field (RFC 3339 or epoch ms).')),
      h('div', { class: 'check' }, unique, h('label', { for: 'ix-unique' }, 'Unique')),
      h('div', { class: 'row' }, go));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      const body = { fields: fields.value.split(',').map((s) => s.trim()).filter(Boolean) };
      if (unique.checked) body.unique = true;
      if (name.value.trim()) body.name = name.value.trim();
      if (ttl.value !== '') body.expireAfterSeconds = Number(ttl.value);
      go.disabled = true;
      ctx.status('Building the index…');
      // The build answers when done: show its progress meanwhile.
      const poll = setInterval(() => load().catch(() => {}), 1000);
      try {
        const { res, data } = await post(`api/${ctx.seg(col)}/_indexes`, body);
        ctx.status(res.status === 201 ? `Created index ${data.name}.` : res.status === 202 ? `Index ${data.name} is building.` : `Index ${data.name} already existed.`);
        fields.value = ''; name.value = ''; ttl.value = ''; unique.checked = false;
      } catch (e) { ctx.error(e); } finally {
        clearInterval(poll);
        go.disabled = false;
        await load().catch(ctx.error);
      }
    });
    root.append(form);
  }
  await load();
  return () => clearTimeout(timer);
}
