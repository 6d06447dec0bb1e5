/* CLIP-VIS Studio viewer: click to track (issue 14).
 *
 * Click mode (c, or the frame's "Click to track" button): a click on the frame
 * is a point on the object, Shift/Alt/right-click a point that is not, a drag
 * a box. Each prompt goes to the POST route of app/clicks/routes.py with every
 * point of the frame so far, and the mask it answers (a PNG) is drawn in cyan
 * with the points and the box. While click mode is on, the frame shown is
 * encoded ahead of the click (`prepare`). Track (Enter) is the viewer's
 * `propagate` event: a background job on the server whose answer selects the
 * new (or corrected) track. Clear (Esc) forgets the prompt on the server too.
 *
 * Called by createStudioViewer (viewer.js) with the viewer's state and the
 * drawing helpers it shares; returns what the viewer and the keyboard call.
 */
function createClickToTrack(k) {
  'use strict';
  const {S, root, ctx, status, stop, brushOff, applyBrush, layout, paint, toFrame, highlight, publish, trigger,
         clickBar, clickTitle, replaceLabel, replaceBox, replaceText} = k;
  // The preview comes from the POST route app/clicks/routes.py (SAM 2 on this frame); Track is
  // the `propagate` event, a background job on the server whose result selects the new track.
  const newClickId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2)).slice(0, 36);
  function toggleClick() {
    if (S.click) { clickOff(); return; }
    if (!S.src) { status('Load a video first.'); return; }
    if (S.brush) { if (S.brush.dirty) applyBrush('closed'); brushOff(); }
    stop();
    S.click = {id: newClickId(), frame: null, points: [], box: null, mask: null, busy: false, again: false};
    clickBar.hidden = false;
    root.classList.add('cv-clicking');
    root.dataset.clickMode = '1';
    layout(); clickUi(); prepareShown();
    status('Click on the object to segment it; shift/alt/right-click where it is not; drag to draw a box.');
  }
  // SAM 2's image encoder is most of a first click's time: run it on the frame shown while the user aims.
  let prepareTimer = null;
  function prepareShown() {
    clearTimeout(prepareTimer);
    prepareTimer = setTimeout(() => {
      const c = S.click;
      if (!c || S.playing || c.prepared === `${c.id}:${S.frame}`) return;
      c.prepared = `${c.id}:${S.frame}`;
      fetch(`${S.src}/prompt/prepare`, {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({click: c.id, frame: S.frame, target: replacing() ? S.selected : null})})
        .then(async r => { if (r.status >= 400) { let m = ''; try { m = (await r.json()).message; } catch (e) { /* */ } if (m) status(m, 0); } })
        .catch(() => {});
    }, 250);
  }
  function clickOff() {
    if (S.click && S.click.points.length + (S.click.box ? 1 : 0)) forgetClick();
    S.click = null;
    clickBar.hidden = true; root.classList.remove('cv-clicking');
    root.dataset.clickMode = ''; root.dataset.preview = '';
    layout();
  }
  // Replace the selected track from this frame on (a correction when it is a clicked track), or make a new one.
  function replacing() { return !!(S.click && S.selected != null && S.byId.has(S.selected) && replaceBox.checked); }
  function clickUi() {
    if (!S.click) return;
    const c = S.click, tr = S.selected != null ? S.byId.get(S.selected) : null;
    replaceLabel.hidden = !tr;
    if (tr) replaceText.textContent = `replace #${tr.id} ${tr.name} from frame ${c.frame == null ? S.frame : c.frame} on`;
    const n = c.points.length, where = c.frame == null ? S.frame : c.frame;
    clickTitle.textContent = (replacing() ? `Correcting #${S.selected}` : 'New track') +
      (n || c.box ? ` · frame ${where}: ${n} point${n === 1 ? '' : 's'}${c.box ? ' + box' : ''}` : ` · click on frame ${S.frame}`);
  }
  replaceBox.addEventListener('change', () => { if (S.click) { forgetClick(); clickUi(); paint(); } });
  function boxOf(a, b) {
    const cl = (v, m) => Math.max(0, Math.min(m, v));
    return [cl(Math.min(a.x, b.x), S.w), cl(Math.min(a.y, b.y), S.h), cl(Math.max(a.x, b.x), S.w), cl(Math.max(a.y, b.y), S.h)];
  }
  function clickAt(d, ev) {
    const c = S.click;
    if (c.frame !== S.frame) { c.frame = S.frame; c.points = []; c.box = null; c.mask = null; }
    if (d.moved && !d.negative) { c.box = boxOf(d.from, toFrame(ev.clientX, ev.clientY)); c.dragBox = null; }
    else if (!d.moved) {
      const p = toFrame(ev.clientX, ev.clientY);
      if (p.x < 0 || p.y < 0 || p.x > S.w || p.y > S.h) { status('Click on the frame.'); return; }
      c.points.push([Math.round(p.x * 10) / 10, Math.round(p.y * 10) / 10, d.negative ? 0 : 1]);
    } else return;
    clickUi(); paint(); sendPrompt();
  }
  async function sendPrompt() {
    const c = S.click;
    if (!c) return;
    if (c.busy) { c.again = true; return; }  // one at a time: the newest prompt goes when this one answers
    c.busy = true; c.again = false;
    const frame = c.frame, id = c.id, t0 = performance.now();
    const body = {click: id, frame, points: c.points, box: c.box, target: replacing() ? S.selected : null};
    status(`Segmenting on frame ${frame}…`, 0);
    // The first click of the server loads SAM 2 (downloading it into the Hub cache the first time).
    const slow = setTimeout(() => { if (S.click === c && c.busy) status(`Segmenting on frame ${frame}… the first click loads SAM 2 (on first use it downloads it: the server's log shows the progress).`, 0); }, 3000);
    try {
      const r = await fetch(`${S.src}/prompt`, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
      if (!S.click || S.click.id !== id) return;
      if (!r.ok) {
        let msg = `The preview failed (HTTP ${r.status}).`;
        try { msg = (await r.json()).message || msg; } catch (err) { /* not JSON */ }
        status(msg, 0); root.dataset.promptError = msg;
        return;
      }
      const bmp = await createImageBitmap(await r.blob());
      if (!S.click || S.click.id !== id) { bmp.close(); return; }
      if (c.mask && c.mask.bmp) c.mask.bmp.close();
      c.mask = {frame, bmp, hl: null};
      const ms = performance.now() - t0;
      S.stats.lastPrompt = ms;
      root.dataset.preview = String(frame); root.dataset.previewMs = ms.toFixed(0); root.dataset.promptError = '';
      status(`Mask on frame ${frame} in ${(ms / 1000).toFixed(2)} s: click again to refine, Track ▶ (Enter) to follow it through the video.`, 8000);
      paint();
    } catch (err) {
      status(String(err.message || err), 0);
    } finally {
      clearTimeout(slow);
      c.busy = false;
      if (c.again && S.click === c) sendPrompt();
      else if (c.trackAfter && S.click === c) { c.trackAfter = false; trackClick(); }
    }
  }
  function forgetClick() {
    const c = S.click;
    if (!c) return;
    if (S.src) fetch(`${S.src}/prompt/${encodeURIComponent(c.id)}`, {method: 'DELETE'}).catch(() => {});
    if (c.mask && c.mask.bmp) c.mask.bmp.close();
    Object.assign(c, {id: newClickId(), frame: null, points: [], box: null, mask: null, dragBox: null, again: false, trackAfter: false});
    root.dataset.preview = '';
  }
  function clearClick() {
    if (!S.click) return;
    forgetClick(); clickUi(); paint();
    status('Prompt cleared.');
  }
  function trackClick() {
    const c = S.click;
    if (c && !c.mask && (c.busy || c.again)) { c.trackAfter = true; status('Tracking as soon as the preview is ready…', 0); return; }
    if (!c || !c.mask) { status(c ? 'Click on the object first: its mask shows, then Track follows it.' : 'Press c (Click to track) first.'); return; }
    if (c.busy || c.again) { c.trackAfter = true; status('Tracking as soon as the preview is ready…', 0); return; }
    publish();
    trigger('propagate', {click: c.id, replace: replacing() ? S.selected : null});
    S.tracking = true;
    status(`Tracking from frame ${c.frame}… (progress above the frame; Cancel run stops it)`, 0);
    // The server keeps the click (a later correction continues it); here a new prompt starts.
    if (c.mask && c.mask.bmp) c.mask.bmp.close();
    Object.assign(c, {id: newClickId(), frame: null, points: [], box: null, mask: null});
    root.dataset.preview = '';
    clickUi(); paint();
  }
  // The preview (tinted, outlined), the points (+ green, − red) and the box, in frame pixels.
  function drawClick(t, v) {
    const c = S.click;
    if (c.mask && c.mask.frame === t) {
      if (!c.mask.hl) c.mask.hl = highlight(c.mask.bmp, {shown: true, color: '#22d3ee'});
      ctx.drawImage(c.mask.hl, 0, 0, S.w, S.h);
    }
    if (c.frame !== t && !c.dragBox) return;
    const px = 1 / v.s * v.dpr;  // one screen pixel in frame pixels
    for (const b of [c.box, c.dragBox]) {
      if (!b) continue;
      ctx.setLineDash([6 * px, 4 * px]); ctx.lineWidth = 2 * px; ctx.strokeStyle = '#22d3ee';
      ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]); ctx.setLineDash([]);
    }
    for (const [x, y, l] of c.frame === t ? c.points : []) {
      ctx.beginPath(); ctx.arc(x, y, 6 * px, 0, Math.PI * 2);
      ctx.fillStyle = l ? '#16a34a' : '#dc2626'; ctx.fill();
      ctx.lineWidth = 1.5 * px; ctx.strokeStyle = '#ffffff'; ctx.stroke();
      ctx.beginPath(); ctx.moveTo(x - 3 * px, y); ctx.lineTo(x + 3 * px, y);
      if (l) { ctx.moveTo(x, y - 3 * px); ctx.lineTo(x, y + 3 * px); }
      ctx.stroke();
    }
  }

  return {toggle: toggleClick, off: clickOff, replacing, ui: clickUi, forget: forgetClick, clear: clearClick,
          track: trackClick, draw: drawClick, at: clickAt, boxOf, prepareShown};
}
