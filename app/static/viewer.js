/* CLIP-VIS Studio viewer: the frame with its masks, playback, zoom and pan,
 * the brush, click to track, the timeline and the track list, drawn in the browser.
 *
 * Runs as the js_on_load of app/viewer/component.py (element, props, trigger,
 * watch come from Gradio's gr.HTML). Frames (JPEG) and overlays (PNG) come
 * from the plain HTTP routes of app/viewer/routes.py, under the session's
 * token; they are prefetched ahead, so stepping and playing never wait for a
 * Gradio round trip. The value (props.value) carries what the user sees back
 * to the server: frame, selected track, revision. Every user-supplied text
 * (class names) is set with textContent or drawn with fillText, never parsed
 * as HTML.
 */
function createStudioViewer(element, props, trigger, watch) {
  'use strict';
  const CACHE_BYTES = 256 * 2 ** 20;  // decoded frames and overlays kept in the page (then the HTTP cache)
  const MAX_INFLIGHT = 6;       // parallel fetches (the browser allows 6 per host)
  const AHEAD_STEP = 8, BEHIND_STEP = 4, AHEAD_PLAY = 30;
  const ROW_H = 16, LABEL_W = 96, RULER_H = 18;
  const MAX_ZOOM = 16;
  const POLL_MS = 3000;

  const icon = (d) => `<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path d="${d}" fill="currentColor"/></svg>`;
  const ICONS = {
    first: icon('M3 3h2v10H3zM13 3v10L6 8z'), prev: icon('M11 3v10L4 8z'), play: icon('M5 3v10l8-5z'),
    pause: icon('M4 3h3v10H4zM9 3h3v10H9z'), next: icon('M5 3v10l7-5z'), last: icon('M11 3h2v10h-2zM3 3v10l7-5z'),
  };
  const root = element.querySelector('.cv-root') || element;
  root.innerHTML = `
    <div class="cv-main">
      <div class="cv-stage" tabindex="0" aria-label="Video frame: click an instance to select it">
        <canvas class="cv-canvas"></canvas>
        <div class="cv-empty">Load a video (or resume a session) to start.</div>
        <div class="cv-float">
          <button type="button" data-act="zoom-out" title="Zoom out (-)" aria-label="Zoom out">−</button>
          <span class="cv-zoom">100%</span>
          <button type="button" data-act="zoom-in" title="Zoom in (+; or the mouse wheel)" aria-label="Zoom in">+</button>
          <button type="button" data-act="fit" title="Fit the frame (0)">Fit</button>
          <button type="button" data-act="brush" class="cv-brush-toggle" title="Brush: paint the selected mask on this frame (b)">Brush</button>
          <button type="button" data-act="click" class="cv-click-toggle" title="Click to track: click an object to segment it, then Track it through the video (c)">Click to track</button>
          <button type="button" data-act="help" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">?</button>
        </div>
        <div class="cv-status" aria-live="polite"></div>
      </div>
      <div class="cv-bar">
        <button type="button" data-act="first" title="First frame (Home)" aria-label="First frame">${ICONS.first}</button>
        <button type="button" data-act="prev" title="Previous frame (←; Shift+← 10 back)" aria-label="Previous frame">${ICONS.prev}</button>
        <button type="button" data-act="play" class="cv-play" title="Play / pause (Space)" aria-label="Play">${ICONS.play}</button>
        <button type="button" data-act="next" title="Next frame (→; Shift+→ 10 on)" aria-label="Next frame">${ICONS.next}</button>
        <button type="button" data-act="last" title="Last frame (End)" aria-label="Last frame">${ICONS.last}</button>
        <input type="range" class="cv-scrub" min="0" max="0" step="1" value="0" aria-label="Frame">
        <span class="cv-frame">–</span>
      </div>
      <div class="cv-brushbar" hidden>
        <span class="cv-brush-title"></span>
        <button type="button" data-act="tool-paint" class="cv-tool" title="Paint (b)">Paint</button>
        <button type="button" data-act="tool-erase" class="cv-tool" title="Erase (e)">Erase</button>
        <label>size <input type="range" class="cv-size" min="1" max="80" step="1" value="12"></label>
        <button type="button" data-act="apply" class="cv-apply" title="Apply the strokes (Enter)">Apply</button>
        <button type="button" data-act="discard" title="Discard the strokes (Esc)">Discard</button>
        <span class="cv-brush-hint">drag to paint · right-drag pans · wheel zooms</span>
      </div>
      <div class="cv-clickbar" hidden>
        <span class="cv-click-title"></span>
        <label class="cv-replace" hidden><input type="checkbox" class="cv-replace-box"> <span class="cv-replace-text"></span></label>
        <button type="button" data-act="click-track" class="cv-apply cv-track" title="Track the object through the video (Enter)">Track ▶</button>
        <button type="button" data-act="click-clear" title="Clear the prompt (Esc)">Clear</button>
        <span class="cv-brush-hint">click: on the object · shift/alt/right-click: not on it · drag: a box · wheel zooms</span>
      </div>
      <div class="cv-timeline">
        <canvas class="cv-ruler" title="Click to go to a frame"></canvas>
        <div class="cv-tl-scroll"><canvas class="cv-rows"></canvas></div>
        <div class="cv-tip" hidden></div>
      </div>
    </div>
    <div class="cv-side">
      <div class="cv-side-head"><span>Tracks</span><span class="cv-count"></span></div>
      <div class="cv-list" role="listbox" aria-label="Tracks"></div>
      <div class="cv-top">
        <div class="cv-top-head"></div>
        <div class="cv-top-rows"></div>
      </div>
    </div>`;
  const $ = (sel) => root.querySelector(sel);
  const stage = $('.cv-stage'), canvas = $('.cv-canvas'), ctx = canvas.getContext('2d');
  const statusEl = $('.cv-status'), emptyEl = $('.cv-empty');
  const scrub = $('.cv-scrub'), frameLabel = $('.cv-frame'), zoomLabel = $('.cv-zoom'), playBtn = $('.cv-play');
  const ruler = $('.cv-ruler'), rows = $('.cv-rows'), tlScroll = $('.cv-tl-scroll'), tip = $('.cv-tip');
  const list = $('.cv-list'), countEl = $('.cv-count'), topHead = $('.cv-top-head'), topRows = $('.cv-top-rows');
  const brushBar = $('.cv-brushbar'), brushTitle = $('.cv-brush-title'), sizeInput = $('.cv-size');
  const clickBar = $('.cv-clickbar'), clickTitle = $('.cv-click-title'), replaceLabel = $('.cv-replace');
  const replaceBox = $('.cv-replace-box'), replaceText = $('.cv-replace-text');

  // ---- state ------------------------------------------------------------------
  const S = {
    src: null, rev: -1, key: null, n: 0, fps: 0, w: 0, h: 0,
    frame: 0, selected: null, lastCmd: null, keep: 64, pendingSelect: null,
    doc: null, byId: new Map(), docKey: null,
    cache: new Map(),          // frame -> entry {frame, ov, sel}
    inflight: new Map(), queue: [],
    shown: null,               // the entry on screen (kept until the next one is ready: no flashing)
    playing: false, clock: null,
    zoom: 1, panX: 0, panY: 0, fit: 1,
    brush: null,               // {tool, size, frame, track, add, erase, dirty}
    click: null,               // click to track: {id, frame, points [[x, y, 1|0]], box, mask {frame, bmp, hl}, busy, again}
    drag: null, pointer: null,
    stats: {paints: [], steps: []},
  };
  let statusTimer = null;

  function status(text, ms = 4000) {
    statusEl.textContent = text || '';
    statusEl.hidden = !text;
    clearTimeout(statusTimer);
    if (text && ms) statusTimer = setTimeout(() => { statusEl.textContent = ''; statusEl.hidden = true; }, ms);
  }

  // ---- the value shared with the server -----------------------------------------
  function publish() {
    // What every edit handler reads: the frame shown, the selection, the revision.
    const v = props.value || {};
    props.value = {...v, frame: S.frame, selected: S.selected, rev: S.rev, key: S.key};
    root.dataset.frame = String(S.frame);
    root.dataset.selected = S.selected == null ? '' : String(S.selected);
    root.dataset.rev = String(S.rev);
  }

  function fromServer() {
    const v = props.value || {};
    if (!v.src) { reset(null); publish(); return; }
    if (v.src !== S.src) reset(v);
    else Object.assign(S, {n: v.n, fps: v.fps, w: v.w, h: v.h});
    if (v.rev > S.rev || (v.rev === S.rev && v.key !== S.key)) adopt(v.rev, v.key);
    const cmd = v.cmd;
    if (cmd && cmd.id !== S.lastCmd) {
      S.lastCmd = cmd.id;
      if (S.tracking) { S.tracking = false; status(''); }  // a Track's answer: its message says what happened
      if ('select' in cmd) {
        // A track the edit just made is not in the list until its new state is fetched: select it then.
        if (cmd.select != null && !S.byId.has(Number(cmd.select))) S.pendingSelect = Number(cmd.select);
        else select(cmd.select, {quiet: true});
      }
      if (cmd.seek != null) seek(cmd.seek);
    }
    publish();
    show();
  }

  function reset(v) {
    stop();
    for (const e of S.cache.values()) release(e);
    S.cache.clear(); S.queue = []; S.inflight.clear(); S.shown = null;
    S.doc = null; S.byId = new Map(); S.docKey = null; S.brush = null; S.click = null;
    Object.assign(S, {src: v ? v.src : null, rev: -1, key: null, n: v ? v.n : 0, fps: v ? v.fps : 0,
                      w: v ? v.w : 0, h: v ? v.h : 0, frame: 0, selected: null, zoom: 1, panX: 0, panY: 0});
    // As many decoded frames as fit the budget (a frame and its overlay, 4 bytes a pixel each),
    // never fewer than playback prefetches.
    S.keep = Math.max(AHEAD_PLAY + 8, Math.min(160, Math.floor(CACHE_BYTES / Math.max(1, S.w * S.h * 8))));
    emptyEl.hidden = !!S.src;
    root.classList.toggle('cv-loaded', !!S.src);
    scrub.max = String(Math.max(S.n - 1, 0));
    brushBar.hidden = true; clickBar.hidden = true;
    root.classList.remove('cv-brushing', 'cv-clicking');
    renderList(); renderTop(); layout();
  }

  // A newer state of the session (an edit here, in another tab, or a run).
  function adopt(rev, key) {
    if (rev < S.rev || key === S.key) return;
    S.rev = rev; S.key = key;
    loadDoc();
    const t = S.frame;
    load(t, true);
    prefetch(t, AHEAD_STEP, BEHIND_STEP);
  }

  function loadDoc() {
    const key = S.key, src = S.src;
    fetch(`${src}/tracks`).then(r => {
      if (!r.ok) throw new Error(r.status === 410 ? 'This session is no longer open on the server: reload the page.' : `HTTP ${r.status}`);
      noteState(r);
      return r.json();
    }).then(doc => {
      if (src !== S.src || doc.rev < (S.doc ? S.doc.rev : -1)) return;
      S.doc = doc; S.docKey = doc.key;
      S.byId = new Map(doc.tracks.map(t => [t.id, t]));
      if (S.selected != null && !S.byId.has(S.selected)) select(null, {quiet: false});
      renderList(); renderTop(); updateFrameUi(); layout();  // the timeline's rows may take room from the frame
      if (S.pendingSelect != null && (S.byId.has(S.pendingSelect) || doc.rev >= S.rev)) {
        const id = S.pendingSelect;  // a track an edit just made: its row exists now, and is scrolled to
        S.pendingSelect = null;
        if (S.byId.has(id)) select(id, {quiet: true});
      }
    }).catch(err => status(String(err.message || err), 0));
  }

  function noteState(r) {
    const rev = parseInt(r.headers.get('X-Rev'), 10), key = r.headers.get('X-Key');
    if (!isNaN(rev) && key && rev > S.rev) { adopt(rev, key); publish(); }
    return key;
  }

  // ---- fetching and caching frames ------------------------------------------------
  function entry(t) {
    let e = S.cache.get(t);
    if (!e) {
      e = {frame: null, ov: null, sel: null, t};
      S.cache.set(t, e);
      if (S.cache.size > S.keep) {
        for (const [old, oe] of S.cache) {  // least recently used first
          if (S.cache.size <= S.keep) break;
          if (Math.abs(old - S.frame) < 3 || oe === S.shown) continue;  // never what is (about to be) on screen
          S.cache.delete(old); release(oe);
        }
      }
    } else { S.cache.delete(t); S.cache.set(t, e); }  // most recently used last
    return e;
  }
  function release(e) {
    if (e.frame) e.frame.close();
    if (e.ov && e.ov.bmp) e.ov.bmp.close();
    if (e.sel && e.sel.bmp) e.sel.bmp.close();
  }

  function present(track, t) {
    const tr = S.byId.get(track);
    if (!tr) return false;
    for (const [a, b] of tr.runs) { if (t < a) return false; if (t <= b) return true; }
    return false;
  }
  function ready(t) {
    const e = S.cache.get(t);
    if (!e || !e.frame || !e.ov || e.ov.key !== S.key) return false;
    if (S.selected != null && present(S.selected, t) && !(e.sel && e.sel.key === S.key && e.sel.track === S.selected)) return false;
    return true;
  }

  function load(t, urgent) {
    if (!S.src || t < 0 || t >= S.n) return;
    const e = entry(t);
    const jobs = [];
    if (!e.frame) jobs.push(['frame', `${S.src}/frame/${t}`]);
    if (!e.ov || e.ov.key !== S.key) jobs.push(['ov', `${S.src}/overlay/${t}`]);
    if (S.selected != null && present(S.selected, t) && !(e.sel && e.sel.key === S.key && e.sel.track === S.selected))
      jobs.push(['sel', `${S.src}/mask/${S.selected}/${t}`]);
    for (const [kind, url] of jobs) {
      const id = `${kind}:${t}:${kind === 'frame' ? '' : S.key}:${kind === 'sel' ? S.selected : ''}`;
      if (S.inflight.has(id) || S.queue.some(q => q.id === id)) continue;
      const job = {id, kind, url, t, key: S.key, track: S.selected, src: S.src};
      if (urgent) S.queue.unshift(job); else S.queue.push(job);
    }
    pump();
  }

  function pump() {
    while (S.inflight.size < MAX_INFLIGHT && S.queue.length) {
      const job = S.queue.shift();
      if (job.src !== S.src) continue;
      S.inflight.set(job.id, job);
      run(job).catch(() => {}).finally(() => { S.inflight.delete(job.id); pump(); });
    }
  }

  async function run(job) {
    const r = await fetch(job.url);
    if (job.src !== S.src) return;
    if (r.status === 410) { status('This session is no longer open on the server: reload the page.', 0); return; }
    if (!r.ok && r.status !== 204) return;
    const key = r.headers.get('X-Key');
    const bmp = r.status === 204 ? null : await createImageBitmap(await r.blob());
    if (job.src !== S.src) { if (bmp) bmp.close(); return; }
    const e = entry(job.t);
    if (job.kind === 'frame') { if (e.frame) e.frame.close(); e.frame = bmp; }
    else if (job.kind === 'ov') {
      if (e.ov && e.ov.bmp) e.ov.bmp.close();
      let boxes = [];
      try { boxes = JSON.parse(r.headers.get('X-Boxes') || '[]'); } catch (err) { boxes = []; }
      e.ov = {key, bmp, boxes};
    } else {
      if (e.sel && e.sel.bmp) e.sel.bmp.close();
      e.sel = {key, track: job.track, bmp, hl: null};
    }
    if (job.kind !== 'frame') noteState(r);  // a newer state (another tab's edit) is adopted here
    if (job.t === S.frame) show();
  }

  function prefetch(t, ahead, behind) {
    for (let k = 1; k <= ahead; k++) load(t + k, false);
    for (let k = 1; k <= behind; k++) load(t - k, false);
  }

  // ---- showing a frame --------------------------------------------------------------
  function seek(t, why) {
    if (!S.src) { status('Load a video first.'); return; }
    t = Math.max(0, Math.min(S.n - 1, Math.round(t)));
    if (S.brush && S.brush.dirty && S.brush.frame !== t) applyBrush('moved');
    const from = S.frame;
    S.frame = t;
    if (why !== 'play') S.stats.steps.push({from, to: t, at: performance.now()});
    if (S.brush) startBrushOn(t);
    if (S.click) { clickUi(); if (why !== 'play') prepareShown(); }
    publish();
    updateFrameUi();
    load(t, true);
    if (!S.playing) prefetch(t, AHEAD_STEP, BEHIND_STEP);
    show();
  }

  function show() {
    const t = S.frame;
    if (S.src && ready(t)) { S.shown = S.cache.get(t); paint(); markPainted(t); }
    else if (S.src) { load(t, true); paint(); }
    else paint();
  }

  function markPainted(t) {
    const now = performance.now();
    S.stats.paints.push({t, at: now});
    if (S.stats.paints.length > 2000) S.stats.paints.splice(0, 1000);
    root.dataset.painted = String(t);
    root.dataset.paintedKey = S.key || '';
  }

  function updateFrameUi() {
    scrub.value = String(S.frame);
    const secs = S.fps ? ` · ${(S.frame / S.fps).toFixed(2)} s` : '';
    let here = 0;
    if (S.doc) for (const tr of S.doc.tracks) if ((tr.shown || tr.id === S.selected) && present(tr.id, S.frame)) here++;
    frameLabel.textContent = S.src ? `Frame ${S.frame} / ${S.n - 1}${secs} · ${here} here` : '–';
    drawTimeline();
    if (!S.playing) markHere();
  }

  // ---- drawing ---------------------------------------------------------------------
  function layout() {
    const dpr = window.devicePixelRatio || 1;
    // The frame is the largest thing on the page, and it fits in the window together with the
    // transport bar and the timeline under it (at its height on the page when scrolled to the top).
    let want = 220;
    if (S.src && S.w) {
      const top = stage.getBoundingClientRect().top + window.scrollY;
      const below = [$('.cv-bar'), brushBar, clickBar, $('.cv-timeline')].reduce((h, el) => h + (el.hidden ? 0 : el.offsetHeight + 4), 0);
      want = Math.round(Math.max(240, Math.min(stage.clientWidth * S.h / S.w, window.innerHeight - top - below - 8)));
    }
    if (Math.abs(stage.clientHeight - want) > 1) stage.style.height = `${want}px`;
    const cw = stage.clientWidth, ch = stage.clientHeight;
    if (canvas.width !== Math.round(cw * dpr) || canvas.height !== Math.round(ch * dpr)) {
      canvas.width = Math.round(cw * dpr); canvas.height = Math.round(ch * dpr);
    }
    S.fit = S.w && S.h ? Math.min(cw / S.w, ch / S.h) : 1;
    drawTimeline();
    paint();
  }

  function view() {
    const dpr = window.devicePixelRatio || 1;
    const s = S.fit * S.zoom * dpr;
    const ox = (canvas.width - S.w * s) / 2 + S.panX * dpr, oy = (canvas.height - S.h * s) / 2 + S.panY * dpr;
    return {s, ox, oy, dpr};
  }

  function toFrame(clientX, clientY) {
    const r = canvas.getBoundingClientRect(), v = view();
    return {x: ((clientX - r.left) * v.dpr - v.ox) / v.s, y: ((clientY - r.top) * v.dpr - v.oy) / v.s};
  }

  function paint() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#0b0d12';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const e = S.shown;
    if (!S.src || !e || !e.frame) return;
    const v = view();
    ctx.setTransform(v.s, 0, 0, v.s, v.ox, v.oy);
    ctx.imageSmoothingEnabled = S.zoom < 3;  // pixels visible when zoomed in: the brush needs them
    ctx.drawImage(e.frame, 0, 0, S.w, S.h);
    if (e.ov && e.ov.bmp) ctx.drawImage(e.ov.bmp, 0, 0, S.w, S.h);
    const sel = S.selected != null ? S.byId.get(S.selected) : null;
    if (sel && e.sel && e.sel.track === sel.id && e.sel.bmp) {
      if (!e.sel.hl) e.sel.hl = highlight(e.sel.bmp, sel);
      ctx.drawImage(e.sel.hl, 0, 0, S.w, S.h);
    }
    if (S.brush && S.brush.frame === e.t) drawBrushPreview(sel);
    if (S.click) drawClick(e.t, v);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    drawLabels(e, v);
    if (S.brush && S.pointer) {
      ctx.strokeStyle = S.brush.tool === 'erase' ? '#ffffff' : (sel ? sel.color : '#ff0000');
      ctx.lineWidth = 1.5 * v.dpr;
      ctx.beginPath();
      ctx.arc(S.pointer.x, S.pointer.y, S.brush.size * v.s, 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  // The selected instance: its mask outlined in white; hidden or weak ones hatched, so they stay visible.
  function highlight(maskBmp, tr) {
    const w = S.w, h = S.h, r = Math.max(1, Math.round(w / 400));
    const out = document.createElement('canvas'); out.width = w; out.height = h;
    const g = out.getContext('2d');
    for (const [dx, dy] of [[-r, 0], [r, 0], [0, -r], [0, r], [-r, -r], [r, r], [-r, r], [r, -r]]) g.drawImage(maskBmp, dx, dy);
    g.globalCompositeOperation = 'source-in';
    g.fillStyle = '#ffffff'; g.fillRect(0, 0, w, h);
    g.globalCompositeOperation = 'destination-out';
    g.drawImage(maskBmp, 0, 0);
    const fill = document.createElement('canvas'); fill.width = w; fill.height = h;
    const f = fill.getContext('2d');
    f.drawImage(maskBmp, 0, 0);
    f.globalCompositeOperation = 'source-in';
    if (tr.shown) { f.fillStyle = tr.color; f.globalAlpha = 0.35; f.fillRect(0, 0, w, h); }
    else { f.fillStyle = hatch(f, tr.color); f.fillRect(0, 0, w, h); }
    g.globalCompositeOperation = 'destination-over';
    g.drawImage(fill, 0, 0);
    return out;
  }
  function hatch(target, color) {
    const p = document.createElement('canvas'); p.width = p.height = 8;
    const g = p.getContext('2d');
    g.strokeStyle = color; g.lineWidth = 2; g.globalAlpha = 0.8;
    g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.stroke();
    return target.createPattern(p, 'repeat');
  }

  function labelText(tr) { return `#${tr.id} ${tr.name} ${tr.score.toFixed(2)}`; }

  function drawLabels(e, v) {
    if (!e.ov || !S.doc) return;
    const font = 12 * v.dpr;
    ctx.font = `600 ${font}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    const boxes = e.ov.boxes.slice();
    const sel = S.selected != null ? S.byId.get(S.selected) : null;
    if (sel && !sel.shown && e.sel && e.sel.track === sel.id && e.sel.bmp && !boxes.some(b => b[0] === sel.id)) {
      const b = e.sel.box || (e.sel.box = maskBox(e.sel.bmp));
      if (b) boxes.push([sel.id, ...b]);
    }
    const drawn = [];
    for (const [id, x, y] of boxes) {
      const tr = S.byId.get(id);
      if (!tr) continue;
      let text = labelText(tr);
      if (tr.hidden) text += ' (hidden)'; else if (!tr.shown) text += ' (under threshold)';
      drawn.push(text);
      const tw = ctx.measureText(text).width + 6 * v.dpr, th = font + 4 * v.dpr;
      let lx = v.ox + x * v.s, ly = v.oy + y * v.s - th;
      lx = Math.max(0, Math.min(canvas.width - tw, lx)); ly = Math.max(0, Math.min(canvas.height - th, ly));
      ctx.fillStyle = id === S.selected ? '#ffffff' : tr.color;
      ctx.fillRect(lx, ly, tw, th);
      ctx.fillStyle = id === S.selected ? '#000000' : textOn(tr.color);
      ctx.fillText(text, lx + 3 * v.dpr, ly + 2 * v.dpr);
    }
    S.stats.labels = drawn;  // what the last paint wrote on the frame (tests read it)
  }
  function maskBox(bmp) {
    const c = document.createElement('canvas'); c.width = S.w; c.height = S.h;
    const g = c.getContext('2d'); g.drawImage(bmp, 0, 0);
    const d = g.getImageData(0, 0, S.w, S.h).data;
    let x0 = S.w, y0 = S.h, x1 = -1, y1 = -1;
    for (let y = 0; y < S.h; y++) for (let x = 0; x < S.w; x++) if (d[(y * S.w + x) * 4 + 3]) {
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    return x1 < 0 ? null : [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
  }
  function textOn(hex) {
    const n = parseInt(hex.slice(1), 16);
    return ((n >> 16) + ((n >> 8) & 255) + (n & 255)) > 380 ? '#000000' : '#ffffff';
  }

  // ---- selection --------------------------------------------------------------------
  function select(id, opts = {}) {
    id = id == null ? null : Number(id);
    if (id != null && S.doc && !S.byId.has(id)) id = null;
    if (S.brush && S.brush.dirty && id !== S.brush.track) applyBrush('selection');
    const changed = id !== S.selected;
    S.selected = id;
    if (S.brush) { if (id == null) brushOff(); else startBrushOn(S.frame); }
    if (S.click) {
      if (changed) { const tr = id != null ? S.byId.get(id) : null; replaceBox.checked = !!(tr && tr.origin === 'clicked'); forgetClick(); }
      clickUi();
    }
    publish();
    renderListSelection(); renderTop(); drawTimeline();
    load(S.frame, true);
    if (!S.playing) prefetch(S.frame, AHEAD_STEP, BEHIND_STEP);
    show();
    if (changed && !opts.quiet) {
      // Tell the server (it answers with the tools beside the list) once the highlight is on
      // the screen: Gradio's bookkeeping for the event must not delay what the user sees.
      requestAnimationFrame(() => setTimeout(() => { if (S.selected === id) trigger('track', {track: id}); }, 0));
    }
  }

  function onFrameTracks() {
    if (!S.doc) return [];
    return S.doc.tracks.filter(tr => (tr.shown || tr.id === S.selected) && present(tr.id, S.frame)).map(tr => tr.id);
  }

  function selectNext(dir) {
    if (!S.src) { status('Load a video first.'); return; }
    const ids = onFrameTracks();
    if (!ids.length) { status(`No instance on frame ${S.frame}.`); return; }
    const k = ids.indexOf(S.selected);
    const next = k < 0 ? (dir > 0 ? 0 : ids.length - 1) : (k + dir + ids.length) % ids.length;
    select(ids[next]);
  }

  function pickAt(clientX, clientY) {
    const p = toFrame(clientX, clientY);
    if (p.x < 0 || p.y < 0 || p.x >= S.w || p.y >= S.h) { select(null); return; }
    const sel = S.selected == null ? '' : `&sel=${S.selected}`;
    const t0 = performance.now();
    fetch(`${S.src}/pick/${S.frame}?x=${p.x.toFixed(1)}&y=${p.y.toFixed(1)}${sel}`)
      .then(r => r.ok ? (noteState(r), r.json()) : null)
      .then(res => { if (res) { S.stats.lastPick = performance.now() - t0; select(res.track); } });
  }

  // ---- the track list and the top classes (beside the frame) -----------------------
  function fmtRange(tr) {
    if (!tr.runs.length) return 'no frames';
    return `${tr.runs[0][0]}–${tr.runs[tr.runs.length - 1][1]}`;
  }

  function renderList() {
    list.replaceChildren();
    const tracks = S.doc ? S.doc.tracks : [];
    countEl.textContent = S.doc ? `${tracks.length}` : '';
    for (const tr of tracks) {
      const row = document.createElement('div');
      row.className = 'cv-row' + (tr.shown ? '' : ' cv-dim');
      row.setAttribute('role', 'option');
      row.dataset.track = String(tr.id);
      const sw = document.createElement('span'); sw.className = 'cv-swatch'; sw.style.background = tr.color;
      const id = document.createElement('span'); id.className = 'cv-id'; id.textContent = `#${tr.id}`;
      const cell = document.createElement('span'); cell.className = 'cv-namecell';
      const name = document.createElement('span'); name.className = 'cv-name'; name.textContent = tr.name;
      const flag = document.createElement('span'); flag.className = 'cv-flag';
      flag.textContent = tr.hidden ? 'hidden' : (!tr.shown ? 'weak' : (tr.hand ? 'hand' : ''));
      cell.append(name, flag);
      row.title = `#${tr.id} ${tr.name} · score ${tr.score.toFixed(3)} · ${tr.count} frames (${fmtRange(tr)})` +
        (flag.textContent ? ` · ${flag.textContent}` : '');
      const score = document.createElement('span'); score.className = 'cv-score'; score.textContent = tr.score.toFixed(2);
      const range = document.createElement('span'); range.className = 'cv-range'; range.textContent = fmtRange(tr);
      row.append(sw, id, cell, score, range);
      row.addEventListener('click', () => select(tr.id));
      row.addEventListener('dblclick', () => { if (tr.runs.length) seek(tr.runs[0][0]); });
      list.appendChild(row);
    }
    if (!tracks.length) {
      const none = document.createElement('div'); none.className = 'cv-none';
      none.textContent = S.src ? 'No tracks yet: type classes and press Run.' : '';
      list.appendChild(none);
    }
    renderListSelection(); markHere();
  }

  function renderListSelection() {
    for (const row of list.children) {
      const on = row.dataset.track === String(S.selected);
      row.classList.toggle('cv-sel', on);
      row.setAttribute('aria-selected', on ? 'true' : 'false');
      if (on) scrollListTo(row);
    }
  }

  // Bring the row into the list's view without scrolling the page.
  // Measured on the next frame: the top classes drawn under the list change its height first.
  function scrollListTo(row) {
    requestAnimationFrame(() => {
      const l = list.getBoundingClientRect(), r = row.getBoundingClientRect();
      if (r.top < l.top) list.scrollTop -= l.top - r.top;
      else if (r.bottom > l.bottom) list.scrollTop += r.bottom - l.bottom;
    });
  }

  function markHere() {
    for (const row of list.children) {
      if (row.dataset.track) row.classList.toggle('cv-here', present(Number(row.dataset.track), S.frame));
    }
  }

  function renderTop() {
    topRows.replaceChildren();
    const tr = S.selected != null ? S.byId.get(S.selected) : null;
    if (!tr) { topHead.textContent = S.doc && S.doc.tracks.length ? 'Select a track to see its top classes.' : ''; return; }
    const whose = tr.origin === 'clicked' ? 'top classes by CLIP inside its masks' : "the model's top classes";
    topHead.textContent = tr.top.length ? `#${tr.id}: ${whose} (1–${Math.min(5, tr.top.length)} relabels)`
                                        : `#${tr.id}: no model scores (not from the model)`;
    const best = tr.top.length ? Math.max(...tr.top.map(x => x[1]), 1e-6) : 1;
    tr.top.slice(0, 5).forEach(([name, score], k) => {
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'cv-topclass'; b.dataset.rank = String(k + 1);
      const key = document.createElement('span'); key.className = 'cv-key'; key.textContent = String(k + 1);
      const label = document.createElement('span'); label.className = 'cv-top-name'; label.textContent = name;
      const bar = document.createElement('span'); bar.className = 'cv-bar-fill'; bar.style.width = `${Math.round(100 * score / best)}%`;
      bar.style.background = tr.color;
      const val = document.createElement('span'); val.className = 'cv-top-score'; val.textContent = score.toFixed(3);
      b.append(key, label, bar, val);
      b.title = `Relabel #${tr.id} as ${name}`;
      b.addEventListener('click', () => relabelTop(k + 1));
      topRows.appendChild(b);
    });
  }

  function relabelTop(rank) {
    const tr = S.selected != null ? S.byId.get(S.selected) : null;
    if (!tr) { status('Select an instance first: click it on the frame or in the list.'); return; }
    if (!tr.top[rank - 1]) { status(`#${tr.id} has no top class ${rank}.`); return; }
    publish();
    trigger('relabel', {track: tr.id, rank, name: tr.top[rank - 1][0]});
  }

  // ---- the timeline (under the frame) ---------------------------------------------
  function drawTimeline() {
    const dpr = window.devicePixelRatio || 1;
    const tracks = S.doc ? S.doc.tracks : [];
    const width = tlScroll.clientWidth || ruler.clientWidth || 600;
    const height = Math.max(tracks.length, 1) * ROW_H;
    for (const [c, h] of [[ruler, RULER_H], [rows, height]]) {
      if (c.width !== Math.round(width * dpr) || c.height !== Math.round(h * dpr)) {
        c.width = Math.round(width * dpr); c.height = Math.round(h * dpr);
        c.style.width = `${width}px`; c.style.height = `${h}px`;
      }
    }
    const n = Math.max(S.n, 1), bars = width - LABEL_W;
    const xOf = f => LABEL_W + (f / n) * bars;
    // Ruler: ticks and the current frame.
    let g = ruler.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, RULER_H);
    g.fillStyle = '#667085'; g.font = '10px system-ui, sans-serif'; g.textBaseline = 'top';
    if (S.src) {
      const step = niceStep(n, bars / 60);
      for (let f = 0; f < n; f += step) { g.fillRect(xOf(f), 12, 1, 6); g.fillText(String(f), xOf(f) + 2, 1); }
      marker(g, xOf, n, bars, RULER_H);
    }
    g = rows.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, height);
    g.font = '11px system-ui, sans-serif'; g.textBaseline = 'middle';
    tracks.forEach((tr, k) => {
      const y = k * ROW_H;
      if (tr.id === S.selected) { g.fillStyle = 'rgba(250, 204, 21, 0.28)'; g.fillRect(0, y, width, ROW_H); }
      g.globalAlpha = tr.shown ? 1 : 0.35;
      g.fillStyle = tr.color;
      for (const [a, b] of tr.runs) g.fillRect(xOf(a), y + 3, Math.max(1, xOf(b + 1) - xOf(a)), ROW_H - 6);
      g.globalAlpha = 1;
      g.fillStyle = '#344054';
      g.save(); g.beginPath(); g.rect(0, y, LABEL_W - 4, ROW_H); g.clip();
      g.fillText(`#${tr.id} ${tr.name}`, 2, y + ROW_H / 2);
      g.restore();
    });
    if (S.src) marker(g, xOf, n, bars, height);
  }
  // The current frame: its cell shaded, a line through its middle.
  function marker(g, xOf, n, bars, h) {
    const cell = bars / n;
    if (cell >= 3) { g.fillStyle = 'rgba(225, 29, 72, 0.18)'; g.fillRect(xOf(S.frame), 0, cell, h); }
    g.fillStyle = '#e11d48';
    g.fillRect(xOf(S.frame) + cell / 2 - 1, 0, 2, h);
  }
  function niceStep(n, maxTicks) {
    const raw = n / Math.max(maxTicks, 1);
    for (const s of [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000]) if (s >= raw) return s;
    return 10000;
  }
  function timelineHit(ev, canvasEl) {
    const r = canvasEl.getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top, bars = r.width - LABEL_W;
    const frame = x < LABEL_W ? null : Math.max(0, Math.min(S.n - 1, Math.floor((x - LABEL_W) / bars * S.n)));
    const tracks = S.doc ? S.doc.tracks : [];
    const tr = canvasEl === rows ? tracks[Math.floor(y / ROW_H)] : null;
    return {frame, tr};
  }
  ruler.addEventListener('click', ev => { const h = timelineHit(ev, ruler); if (h.frame != null) seek(h.frame); });
  rows.addEventListener('click', ev => {
    const h = timelineHit(ev, rows);
    if (h.frame != null) seek(h.frame);
    if (h.tr) select(h.tr.id);
  });
  rows.addEventListener('mousemove', ev => {
    const h = timelineHit(ev, rows);
    if (!h.tr) { tip.hidden = true; return; }
    const run = h.frame == null ? null : h.tr.runs.find(([a, b]) => h.frame >= a && h.frame <= b);
    tip.textContent = `#${h.tr.id} ${h.tr.name} · score ${h.tr.score.toFixed(3)} · ` +
      (run ? `frames ${run[0]}–${run[1]}` : `${h.tr.count} frames, ${fmtRange(h.tr)}`) + (h.frame != null ? ` · frame ${h.frame}` : '');
    tip.hidden = false;
    const box = root.querySelector('.cv-timeline').getBoundingClientRect();
    tip.style.left = `${Math.min(ev.clientX - box.left + 12, box.width - 260)}px`;
    tip.style.top = `${ev.clientY - box.top + 14}px`;
  });
  rows.addEventListener('mouseleave', () => { tip.hidden = true; });

  // ---- playback ---------------------------------------------------------------------
  function togglePlay() {
    if (!S.src) { status('Load a video first.'); return; }
    if (S.playing) stop(); else play();
  }
  function play() {
    if (S.brush && S.brush.dirty) applyBrush('moved');
    if (S.frame >= S.n - 1) seek(0);
    S.playing = true;
    playBtn.innerHTML = ICONS.pause; playBtn.setAttribute('aria-label', 'Pause');
    root.classList.add('cv-playing');
    S.clock = {t0: performance.now(), f0: S.frame, painted: 0};
    prefetch(S.frame, AHEAD_PLAY, 0);
    requestAnimationFrame(tick);
  }
  function stop() {
    if (!S.playing) return;
    S.playing = false;
    playBtn.innerHTML = ICONS.play; playBtn.setAttribute('aria-label', 'Play');
    root.classList.remove('cv-playing');
    publish(); markHere(); prefetch(S.frame, AHEAD_STEP, BEHIND_STEP);
  }
  function tick(now) {
    if (!S.playing) return;
    const fps = S.fps > 0 ? Math.min(S.fps, 60) : 25;
    const due = S.clock.f0 + Math.floor((now - S.clock.t0) * fps / 1000);
    if (due > S.frame) {
      const next = S.frame + 1;
      if (next >= S.n) { stop(); return; }
      if (ready(next)) {
        seek(next, 'play');
        // Behind (a slow fetch)? Restart the clock here instead of racing to catch up: every frame is shown.
        if (due > next + 1) S.clock = {t0: now, f0: next};
      } else {
        load(next, true);
        S.clock = {t0: now - 1000 / fps, f0: S.frame};  // wait for it, then go on at the clip's pace
      }
    }
    prefetch(S.frame, AHEAD_PLAY, 0);
    requestAnimationFrame(tick);
  }

  // ---- zoom and pan -----------------------------------------------------------------
  function zoomAt(factor, clientX, clientY) {
    if (!S.src) return;
    const r = canvas.getBoundingClientRect();
    const cx = clientX == null ? r.width / 2 : clientX - r.left, cy = clientY == null ? r.height / 2 : clientY - r.top;
    const z = Math.max(1, Math.min(MAX_ZOOM, S.zoom * factor));
    const k = z / S.zoom;
    // Keep the frame point under the pointer where it is.
    const mx = cx - r.width / 2, my = cy - r.height / 2;
    S.panX = mx - (mx - S.panX) * k; S.panY = my - (my - S.panY) * k;
    S.zoom = z;
    if (z === 1) { S.panX = 0; S.panY = 0; }
    clampPan(); zoomLabel.textContent = `${Math.round(S.zoom * 100)}%`;
    root.dataset.zoom = S.zoom.toFixed(3);
    paint();
  }
  function clampPan() {
    if (S.zoom <= 1) { S.panX = 0; S.panY = 0; }
    const r = canvas.getBoundingClientRect();
    const lx = Math.max(0, (S.w * S.fit * S.zoom - r.width) / 2 + r.width / 3);
    const ly = Math.max(0, (S.h * S.fit * S.zoom - r.height) / 2 + r.height / 3);
    S.panX = Math.max(-lx, Math.min(lx, S.panX)); S.panY = Math.max(-ly, Math.min(ly, S.panY));
    root.dataset.pan = `${Math.round(S.panX)},${Math.round(S.panY)}`;
  }
  function fit() { S.zoom = 1; S.panX = 0; S.panY = 0; zoomLabel.textContent = '100%'; root.dataset.zoom = '1.000'; root.dataset.pan = '0,0'; paint(); }

  stage.addEventListener('wheel', ev => {
    if (!S.src) return;
    ev.preventDefault();
    zoomAt(Math.pow(1.0015, -ev.deltaY), ev.clientX, ev.clientY);
  }, {passive: false});
  stage.addEventListener('contextmenu', ev => ev.preventDefault());
  stage.addEventListener('pointerdown', ev => {
    if (!S.src || ev.target.closest('.cv-float')) return;  // the zoom buttons float on the frame
    stage.focus({preventScroll: true});
    stage.setPointerCapture(ev.pointerId);
    const painting = S.brush && ev.button === 0;
    const clicking = !!S.click && (ev.button === 0 || ev.button === 2);
    S.drag = {x: ev.clientX, y: ev.clientY, panX: S.panX, panY: S.panY, moved: false, painting, clicking,
              negative: ev.button === 2 || ev.shiftKey || ev.altKey, from: clicking ? toFrame(ev.clientX, ev.clientY) : null};
    if (painting) strokeTo(ev, true);
  });
  stage.addEventListener('pointermove', ev => {
    const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    if (S.brush) { S.pointer = {x: (ev.clientX - r.left) * dpr, y: (ev.clientY - r.top) * dpr}; }
    const d = S.drag;
    if (d) {
      if (Math.abs(ev.clientX - d.x) + Math.abs(ev.clientY - d.y) > 4) d.moved = true;
      if (d.painting) strokeTo(ev, false);
      else if (d.clicking) { if (d.moved && !d.negative) S.click.dragBox = boxOf(d.from, toFrame(ev.clientX, ev.clientY)); }
      else if (d.moved) { S.panX = d.panX + ev.clientX - d.x; S.panY = d.panY + ev.clientY - d.y; clampPan(); }
    }
    if (S.brush || (d && d.moved)) paint();
  });
  stage.addEventListener('pointerup', ev => {
    const d = S.drag; S.drag = null;
    if (!d) return;
    if (d.painting) { S.brush.last = null; paint(); return; }
    if (d.clicking) { clickAt(d, ev); return; }
    if (!d.moved && ev.button === 0) pickAt(ev.clientX, ev.clientY);
  });
  stage.addEventListener('pointerleave', () => { if (S.brush) { S.pointer = null; paint(); } });

  // ---- the brush: paint on the frame that is shown ----------------------------------
  function toggleBrush() {
    if (S.brush) { if (S.brush.dirty) applyBrush('closed'); brushOff(); return; }
    if (!S.src) { status('Load a video first.'); return; }
    if (S.selected == null) { status('Select the instance to paint first (click it, or Tab).'); return; }
    if (S.click) clickOff();
    stop();
    S.brush = {tool: 'paint', size: Number(sizeInput.value), frame: null, track: null, add: null, erase: null, dirty: false};
    brushBar.hidden = false;
    root.classList.add('cv-brushing');
    layout();
    startBrushOn(S.frame);
    setTool('paint');
  }
  function brushOff() {
    S.brush = null; S.pointer = null;
    brushBar.hidden = true; root.classList.remove('cv-brushing');
    layout();
  }
  function startBrushOn(t) {
    const b = S.brush;
    if (!b || (b.frame === t && b.track === S.selected)) return;
    const layer = () => { const c = document.createElement('canvas'); c.width = S.w; c.height = S.h; return c; };
    Object.assign(b, {frame: t, track: S.selected, add: layer(), erase: layer(), dirty: false, last: null});
    const tr = S.byId.get(S.selected);
    brushTitle.textContent = tr ? `Painting #${tr.id} ${tr.name} on frame ${t}` : `Painting on frame ${t}`;
    root.dataset.brushFrame = String(t);
  }
  function setTool(tool) {
    if (!S.brush) return;
    S.brush.tool = tool;
    for (const b of brushBar.querySelectorAll('.cv-tool')) b.classList.toggle('cv-on', b.dataset.act === `tool-${tool}`);
    paint();
  }
  function strokeTo(ev, first) {
    const b = S.brush;
    if (!b) return;
    if (b.frame !== S.frame || b.track !== S.selected) startBrushOn(S.frame);
    const p = toFrame(ev.clientX, ev.clientY);
    const from = first || !b.last ? p : b.last;
    const [on, off] = b.tool === 'erase' ? [b.erase, b.add] : [b.add, b.erase];
    for (const [c, op] of [[on, 'source-over'], [off, 'destination-out']]) {
      const g = c.getContext('2d');
      g.globalCompositeOperation = op;
      g.strokeStyle = g.fillStyle = '#ffffff';
      g.lineCap = 'round'; g.lineJoin = 'round'; g.lineWidth = b.size * 2;
      g.beginPath(); g.moveTo(from.x, from.y); g.lineTo(p.x + 0.01, p.y); g.stroke();
    }
    b.last = p; b.dirty = true;
    root.dataset.brushDirty = '1';
  }
  function drawBrushPreview(sel) {
    const b = S.brush;
    if (!b || !b.add) return;
    const tmp = b.tmp || (b.tmp = document.createElement('canvas'));
    tmp.width = S.w; tmp.height = S.h;
    const g = tmp.getContext('2d');
    const e = S.cache.get(b.frame);
    if (e && e.sel && e.sel.track === b.track && e.sel.bmp) g.drawImage(e.sel.bmp, 0, 0);
    g.drawImage(b.add, 0, 0);
    g.globalCompositeOperation = 'destination-out'; g.drawImage(b.erase, 0, 0);
    g.globalCompositeOperation = 'source-in';
    g.fillStyle = sel ? sel.color : '#ff0000'; g.globalAlpha = 0.6; g.fillRect(0, 0, S.w, S.h);
    ctx.drawImage(tmp, 0, 0, S.w, S.h);
    // The strokes themselves, whatever the colours under them: painted lighter, erased darker.
    for (const [layer, shade] of [[b.add, '#ffffff'], [b.erase, '#000000']]) {
      g.globalCompositeOperation = 'copy'; g.globalAlpha = 1;
      g.drawImage(layer, 0, 0);
      g.globalCompositeOperation = 'source-in'; g.globalAlpha = 0.45;
      g.fillStyle = shade; g.fillRect(0, 0, S.w, S.h);
      ctx.drawImage(tmp, 0, 0, S.w, S.h);
    }
  }
  // The strokes travel as one PNG: red where painted, green where erased, at display size.
  function applyBrush(why) {
    const b = S.brush;
    if (!b || !b.dirty) { if (why === 'button') status('Nothing painted yet: drag over the frame.'); return; }
    const out = document.createElement('canvas'); out.width = S.w; out.height = S.h;
    const g = out.getContext('2d');
    const add = b.add.getContext('2d').getImageData(0, 0, S.w, S.h).data;
    const erase = b.erase.getContext('2d').getImageData(0, 0, S.w, S.h).data;
    const img = g.createImageData(S.w, S.h), d = img.data;
    for (let i = 3; i < d.length; i += 4) {
      const a = add[i] > 127, e = erase[i] > 127;
      if (a || e) { d[i - 3] = a ? 255 : 0; d[i - 2] = e ? 255 : 0; d[i] = 255; }
    }
    g.putImageData(img, 0, 0);
    trigger('paint', {frame: b.frame, track: b.track, w: S.w, h: S.h, png: out.toDataURL('image/png')});
    status(why === 'moved' ? `Applying the strokes on frame ${b.frame}…` : 'Applying…');
    const t = b.frame, tr = b.track;
    Object.assign(b, {frame: null, track: null, dirty: false});
    root.dataset.brushDirty = '';
    if (S.brush && S.frame === t && S.selected === tr) startBrushOn(t);
  }
  function discardBrush() {
    if (!S.brush) return;
    const t = S.brush.frame;
    Object.assign(S.brush, {frame: null, track: null, dirty: false});
    root.dataset.brushDirty = '';
    startBrushOn(S.frame);
    status(`Strokes on frame ${t} discarded.`);
    paint();
  }
  sizeInput.addEventListener('input', () => { if (S.brush) S.brush.size = Number(sizeInput.value); paint(); });

  // ---- click to track (app/static/clicktrack.js) -------------------------------------
  const clicks = createClickToTrack({S, root, ctx, status, stop, brushOff, applyBrush, layout, paint, toFrame, highlight,
                                     publish, trigger, clickBar, clickTitle, replaceLabel, replaceBox, replaceText});
  const {toggle: toggleClick, off: clickOff, replacing, ui: clickUi, forget: forgetClick, clear: clearClick,
         track: trackClick, draw: drawClick, at: clickAt, boxOf, prepareShown} = clicks;

  // ---- buttons of the bar -------------------------------------------------------------
  const actions = {
    first: () => seek(0), last: () => seek(S.n - 1), prev: () => step(-1), next: () => step(1), play: togglePlay,
    'zoom-in': () => zoomAt(1.25), 'zoom-out': () => zoomAt(0.8), fit, brush: toggleBrush, help: () => api.help(),
    'tool-paint': () => setTool('paint'), 'tool-erase': () => setTool('erase'),
    apply: () => applyBrush('button'), discard: discardBrush,
    click: toggleClick, 'click-track': trackClick, 'click-clear': clearClick,
  };
  root.addEventListener('click', ev => {
    const b = ev.target.closest('button[data-act]');
    if (b && root.contains(b) && actions[b.dataset.act]) actions[b.dataset.act]();
  });
  scrub.addEventListener('input', () => seek(Number(scrub.value)));
  function step(delta) { if (!S.src) { status('Load a video first.'); return; } stop(); seek(S.frame + delta); }

  // Follow edits made in another tab (or by a run) while this one only looks: ask for the state now and then.
  setInterval(() => {
    if (!S.src || S.playing || document.hidden) return;
    fetch(`${S.src}/rev`).then(r => { if (r.ok) noteState(r); }).catch(() => {});
  }, POLL_MS);

  new ResizeObserver(() => layout()).observe(stage);
  window.addEventListener('resize', () => layout());
  new ResizeObserver(() => drawTimeline()).observe(tlScroll);

  const api = {
    step, seek, togglePlay, stop, selectNext, select, relabelTop, toggleBrush, setTool, applyBrush: () => applyBrush('button'),
    discardBrush, fit, zoom: f => zoomAt(f), toggleClick, trackClick, clearClick,
    frameToClient: (x, y) => { const r = canvas.getBoundingClientRect(), v = view(); return {x: r.left + (x * v.s + v.ox) / v.dpr, y: r.top + (y * v.s + v.oy) / v.dpr}; },
    get doc() { return S.doc; },
    get clicking() { return !!S.click; }, get prompted() { return !!(S.click && (S.click.points.length || S.click.box)); },
    brushSize: d => { sizeInput.value = String(Math.max(1, Math.min(80, Number(sizeInput.value) + d))); if (S.brush) S.brush.size = Number(sizeInput.value); paint(); },
    get loaded() { return !!S.src; }, get brushing() { return !!S.brush; }, get playing() { return S.playing; },
    get tool() { return S.brush ? S.brush.tool : null; },
    get frame() { return S.frame; }, get selected() { return S.selected; },
    stats: () => S.stats, help: () => {},
    status,
  };
  root.clipvisViewer = api;  // for the browser tests and the benchmark
  watch('value', fromServer);
  fromServer();
  return api;
}
