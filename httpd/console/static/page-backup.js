// Backup and restore: download a dump (GET /api/dumpDB, streamed to a
// file where the browser can) and upload one (POST /api/restoreDB, admin
// keys) with its progress.
import { authHeaders, ApiError, errText, serverURL } from './api.js';
import { h, field, bytes } from './util.js';

export async function render(root, ctx) {
  root.append(h('h1', null, 'Backup'));
  const dlState = h('p', { id: 'dump-state', class: 'msg', 'aria-live': 'polite' });
  const dlBtn = h('button', { type: 'button', id: 'dump' }, 'Download dump');
  dlBtn.addEventListener('click', async () => {
    dlBtn.disabled = true;
    const name = `minidbgo-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson`;
    try {
      let sink = null;
      if (window.showSaveFilePicker) {
        // Stream straight to the file: the dump never sits in memory.
        try {
          const handle = await window.showSaveFilePicker({ suggestedName: name });
          sink = await handle.createWritable();
        } catch (e) { if (e.name === 'AbortError') return; }
      }
      const res = await fetch(serverURL('api/dumpDB'), { headers: authHeaders(), cache: 'no-store', credentials: 'omit' });
      if (!res.ok) { let b = null; try { b = await res.json(); } catch { /* text */ } throw new ApiError(res.status, b); }
      let n = 0;
      const count = new TransformStream({ transform(chunk, c) { n += chunk.byteLength; dlState.textContent = `Downloading… ${bytes(n)}`; c.enqueue(chunk); } });
      const body = res.body.pipeThrough(count);
      if (sink) {
        await body.pipeTo(sink);
      } else {
        const blob = await new Response(body).blob();
        const url = URL.createObjectURL(blob);
        const a = h('a', { href: url, download: name });
        document.body.append(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      }
      dlState.textContent = `Downloaded ${bytes(n)} (${name}).`;
      dlState.className = 'msg ok';
    } catch (e) {
      dlState.textContent = 'The dump failed: ' + errText(e);
      dlState.className = 'msg error';
    } finally { dlBtn.disabled = false; }
  });
  root.append(h('section', { class: 'card', 'aria-labelledby': 'dump-title' },
    h('h2', { id: 'dump-title' }, 'Dump'),
    h('p', null, 'Every collection, its documents and indexes as NDJSON, read from one snapshot.'),
    dlBtn, dlState));

  if (!ctx.can('admin')) {
    root.append(h('p', { class: 'muted' }, 'Restoring a dump needs an admin key.'));
    return;
  }
  const file = h('input', { type: 'file', id: 'restore-file', accept: '.ndjson,.json,.jsonl,application/x-ndjson', required: true });
  const bar = h('progress', { id: 'restore-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const state = h('p', { class: 'msg', 'aria-live': 'polite', id: 'restore-state' });
  const form = h('form', { class: 'card stack', id: 'restore-form', 'aria-labelledby': 'restore-title' },
    h('h2', { id: 'restore-title' }, 'Restore'),
    h('p', null, 'Upserts the dump\u2019s documents and creates its indexes; documents not in the dump stay.'),
    field('Dump file', file), h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Restore'), bar), state);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) { file.reportValidity(); return; }
    if (!confirm(`Restore ${f.name} (${bytes(f.size)}) into this server?`)) return;
    // XMLHttpRequest reports upload progress; fetch does not.
    const xhr = new XMLHttpRequest();
    xhr.open('POST', serverURL('api/restoreDB'));
    authHeaders().forEach((v, k) => xhr.setRequestHeader(k, v));
    xhr.setRequestHeader('Content-Type', 'application/x-ndjson');
    bar.hidden = false; bar.max = f.size || 1; bar.value = 0;
    xhr.upload.onprogress = (e) => { bar.value = e.loaded; state.textContent = `Uploading… ${bytes(e.loaded)} of ${bytes(f.size)}`; };
    xhr.onload = () => {
      let b = null;
      try { b = JSON.parse(xhr.responseText); } catch { /* text */ }
      if (xhr.status >= 200 && xhr.status < 300) {
        state.textContent = `Restored ${b.collections} collections, ${b.documents} documents, ${b.indexes} indexes.`;
        state.className = 'msg ok';
      } else {
        state.textContent = 'The restore failed: ' + errText(new ApiError(xhr.status, b)) + (b && b.index != null ? ` at line ${b.index}` : '');
        state.className = 'msg error';
      }
    };
    xhr.onerror = () => { state.textContent = 'The upload failed (network).'; state.className = 'msg error'; };
    xhr.send(f);
  });
  root.append(form);
}
