/**
 * The web UI's script, served as /ui/app.js: plain browser JavaScript kept in a TS string so
 * `tsc` carries it into dist/ with no asset step. It builds the DOM with textContent only
 * (never innerHTML), so pipeline names, errors and row keys cannot inject markup.
 * Written without template literals: it lives inside one.
 */
export const APP_JS = String.raw`
'use strict';
var app = document.getElementById('app');
var crumbs = document.getElementById('crumbs');
var liveDot = document.getElementById('live');
var SVG = 'http://www.w3.org/2000/svg';
var COLORS = { added: '#2f9e5b', changed: '#2b6cb0', removed: '#dd8a1c', rejected: '#c53030' };
var renderSeq = 0;

function h(tag, attrs) {
  var el = document.createElement(tag);
  setAttrs(el, attrs);
  for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
  return el;
}
function s(tag, attrs) {
  var el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
  return el;
}
function setAttrs(el, attrs) {
  if (!attrs) return;
  Object.keys(attrs).forEach(function (k) {
    var v = attrs[k];
    if (v === undefined || v === null || v === false) return;
    if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, String(v));
  });
}
function append(el) {
  for (var i = 1; i < arguments.length; i++) appendOne(el, arguments[i]);
}
function appendOne(el, c) {
  if (c === undefined || c === null || c === false) return;
  if (Array.isArray(c)) { c.forEach(function (x) { appendOne(el, x); }); return; }
  el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
}

// --- talking to the API ---
function token() { return sessionStorage.getItem('outflow-token') || ''; }
function headers() { var t = token(); return t ? { authorization: 'Bearer ' + t } : {}; }
function api(path, opts) {
  opts = opts || {};
  opts.headers = Object.assign({ accept: 'application/json' }, headers(), opts.headers || {});
  return fetch(path, opts).then(function (res) {
    return res.json().catch(function () { return {}; }).then(function (body) {
      if (res.status === 401) { showTokenForm(); throw new Error(body.error || 'unauthorized'); }
      if (!res.ok && res.status !== 409) throw new Error(body.error || ('HTTP ' + res.status));
      body.httpStatus = res.status;
      return body;
    });
  });
}
function showTokenForm() {
  var input = h('input', { type: 'password', placeholder: 'OUTFLOW_TOKEN', autocomplete: 'off' });
  clear(app);
  append(app, h('div', { class: 'panel' },
    h('h1', { text: 'Token needed' }),
    h('p', { class: 'muted', text: 'This server requires the bearer token set in OUTFLOW_TOKEN.' }),
    h('form', { class: 'token', onsubmit: function (e) { e.preventDefault(); sessionStorage.setItem('outflow-token', input.value); route(); } },
      input, h('button', { type: 'submit', text: 'Continue' }))));
}

// --- formatting ---
function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
function badge(status) { return h('span', { class: 'badge ' + status, 'data-status': status, text: status }); }
function num(n) { return (n === undefined || n === null) ? '–' : Number(n).toLocaleString('en-US'); }
function ms(n) {
  if (n === undefined || n === null) return '–';
  if (n < 1000) return n + ' ms';
  if (n < 60000) return (n / 1000).toFixed(2) + ' s';
  return Math.floor(n / 60000) + ' min ' + Math.round((n % 60000) / 1000) + ' s';
}
function when(iso) {
  if (!iso) return '–';
  var d = new Date(iso);
  var diff = (Date.now() - d.getTime()) / 1000;
  var abs = Math.abs(diff);
  var rel = abs < 60 ? Math.round(abs) + ' s' : abs < 3600 ? Math.round(abs / 60) + ' min' : abs < 86400 ? Math.round(abs / 3600) + ' h' : Math.round(abs / 86400) + ' d';
  var text = diff >= 0 ? rel + ' ago' : 'in ' + rel;
  return h('span', { title: d.toLocaleString(), text: text });
}
function scheduleText(sc) {
  if (!sc) return 'manual only';
  if (sc.cron) return 'cron ' + sc.cron + (sc.timezone ? ' (' + sc.timezone + ')' : '');
  var e = sc.everyMs;
  return 'every ' + (e % 3600000 === 0 ? e / 3600000 + ' h' : e % 60000 === 0 ? e / 60000 + ' min' : e % 1000 === 0 ? e / 1000 + ' s' : e + ' ms');
}
function countsText(c) {
  if (!c) return '';
  return ['added', 'changed', 'removed', 'rejected'].map(function (k) { return k + ' ' + num(c[k] || 0); }).join(' · ');
}
function keyText(key) {
  return Object.keys(key || {}).map(function (k) { return k + '=' + JSON.stringify(key[k]); }).join(', ');
}
function short(t, n) { t = String(t); return t.length > n ? t.slice(0, n - 1) + '…' : t; }
function pipeHref(name) { return '/pipelines/' + encodeURIComponent(name); }
function runHref(name, id) { return pipeHref(name) + '/runs/' + id; }
function link(href, text) {
  return h('a', { href: href, text: text, onclick: function (e) {
    if (e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault(); history.pushState(null, '', href); route();
  } });
}
function setCrumbs(parts) {
  clear(crumbs);
  parts.forEach(function (p, i) { if (i) append(crumbs, ' / '); append(crumbs, p); });
}
function runNowButton(p, after) {
  var running = !!p.running;
  var b = h('button', { 'data-action': 'run-now', disabled: !p.valid || running, text: running ? 'Running…' : 'Run now' });
  b.addEventListener('click', function () {
    b.disabled = true; b.textContent = 'Starting…';
    api('/api/pipelines/' + encodeURIComponent(p.name) + '/runs', { method: 'POST' }).then(function (r) {
      if (r.httpStatus === 409) { b.textContent = 'Already running'; return; }
      if (after) after(r); else route();
    }).catch(function (e) { b.disabled = false; b.textContent = 'Run now'; alert(e.message); });
  });
  return b;
}

// --- pages ---
function pipelinesPage(seq) {
  setCrumbs(['pipelines']);
  return api('/api/pipelines').then(function (data) {
    if (seq !== renderSeq) return;
    var rows = data.pipelines.map(function (p) {
      var status = !p.valid ? 'invalid' : p.running ? 'running' : p.lastRun ? p.lastRun.status : 'never';
      return h('tr', { 'data-pipeline': p.name },
        h('td', null, link(pipeHref(p.name), p.name), p.description ? h('div', { class: 'muted', text: p.description }) : null,
          p.valid ? null : h('div', { class: 'error', text: p.error })),
        h('td', { class: 'nowrap' }, badge(status)),
        h('td', null, p.lastRun ? [link(runHref(p.name, p.lastRun.id), 'run ' + p.lastRun.id), ' ', when(p.lastRun.startedAt),
          h('div', { class: 'muted', text: countsText(p.lastRun.counts) })] : '–'),
        h('td', { class: 'nowrap' }, p.nextRun ? when(p.nextRun) : '–', h('div', { class: 'muted', text: p.valid ? scheduleText(p.schedule) : '' })),
        h('td', null, p.valid ? h('span', { class: 'muted', text: p.destination }) : null),
        h('td', null, runNowButton(p)));
    });
    clear(app);
    append(app, h('h1', { text: 'Pipelines' }),
      h('p', { class: 'muted', text: data.pipelines.length + ' pipeline' + (data.pipelines.length === 1 ? '' : 's') + ' loaded' }),
      h('table', { id: 'pipelines' },
        h('thead', null, h('tr', null, ['Pipeline', 'Status', 'Last run', 'Next run', 'Destination', ''].map(function (t) { return h('th', { text: t }); }))),
        h('tbody', null, rows)));
  });
}

function pipelinePage(seq, name, page) {
  setCrumbs([link('/', 'pipelines'), name]);
  var enc = encodeURIComponent(name);
  var limit = 20;
  return Promise.all([
    api('/api/pipelines/' + enc),
    api('/api/pipelines/' + enc + '/runs?limit=' + limit + '&offset=' + page * limit),
    api('/api/pipelines/' + enc + '/runs?limit=40'),
    api('/api/pipelines/' + enc + '/config'),
  ]).then(function (r) {
    if (seq !== renderSeq) return;
    var p = r[0], runs = r[1], recent = r[2], config = r[3];
    clear(app);
    var status = !p.valid ? 'invalid' : p.running ? 'running' : p.lastRun ? p.lastRun.status : 'never';
    append(app,
      h('div', { class: 'row' }, h('h1', { text: p.name }), badge(status), h('span', { class: 'spacer' }), p.valid ? runNowButton(p) : null),
      p.description ? h('p', { class: 'muted', text: p.description }) : null,
      p.valid ? h('p', { class: 'muted' }, p.file + ' · mode ' + p.mode + ' · key ' + p.primaryKey.join(', ') + ' · ' + scheduleText(p.schedule) +
        (p.nextRun ? ' · next run ' : ''), p.nextRun ? when(p.nextRun) : null) : h('div', { class: 'errorbox', text: p.error }),
      p.running ? h('p', { class: 'progress' }, 'Run ', link(runHref(p.name, p.running.runId), String(p.running.runId)), ' is going: ' + (p.running.stage || 'starting')) : null);
    if (p.valid) {
      append(app, h('h2', { text: 'Flow' }), h('div', { class: 'panel' }, graph(p)));
      append(app, h('h2', { text: 'Rows per run' }), h('div', { class: 'panel' }, chart(recent.runs.slice().reverse())));
      append(app, h('h2', { text: 'Run history' }), runTable(p.name, runs.runs),
        pager(page, limit, runs.total, function (n) { history.pushState(null, '', pipeHref(name) + (n ? '?page=' + n : '')); route(); }));
    }
    append(app, h('h2', { text: 'Configuration' }), h('p', { class: 'muted', text: config.file + ' (secrets redacted)' }), h('pre', { class: 'config', id: 'config', text: config.text }));
  });
}

function runTable(name, runs) {
  if (!runs.length) return h('p', { class: 'muted', text: 'No runs yet.' });
  return h('table', { id: 'runs' },
    h('thead', null, h('tr', null, ['Run', 'Status', 'Trigger', 'Started', 'Duration', 'Read', 'Added', 'Changed', 'Removed', 'Rejected'].map(function (t, i) {
      return h('th', { class: i >= 4 ? 'num' : null, text: t });
    }))),
    h('tbody', null, runs.map(function (run) {
      var c = run.counts || {};
      return h('tr', { 'data-run': run.id },
        h('td', null, link(runHref(name, run.id), String(run.id))),
        h('td', null, badge(run.status), run.error ? h('div', { class: 'error', title: run.error, text: short(run.error, 90) }) : null),
        h('td', { text: run.trigger }),
        h('td', null, when(run.startedAt)),
        h('td', { class: 'num', text: ms(run.durationMs) }),
        ['read', 'added', 'changed', 'removed', 'rejected'].map(function (k) { return h('td', { class: 'num', text: num(c[k]) }); }));
    })));
}

function pager(page, limit, total, go) {
  var pages = Math.max(1, Math.ceil(total / limit));
  if (pages <= 1) return null;
  return h('div', { class: 'pager' },
    h('button', { class: 'secondary', disabled: page <= 0, onclick: function () { go(page - 1); }, text: '‹ Newer' }),
    h('span', { class: 'muted', text: 'page ' + (page + 1) + ' of ' + pages + ' (' + total + ')' }),
    h('button', { class: 'secondary', disabled: page >= pages - 1, onclick: function () { go(page + 1); }, text: 'Older ›' }));
}

// The flow as boxes: before actions → source → model → diff → destination → after / on success / on failure.
function graph(p) {
  var W = 1000, H = 250, bw = 200, bh = 64, y = 92, gap = (W - 4 * bw) / 3;
  var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', role: 'img', 'aria-label': 'pipeline flow', id: 'graph' });
  append(svg, s('defs', null, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#718096' }))));
  var nodes = [
    { title: 'Source', lines: [p.source.type, p.source.model] },
    { title: 'Model', lines: ['key ' + p.primaryKey.join(', '), p.source.model] },
    { title: 'Diff', lines: ['vs last delivered snapshot', 'mode ' + p.mode] },
    { title: 'Destination', lines: [p.destination] },
  ];
  nodes.forEach(function (n, i) {
    var x = i * (bw + gap);
    append(svg, box(x, y, bw, bh, n.title, n.lines, '#ebf4ff', '#2457c5'));
    if (i < nodes.length - 1) append(svg, s('line', { x1: x + bw, y1: y + bh / 2, x2: x + bw + gap - 2, y2: y + bh / 2, stroke: '#718096', 'stroke-width': 2, 'marker-end': 'url(#arrow)' }));
  });
  var destX = 3 * (bw + gap);
  var hooks = [
    { key: 'before', title: 'Before', x: 0, y: 4, toX: bw / 2, toY: y },
    { key: 'on_success', title: 'On success', x: W - 3 * 165 + 5, y: H - 62, toX: destX + 40, toY: y + bh },
    { key: 'on_failure', title: 'On failure', x: W - 2 * 165 + 5, y: H - 62, toX: destX + 100, toY: y + bh },
    { key: 'after', title: 'After', x: W - 165 + 5, y: H - 62, toX: destX + 160, toY: y + bh },
  ];
  hooks.forEach(function (hk) {
    var list = (p.actions && p.actions[hk.key]) || [];
    var lines = list.length ? list.map(function (a) { return a.name + (a.on === 'source' ? ' (on source)' : ''); }) : ['no actions'];
    var w = hk.key === 'before' ? bw : 155;
    var fill = hk.key === 'on_failure' ? '#fff5f5' : '#f7fafc';
    var strokeC = list.length ? (hk.key === 'on_failure' ? '#c53030' : '#4a5568') : '#cbd5e0';
    append(svg, s('line', { x1: hk.x + w / 2, y1: hk.key === 'before' ? hk.y + 52 : hk.y, x2: hk.toX, y2: hk.toY,
      stroke: strokeC, 'stroke-width': 1.5, 'stroke-dasharray': '4 3' }));
    append(svg, box(hk.x, hk.y, w, 52, hk.title, lines.slice(0, 2).concat(lines.length > 2 ? ['+' + (lines.length - 2) + ' more'] : []), fill, strokeC, list.length === 0));
  });
  return svg;
}
function box(x, y, w, hgt, title, lines, fill, stroke, faint) {
  var g = s('g', { 'data-node': title });
  append(g, s('rect', { x: x + 1, y: y + 1, width: w - 2, height: hgt - 2, rx: 8, fill: fill, stroke: stroke, 'stroke-width': 1.5 }));
  append(g, s('text', { x: x + 12, y: y + 20, 'font-size': 14, 'font-weight': 700, fill: faint ? '#a0aec0' : '#1c2330', text: title }));
  lines.slice(0, 3).forEach(function (l, i) {
    var t = s('text', { x: x + 12, y: y + 38 + i * 15, 'font-size': 12, fill: faint ? '#a0aec0' : '#4a5568', text: short(l, Math.floor(w / 7)) });
    append(t, s('title', { text: l }));
    append(g, t);
  });
  return g;
}

// Rows added / changed / removed / rejected per run, oldest left: grouped bars.
function chart(runs) {
  runs = runs.filter(function (r) { return r.status !== 'skipped'; });
  if (!runs.length) return h('p', { class: 'muted', text: 'No runs yet.' });
  var kinds = ['added', 'changed', 'removed', 'rejected'];
  var W = 1000, H = 220, left = 56, bottom = 28, top = 10;
  var max = 1;
  runs.forEach(function (r) { kinds.forEach(function (k) { max = Math.max(max, (r.counts || {})[k] || 0); }); });
  var plotW = W - left - 8, plotH = H - top - bottom, slot = plotW / runs.length, bw = Math.max(2, Math.min(14, (slot - 6) / 4));
  var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', role: 'img', 'aria-label': 'rows per run', id: 'chart' });
  [0, 0.5, 1].forEach(function (f) {
    var yy = top + plotH * (1 - f);
    append(svg, s('line', { x1: left, x2: W - 8, y1: yy, y2: yy, stroke: '#e2e8f0' }));
    append(svg, s('text', { x: left - 6, y: yy + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#718096', text: num(Math.round(max * f)) }));
  });
  runs.forEach(function (r, i) {
    var x0 = left + i * slot + (slot - bw * 4) / 2;
    kinds.forEach(function (k, j) {
      var v = (r.counts || {})[k] || 0;
      var bh = v ? Math.max(1, plotH * v / max) : 0;
      var rect = s('rect', { x: x0 + j * bw, y: top + plotH - bh, width: bw - 1, height: bh, fill: COLORS[k] });
      append(rect, s('title', { text: 'run ' + r.id + ': ' + num(v) + ' ' + k }));
      append(svg, rect);
    });
    if (runs.length <= 20 || i % Math.ceil(runs.length / 20) === 0) {
      append(svg, s('text', { x: left + i * slot + slot / 2, y: H - 10, 'text-anchor': 'middle', 'font-size': 11, fill: '#718096', text: '#' + r.id }));
    }
  });
  var legend = h('div', { class: 'legend' }, kinds.map(function (k) { return h('span', null, h('i', { style: null, 'data-color': k }), k); }));
  legend.querySelectorAll('i').forEach(function (i) { i.style.background = COLORS[i.getAttribute('data-color')]; });
  return h('div', null, svg, legend);
}

function runPage(seq, name, id, rpage) {
  setCrumbs([link('/', 'pipelines'), link(pipeHref(name), name), 'run ' + id]);
  var limit = 50;
  return api('/api/pipelines/' + encodeURIComponent(name) + '/runs/' + id + '?rejected_limit=' + limit + '&rejected_offset=' + rpage * limit).then(function (run) {
    if (seq !== renderSeq) return;
    var c = run.counts || {};
    clear(app);
    append(app,
      h('div', { class: 'row' }, h('h1', { text: 'Run ' + run.id + ' of ' + run.pipeline }), badge(run.status)),
      run.progress ? h('p', { class: 'progress', id: 'progress', text: 'Running: ' + (run.progress.stage || 'starting') +
        (run.progress.total ? ' (' + num(run.progress.rows) + ' of ' + num(run.progress.total) + ' rows)' : run.progress.rows ? ' (' + num(run.progress.rows) + ' rows)' : '') }) : null,
      run.error ? h('div', { class: 'errorbox', id: 'run-error', text: run.error }) : null,
      h('dl', { class: 'kv panel' },
        h('dt', { text: 'Trigger' }), h('dd', { text: run.trigger }),
        h('dt', { text: 'Started' }), h('dd', null, new Date(run.startedAt).toLocaleString(), ' (', when(run.startedAt), ')'),
        h('dt', { text: 'Duration' }), h('dd', { text: ms(run.durationMs) }),
        h('dt', { text: 'Mode' }), h('dd', { text: run.mode + (run.syncKind ? ', ' + run.syncKind + ' sync' : '') + (run.fullReason ? ' (' + run.fullReason + ')' : '') })),
      h('h2', { text: 'Counts' }),
      h('div', { class: 'counts', id: 'counts' }, ['read', 'added', 'changed', 'removed', 'sent', 'inserted', 'updated', 'deleted', 'unchanged', 'rejected'].map(function (k) {
        return h('div', { class: 'count ' + k, 'data-count': k }, h('div', { class: 'v', text: num(c[k] || 0) }), h('div', { class: 'k', text: k }));
      })),
      h('h2', { text: 'Stage timings' }), stageTable(run.stages || []),
      h('h2', { text: 'Rejected rows (' + num(run.rejected.total) + ')' }),
      run.rejected.total ? h('table', { id: 'rejected' },
        h('thead', null, h('tr', null, h('th', { text: 'Key' }), h('th', { text: 'Column' }), h('th', { text: 'Reason' }))),
        h('tbody', null, run.rejected.rows.map(function (r) {
          return h('tr', null, h('td', { text: keyText(r.key) }), h('td', { text: r.column || '–' }), h('td', { class: 'error', text: r.reason }));
        }))) : h('p', { class: 'muted', text: 'None.' }),
      pager(rpage, limit, run.rejected.total, function (n) { history.pushState(null, '', runHref(name, id) + (n ? '?page=' + n : '')); route(); }));
  });
}

function stageTable(stages) {
  if (!stages.length) return h('p', { class: 'muted', text: 'No stage finished yet.' });
  var max = Math.max.apply(null, stages.map(function (st) { return st.ms; }).concat([1]));
  return h('table', { id: 'stages' },
    h('thead', null, h('tr', null, h('th', { text: 'Stage' }), h('th', { class: 'num', text: 'Time' }), h('th', { class: 'barcell', text: '' }))),
    h('tbody', null, stages.map(function (st) {
      var bar = h('div', { class: 'bar' });
      bar.style.width = Math.max(0.5, 100 * st.ms / max) + '%';
      return h('tr', null, h('td', { text: st.stage }), h('td', { class: 'num', text: ms(st.ms) }), h('td', { class: 'barcell' }, bar));
    })));
}

// --- routing and live status ---
function route() {
  var seq = ++renderSeq;
  var path = location.pathname;
  var page = Number(new URLSearchParams(location.search).get('page') || 0) || 0;
  var m;
  var done;
  if ((m = /^\/pipelines\/([^/]+)\/runs\/(\d+)$/.exec(path))) done = runPage(seq, decodeURIComponent(m[1]), Number(m[2]), page);
  else if ((m = /^\/pipelines\/([^/]+)$/.exec(path))) done = pipelinePage(seq, decodeURIComponent(m[1]), page);
  else done = pipelinesPage(seq);
  return done.then(function () { document.title = 'outflow · ' + (crumbs.textContent || 'pipelines'); }).catch(function (e) {
    if (seq !== renderSeq || /unauthorized/.test(e.message)) return;
    clear(app);
    append(app, h('div', { class: 'errorbox', text: e.message }));
  });
}

var refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(function () { refreshTimer = null; route(); }, 250);
}

// Live status: the server-sent events of /api/events, read with fetch so the bearer token
// can go in a header; reconnects after a pause when the stream ends.
function listen() {
  fetch('/api/events', { headers: headers() }).then(function (res) {
    if (!res.ok || !res.body) throw new Error('no event stream');
    liveDot.classList.add('on');
    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var buf = '';
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) throw new Error('event stream ended');
        buf += decoder.decode(chunk.value, { stream: true });
        var parts = buf.split('\n\n');
        buf = parts.pop();
        if (parts.some(function (p) { return /^data:/m.test(p); })) refreshSoon();
        return pump();
      });
    }
    return pump();
  }).catch(function () {
    liveDot.classList.remove('on');
    setTimeout(listen, 3000);
  });
}

window.addEventListener('popstate', route);
route();
listen();
`;
