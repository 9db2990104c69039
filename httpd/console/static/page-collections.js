// Collections: list with counts and sizes, create, drop (typing the name).
import { get, post, del } from './api.js';
import { h, field, bytes, num } from './util.js';

export async function render(root, ctx) {
  const tbody = h('tbody');
  const table = h('table', { class: 'grid', id: 'collections' },
    h('caption', { class: 'sr' }, 'Collections'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'n' }, 'Documents'),
      h('th', { scope: 'col', class: 'n' }, 'Size'), h('th', { scope: 'col' }, h('span', { class: 'sr' }, 'Actions')))),
    tbody);

  async function load() {
    const { data } = await get('api/_collections');
    tbody.replaceChildren();
    if (!data.length) tbody.append(h('tr', null, h('td', { colspan: 4, class: 'empty' }, 'No collections yet.')));
    for (const c of data) {
      const s = ctx.seg(c.name);
      tbody.append(h('tr', { 'data-name': c.name },
        h('th', { scope: 'row' }, h('a', { href: '#/documents/' + s }, c.name)),
        h('td', { class: 'n' }, num(c.docCount)),
        h('td', { class: 'n' }, bytes(c.byteSize)),
        h('td', { class: 'actions' },
          h('a', { href: '#/query/' + s }, 'Query'), ' ',
          h('a', { href: '#/indexes/' + s }, 'Indexes'), ' ',
          ctx.can('write') && h('button', { type: 'button', class: 'danger small', 'aria-label': 'Drop ' + c.name, onclick: () => confirmDrop(c.name) }, 'Drop'))));
    }
  }

  // confirmDrop opens a dialog whose Drop button is enabled only when
  // the collection's name is typed.
  function confirmDrop(name) {
    const input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', id: 'drop-confirm' });
    const ok = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Drop collection');
    const dlg = h('dialog', { 'aria-labelledby': 'drop-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'drop-title' }, `Drop ${name}?`),
        h('p', null, 'This deletes every document and index of ', h('strong', null, name), '. Type its name to confirm.'),
        field('Collection name', input),
        h('div', { class: 'row' }, ok, h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'))));
    input.addEventListener('input', () => { ok.disabled = input.value !== name; });
    dlg.querySelector('form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (input.value !== name) return;
      dlg.close();
      try {
        await del('api/' + ctx.seg(name));
        ctx.status(`Dropped ${name}.`);
        await load();
      } catch (e) { ctx.error(e); }
    });
    dlg.addEventListener('close', () => dlg.remove());
    root.append(dlg);
    dlg.showModal();
    input.focus();
  }

  root.append(h('h1', null, 'Collections'));
  if (ctx.can('write')) {
    const name = h('input', { type: 'text', name: 'name', required: true, pattern: '[A-Za-z0-9_\\-]{1,64}', autocomplete: 'off', spellcheck: 'false', id: 'new-col' });
    const form = h('form', { class: 'inline', id: 'create-collection' },
      field('New collection', name, 'Letters, digits, _ and -, up to 64.'),
      h('button', { type: 'submit' }, 'Create'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!name.checkValidity()) { name.reportValidity(); return; }
      try {
        const { res } = await post('api/_collections', { name: name.value });
        ctx.status(res.status === 201 ? `Created ${name.value}.` : `${name.value} already exists.`);
        name.value = '';
        await load();
      } catch (e) { ctx.error(e); }
    });
    root.append(form);
  }
  root.append(h('div', { class: 'scroll' }, table));
  await load();
}
