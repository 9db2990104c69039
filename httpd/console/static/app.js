// The console's shell: sign-in, the key's scope, navigation between the
// pages (#/page/collection) and the status line.
import { get, getKey, setKey, ApiError, errText, seg, docSeg } from './api.js';
import { h } from './util.js';
import * as collections from './page-collections.js';
import * as documents from './page-documents.js';
import * as query from './page-query.js';
import * as indexes from './page-indexes.js';
import * as live from './page-live.js';
import * as health from './page-health.js';
import * as backup from './page-backup.js';

const pages = { collections, documents, query, indexes, live, health, backup };
const RANK = { none: 0, read: 1, write: 2, admin: 3 };
const $ = (id) => document.getElementById(id);

let role = null;
let cleanup = null;
let routeGen = 0; // the latest navigation; an older render that ends late stops itself
let statusTimer = 0;

// status shows a message in the polite live region (errors assertively).
function status(msg, kind = 'ok') {
  const el = $('status');
  el.textContent = msg;
  el.className = 'status ' + kind;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  clearTimeout(statusTimer);
  if (kind !== 'error') statusTimer = setTimeout(clearStatus, 6000);
}

function clearStatus() {
  const el = $('status');
  el.textContent = '';
  el.className = 'status';
  el.setAttribute('role', 'status');
}

const ctx = {
  can: (scope) => RANK[role] >= RANK[scope],
  get role() { return role; },
  status,
  error: (e) => {
    if (e instanceof ApiError && e.status === 401) { signOut('The API key was refused (401). Sign in again.'); return; }
    status(errText(e), 'error');
  },
  // clearError takes down an error shown in the status line (a new attempt
  // has started).
  clearError: () => { if ($('status').classList.contains('error')) clearStatus(); },
  go: (hash) => { location.hash = hash; },
  // collections lists the collection names (for pickers).
  async collections() {
    const { data } = await get('api/_collections');
    return data;
  },
  // picker is a labelled <select> of the collections, current selected.
  async picker(current, onchange) {
    const sel = h('select', { id: 'col-picker', onchange: () => onchange(sel.value) });
    let cols = [];
    try { cols = await ctx.collections(); } catch (e) { ctx.error(e); }
    sel.append(h('option', { value: '' }, cols.length ? '— choose —' : '(no collections)'));
    for (const c of cols) sel.append(h('option', { value: c.name, selected: c.name === current }, c.name));
    return h('div', { class: 'field picker' }, h('label', { for: 'col-picker' }, 'Collection'), sel);
  },
  seg,
  docSeg,
};

function signOut(msg) {
  setKey('');
  role = null;
  showLogin(msg);
}

function showLogin(msg) {
  routeGen++;
  if (cleanup) { cleanup(); cleanup = null; }
  $('page').replaceChildren();
  $('nav').hidden = true;
  $('who').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = msg || '';
  $('key').value = '';
  $('key').focus();
}

// whoami asks the API for the key's scope; false when it is refused.
async function whoami() {
  try {
    const { data } = await get('api/_whoami');
    role = data.role;
    document.body.dataset.role = role;
    $('role').textContent = data.auth ? `${role} key` : 'no auth';
    $('role').title = data.auth ? `This API key has scope "${role}"` : 'The server runs without API keys';
    $('logout').hidden = !data.auth;
    return true;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 429)) {
      return e.status === 429 ? errText(e) : false;
    }
    throw e;
  }
}

async function route() {
  if (!role) return;
  const [, name = 'collections', ...rest] = location.hash.replace(/^#/, '').split('/');
  const page = pages[name] || pages.collections;
  const col = rest.length ? decodeURIComponent(rest.join('/')) : '';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    if (a.dataset.page !== 'collections' && a.dataset.page !== 'health' && a.dataset.page !== 'backup') {
      a.href = '#/' + a.dataset.page + (col ? '/' + seg(col) : '');
    }
  }
  if (cleanup) { cleanup(); cleanup = null; }
  if ($('status').classList.contains('error')) clearStatus(); // an error belongs to the page left
  const root = h('div', { class: 'page', 'data-page': name });
  $('page').replaceChildren(root);
  const gen = ++routeGen;
  try {
    const done = await page.render(root, ctx, col);
    if (gen !== routeGen) { // navigated away meanwhile: stop what it started
      if (done) done();
      return;
    }
    cleanup = done || null;
  } catch (e) {
    if (gen === routeGen) ctx.error(e);
  }
  // Move focus to the new page's heading after navigating from the menu
  // (screen readers announce it), not while a control of the page has it.
  const h1 = root.querySelector('h1');
  const from = document.activeElement;
  if (h1 && (!from || from === document.body || from.closest('#nav, #login'))) {
    h1.tabIndex = -1;
    h1.focus({ preventScroll: true });
  }
}

async function start() {
  let ok;
  try { ok = await whoami(); } catch (e) { showLogin(errText(e)); return; }
  if (ok !== true) { showLogin(getKey() ? (ok || 'The API key was refused.') : ''); return; }
  $('login').hidden = true;
  $('nav').hidden = false;
  $('who').hidden = false;
  await route();
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  setKey($('key').value.trim());
  $('key').value = '';
  await start();
});
$('logout').addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', route);
start();
