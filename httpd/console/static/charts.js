// Small hand-written SVG line charts.
import { h } from './util.js';

const W = 320, H = 140, PAD = { l: 58, r: 8, t: 10, b: 18 };

// Chart draws series of samples (numbers, or null for a gap) over the
// same time axis, with an optional horizontal limit line.
export class Chart {
  // minMax is the least top of the y axis (counts of a few look flat
  // rather than noisy).
  constructor(title, fmt, names, minMax = 0) {
    this.fmt = fmt;
    this.minMax = minMax;
    this.names = names;
    this.svg = h('svg:svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title, 'data-draws': '0' });
    this.legend = h('p', { class: 'legend' });
    this.el = h('figure', { class: 'card chart-card' }, h('figcaption', null, title), this.svg, this.legend);
    this.draws = 0;
  }

  // draw redraws from series [[v, …], …] (one array per name) and
  // limits [[label, value], …], drawn as dashed lines when they are
  // within reach of the data (a host's memory would flatten everything).
  draw(series, limits = []) {
    const all = series.flat().filter((v) => v != null && isFinite(v));
    let max = Math.max(this.minMax, 1e-9, ...all) * 1.15;
    limits = limits.filter(([, v]) => v > 0);
    const shown = limits.filter(([, v]) => v < max * 10);
    for (const [, v] of shown) max = Math.max(max, v * 1.05);
    const n = Math.max(2, ...series.map((s) => s.length));
    const x = (i) => PAD.l + (W - PAD.l - PAD.r) * (i / (n - 1));
    const y = (v) => H - PAD.b - (H - PAD.t - PAD.b) * (v / max);
    const kids = [];
    for (const f of [0, 0.5, 1]) {
      const v = max * f;
      kids.push(h('svg:line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: 'grid' }),
        h('svg:text', { x: PAD.l - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, this.fmt(v)));
    }
    for (const [label, v] of shown) {
      kids.push(h('svg:line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: 'limit' }),
        h('svg:text', { x: W - PAD.r, y: y(v) - 3, 'text-anchor': 'end', class: 'axis' }, `${label} ${this.fmt(v)}`));
    }
    series.forEach((s, k) => {
      let d = '', pen = false;
      s.forEach((v, i) => {
        if (v == null || !isFinite(v)) { pen = false; return; }
        // A lone sample shows as a dot (round caps on a tiny segment).
        d += (pen ? 'L' : 'M') + x(i + n - s.length).toFixed(1) + ',' + y(v).toFixed(1) + (pen ? '' : 'h0.01');
        pen = true;
      });
      if (d) kids.push(h('svg:path', { d, class: 'line s' + k, 'data-series': this.names[k] }));
    });
    kids.push(h('svg:text', { x: PAD.l, y: H - 4, class: 'axis' }, 'older'), h('svg:text', { x: W - PAD.r, y: H - 4, 'text-anchor': 'end', class: 'axis' }, 'now'));
    this.svg.replaceChildren(...kids);
    const last = series.map((s) => s.length ? s[s.length - 1] : null);
    this.legend.replaceChildren(...this.names.map((name, k) =>
      h('span', { class: 'key s' + k }, `${name}: ${last[k] == null ? '–' : this.fmt(last[k])}`)),
    ...limits.map(([label, v]) => h('span', { class: 'key limit' }, `${label}: ${this.fmt(v)}`)));
    this.svg.setAttribute('aria-label', this.el.querySelector('figcaption').textContent + ': ' +
      this.names.map((name, k) => `${name} ${last[k] == null ? 'no data' : this.fmt(last[k])}`).join(', '));
    this.draws++;
    this.svg.setAttribute('data-draws', String(this.draws));
  }
}
