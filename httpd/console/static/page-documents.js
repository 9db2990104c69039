// Documents: a cursor-paged table with chosen columns; a JSON view and
// editor that checks the JSON before saving and saves with If-Match, so a
// document changed meanwhile answers a clear conflict; insert; delete.
import { get, post, call, del, ApiError, errText } from './api.js';
import { h, field, cell, getPath, pretty, parseJSONInput } from './util.js';

export async function render(root, ctx, col) {
  root.append(h('h1', null, 'Documents'));
  root.append(h('div', { class: 'toolbar' }, await ctx.picker(col, (c) => ctx.go('#/documents/' + ctx.seg(c)))));
  if (!col) { root.append(h('p', null, 'Choose a collection.')); return; }

  const colsKey = 'minidbgo.columns.' + col;
  const columns = h('input', { type: 'text', id: 'columns', value: sessionStorage.getItem(colsKey) || '', placeholder: '_id, name, age', spellcheck: 'false' });
  const size = h('select', { id: 'page-size' }, [10, 25, 50, 100].map((n) => h('option', { value: n, selected: n === 25 }, n)));
  const thead = h('thead'), tbody = h('tbody');
  const prev = h('button', { type: 'button', disabled: true }, '← Previous');
  const next = h('button', { type: 'button', disabled: true }, 'Next →');
  const pageInfo = h('span', { class: 'muted', 'aria-live': 'polite' });
  const editor = h('section', { class: 'card editor', id: 'editor', hidden: true, 'aria-labelledby': 'editor-title' });

  // cursors[i] is the cursor that fetches page i (page 0: none).
  let cursors = [''], pageNo = 0;

  async function load() {
    const body = { limit: Number(size.value) };
    if (cursors[pageNo]) body.cursor = cursors[pageNo];
    const { data, ms } = await post(`api/${ctx.seg(col)}/_find`, body);
    let cols = columns.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (!cols.length) {
      const seen = new Set(['_id']);
      for (const d of data.docs) for (const k of Object.keys(d)) if (seen.size < 6) seen.add(k);
      cols = [...seen];
    }
    thead.replaceChildren(h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)),
      cols[0] !== '_id' && h('th', { scope: 'col' }, h('span', { class: 'sr' }, 'Open'))));
    tbody.replaceChildren();
    if (!data.docs.length) tbody.append(h('tr', null, h('td', { colspan: cols.length + (cols[0] !== '_id' ? 1 : 0), class: 'empty' }, 'No documents.')));
    for (const d of data.docs) {
      tbody.append(h('tr', { 'data-id': d._id },
        cols.map((c, i) => i === 0 && c === '_id'
          ? h('th', { scope: 'row' }, h('button', { type: 'button', class: 'link', onclick: () => open(String(d._id)) }, cell(d._id)))
          : h('td', null, cell(getPath(d, c))))));
    }
    if (cols[0] !== '_id') {
      // Keep a way to open each document.
      [...tbody.rows].forEach((tr, i) => data.docs[i] && tr.append(h('td', null,
        h('button', { type: 'button', class: 'link', onclick: () => open(String(data.docs[i]._id)) }, 'Open'))));
    }
    cursors[pageNo + 1] = data.cursor || '';
    cursors.length = pageNo + 2;
    prev.disabled = pageNo === 0;
    next.disabled = !data.cursor;
    pageInfo.textContent = `Page ${pageNo + 1} · ${data.docs.length} documents · ${ms.toFixed(1)} ms`;
  }
  const reload = () => load().catch(ctx.error);
  prev.addEventListener('click', () => { pageNo--; reload(); });
  next.addEventListener('click', () => { pageNo++; reload(); });
  size.addEventListener('change', () => { cursors = ['']; pageNo = 0; reload(); });
  const colForm = h('form', { class: 'inline' }, field('Columns', columns, 'Comma-separated fields; dots reach nested ones.'), field('Per page', size),
    h('button', { type: 'submit' }, 'Show'));
  colForm.addEventListener('submit', (ev) => { ev.preventDefault(); sessionStorage.setItem(colsKey, columns.value); reload(); });

  // open shows a document in the editor (or a new one when id is null).
  async function open(id) {
    let text = '{\n  \n}', etag = null;
    if (id !== null) {
      try {
        const r = await get(`api/${ctx.seg(col)}/${ctx.docSeg(id)}`);
        text = pretty(r.text.trim());
        etag = r.etag;
      } catch (e) { ctx.error(e); return; }
    }
    const ro = !ctx.can('write');
    const ta = h('textarea', { id: 'doc-json', rows: 16, spellcheck: 'false', readOnly: ro, 'aria-invalid': 'false' });
    ta.value = text;
    const msg = h('p', { id: 'doc-msg', class: 'msg', 'aria-live': 'polite' });
    const say = (t, kind) => { msg.textContent = t; msg.className = 'msg ' + (kind || ''); };
    const check = () => {
      try {
        parseJSONInput('The document', ta.value, { allowEmpty: false });
        ta.setAttribute('aria-invalid', 'false');
        return true;
      } catch (e) {
        ta.setAttribute('aria-invalid', 'true');
        say(e.message, 'error');
        return false;
      }
    };
    ta.addEventListener('input', () => { if (ta.getAttribute('aria-invalid') === 'true' && check()) say(''); });
    const save = async () => {
      if (!check()) { ta.focus(); return; }
      const path = id === null ? `api/${ctx.seg(col)}?upsert=false` : `api/${ctx.seg(col)}/${ctx.docSeg(id)}`;
      try {
        // The text is sent as typed: numbers are never re-encoded.
        const r = await call(id === null ? 'POST' : 'PUT', path, { body: ta.value, headers: etag ? { 'If-Match': etag } : {} });
        say(`Saved (revision ${r.data.rev}).`, 'ok');
        ctx.status(`Saved ${r.data._id}.`);
        if (id === null) { id = r.data._id; title.textContent = 'Document ' + id; }
        etag = r.etag || `"${r.data.rev}"`;
        reload();
      } catch (e) {
        if (e instanceof ApiError && e.status === 412) {
          say('Conflict: this document was changed by someone else since you opened it. Your edit was not saved. ' +
            'Copy your changes, then Reload to see the current version.', 'error conflict');
        } else if (e instanceof ApiError && e.code === 'duplicate_key') {
          say(`A document with this _id already exists: ${e.message}`, 'error');
        } else { say(errText(e), 'error'); }
      }
    };
    const remove = async () => {
      if (!confirm(`Delete document ${id}?`)) return;
      try {
        await del(`api/${ctx.seg(col)}/${ctx.docSeg(id)}`, { headers: etag ? { 'If-Match': etag } : {} });
        ctx.status(`Deleted ${id}.`);
        editor.hidden = true;
        reload();
      } catch (e) {
        if (e instanceof ApiError && e.status === 412) say('Conflict: the document changed since you opened it; Reload, then delete.', 'error conflict');
        else say(errText(e), 'error');
      }
    };
    const title = h('h2', { id: 'editor-title' }, id === null ? 'New document' : 'Document ' + id);
    editor.replaceChildren(title,
      field(ro ? 'JSON (read-only key)' : 'JSON', ta),
      msg,
      h('div', { class: 'row' },
        !ro && h('button', { type: 'button', id: 'doc-save', onclick: save }, id === null ? 'Insert' : 'Save'),
        !ro && h('button', { type: 'button', onclick: () => { if (check()) { ta.value = pretty(ta.value.trim()); say('Valid JSON.', 'ok'); } } }, 'Validate'),
        id !== null && h('button', { type: 'button', id: 'doc-reload', onclick: () => open(id) }, 'Reload'),
        !ro && id !== null && h('button', { type: 'button', class: 'danger', id: 'doc-delete', onclick: remove }, 'Delete'),
        h('button', { type: 'button', id: 'doc-close', onclick: () => { editor.hidden = true; } }, 'Close')));
    editor.hidden = false;
    ta.focus();
  }

  root.append(colForm,
    h('div', { class: 'row' }, ctx.can('write') && h('button', { type: 'button', id: 'new-doc', onclick: () => open(null) }, 'Insert document'), prev, next, pageInfo),
    h('div', { class: 'split' },
      h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'docs' }, h('caption', { class: 'sr' }, 'Documents of ' + col), thead, tbody)),
      editor));
  await load();
}
