// DOM and formatting helpers.

// h builds an element: h('button', {type: 'button', onclick: f}, 'Save').
// Attributes starting with "on" are listeners; children are nodes or text.
export function h(tag, attrs, ...children) {
  const ns = tag.startsWith('svg:') ? 'http://www.w3.org/2000/svg' : null;
  const el = ns ? document.createElementNS(ns, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k in el && !ns && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

let uid = 0;
// field is a labelled input: field('Name', h('input', {...})).
export function field(label, input, hint) {
  if (!input.id) input.id = 'f' + (++uid);
  const parts = [h('label', { for: input.id }, label), input];
  if (hint) {
    const hid = input.id + '-hint';
    input.setAttribute('aria-describedby', hid);
    parts.push(h('small', { id: hid, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

export function bytes(n) {
  if (n == null || isNaN(n)) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(Math.round(n))) + ' ' + u[i];
}

export const num = (n) => n == null ? '–' : Number(n).toLocaleString('en');
export const ms = (v) => v < 10 ? v.toFixed(2) + ' ms' : Math.round(v) + ' ms';

// pretty indents JSON text without parsing its numbers, so integers
// beyond 2^53 are shown (and saved) exactly as the server sent them.
export function pretty(text, indent = '  ') {
  let out = '', depth = 0, inStr = false, esc = false;
  const nl = () => '\n' + indent.repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      out += c;
      if (esc) esc = false;
      else if (c === '\\') esc = true;
      else if (c === '"') inStr = false;
      continue;
    }
    switch (c) {
      case '"': inStr = true; out += c; break;
      case '{': case '[': {
        // Empty containers stay on one line.
        let j = i + 1;
        while (j < text.length && /\s/.test(text[j])) j++;
        if (text[j] === (c === '{' ? '}' : ']')) { out += c + text[j]; i = j; break; }
        depth++; out += c + nl(); break;
      }
      case '}': case ']': depth--; out += nl() + c; break;
      case ',': out += ',' + nl(); break;
      case ':': out += ': '; break;
      case ' ': case '\n': case '\r': case '\t': break;
      default: out += c;
    }
  }
  return out;
}

// cell renders a document field's value for a table cell.
export function cell(v) {
  if (v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 79) + '…' : s;
}

// getPath reads a dotted path from an object.
export function getPath(o, p) {
  let v = o;
  for (const k of p.split('.')) {
    if (v == null || typeof v !== 'object') return undefined;
    v = v[k];
  }
  return v;
}

// parseJSONInput checks a text box's JSON; it returns the value or throws
// an Error naming the box and the position.
export function parseJSONInput(name, text, { allowEmpty = true, object = true } = {}) {
  const t = text.trim();
  if (!t) {
    if (allowEmpty) return undefined;
    throw new Error(`${name} is empty`);
  }
  let v;
  try { v = JSON.parse(t); } catch (e) { throw new Error(`${name} is not valid JSON: ${e.message}`); }
  if (object && (v === null || typeof v !== 'object' || Array.isArray(v))) throw new Error(`${name} must be a JSON object`);
  return v;
}
