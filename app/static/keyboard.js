/* CLIP-VIS Studio keyboard: every shortcut in one place, and the `?` help.
 *
 * Shortcuts act through the viewer's API (frames, playback, selection, the
 * brush) or by pressing the studio's own buttons (#delete, #split, ...), so
 * a key does exactly what its button does. None fires while the user types
 * in a text box, a number box, a dropdown or any other form field.
 */
function installStudioKeyboard(viewer) {
  'use strict';
  const state = window.__clipvisKeyboard || (window.__clipvisKeyboard = {viewer: null, installed: false});
  const SHORTCUTS = [
    ['← / →', 'previous / next frame'],
    ['Shift + ← / →', '10 frames back / on'],
    ['Home / End', 'first / last frame'],
    ['Space', 'play / pause'],
    ['Tab / Shift + Tab', 'next / previous instance on this frame'],
    ['Delete / Backspace', 'delete the selected instance'],
    ['1 … 5', 'relabel the selected instance as its k-th top class'],
    ['m', 'merge the instance picked under Merge into the selected one (opens the picker if none)'],
    ['s', 'split the selected instance at this frame'],
    ['h', 'hide / show the selected instance'],
    ['Ctrl + Z', 'undo'],
    ['Ctrl + Shift + Z (or Ctrl + Y)', 'redo'],
    ['b', 'brush on / off (paints the selected mask on this frame)'],
    ['e', 'eraser / paint (while brushing)'],
    ['[ / ]', 'smaller / larger brush'],
    ['Enter / Esc', 'apply / discard the brush strokes'],
    ['c', 'click to track on / off: click the object (shift/alt/right-click: not the object; drag: a box)'],
    ['Enter / Esc (click to track)', 'Track the clicked object through the video / clear the prompt'],
    ['+ / − / 0', 'zoom in / out / fit (also: mouse wheel; drag to pan)'],
    ['?', 'this help; Esc closes it'],
  ];

  const click = (sel) => {
    const el = document.querySelector(sel);
    if (el && !el.disabled) { el.click(); return true; }
    return false;
  };

  // What counts as typing: any field that takes keys itself.
  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.closest('.cv-root') && target.matches('input[type=range]')) return false;  // the viewer's own scrubber
    if (target.isContentEditable) return true;
    if (target.closest('[contenteditable=""], [contenteditable="true"]')) return true;
    if (target.matches('textarea, select, [role=combobox], [role=listbox], [role=textbox]')) return true;
    if (target.matches('input')) return !['button', 'submit', 'reset', 'checkbox', 'radio'].includes(target.type);
    return false;
  }

  // ---- the help overlay -------------------------------------------------------------
  let help = null;
  function buildHelp() {
    const wrap = document.createElement('div');
    wrap.className = 'cv-help';
    wrap.hidden = true;
    wrap.setAttribute('role', 'dialog');
    wrap.setAttribute('aria-label', 'Keyboard shortcuts');
    const box = document.createElement('div');
    box.className = 'cv-help-box';
    const title = document.createElement('h3');
    title.textContent = 'Keyboard shortcuts';
    const table = document.createElement('table');
    for (const [keys, what] of SHORTCUTS) {
      const tr = document.createElement('tr');
      const k = document.createElement('td'); k.className = 'cv-help-keys'; k.textContent = keys;
      const w = document.createElement('td'); w.textContent = what;
      tr.append(k, w); table.appendChild(tr);
    }
    const note = document.createElement('p');
    note.textContent = 'Shortcuts do nothing while you type in a text box. Click outside or press Esc to close.';
    box.append(title, table, note);
    wrap.appendChild(box);
    wrap.addEventListener('click', ev => { if (ev.target === wrap) toggleHelp(false); });
    document.body.appendChild(wrap);
    return wrap;
  }
  function toggleHelp(show) {
    help = help && document.body.contains(help) ? help : buildHelp();
    help.hidden = show === undefined ? !help.hidden : !show;
  }

  // ---- the keys ---------------------------------------------------------------------
  function merge() {
    const picked = document.querySelector('#merge-with input');
    if (picked && picked.value) return click('#merge');
    if (picked) { picked.focus(); picked.click(); }
    return true;
  }

  function handle(ev) {
    const viewer = state.viewer;  // the live one: Gradio may build the component again
    const k = ev.key, ctrl = ev.ctrlKey || ev.metaKey;
    if (help && !help.hidden && (k === 'Escape' || k === '?')) { toggleHelp(false); return true; }
    if (k === '?') { toggleHelp(); return true; }
    if (ctrl && !ev.altKey) {
      const z = k.toLowerCase();
      if (z === 'z') return click(ev.shiftKey ? '#redo' : '#undo');
      if (z === 'y') return click('#redo');
      return false;
    }
    if (ev.altKey) return false;
    switch (k) {
      case 'ArrowRight': viewer.step(ev.shiftKey ? 10 : 1); return true;
      case 'ArrowLeft': viewer.step(ev.shiftKey ? -10 : -1); return true;
      case 'Home': viewer.stop(); viewer.seek(0); return true;
      case 'End': viewer.stop(); viewer.seek(Number.MAX_SAFE_INTEGER); return true;
      case ' ': viewer.togglePlay(); return true;
      case 'Tab': if (!viewer.loaded) return false; viewer.selectNext(ev.shiftKey ? -1 : 1); return true;
      case 'Delete': case 'Backspace': return click('#delete');
      case 'Enter':
        if (viewer.clicking) { viewer.trackClick(); return true; }
        if (!viewer.brushing) return false; viewer.applyBrush(); return true;
      case 'Escape':
        if (viewer.clicking) { if (viewer.prompted) viewer.clearClick(); else viewer.toggleClick(); return true; }
        if (!viewer.brushing) return false; viewer.discardBrush(); return true;
      case '+': case '=': viewer.zoom(1.25); return true;
      case '-': case '_': viewer.zoom(0.8); return true;
      case '0': viewer.fit(); return true;
      case '[': viewer.brushSize(-2); return true;
      case ']': viewer.brushSize(2); return true;
    }
    if (ev.shiftKey) return false;
    if (k >= '1' && k <= '5') { viewer.relabelTop(Number(k)); return true; }
    switch (k.toLowerCase()) {
      case 'm': return merge();
      case 's': return click('#split');
      case 'h': return click('#hide');
      case 'b': viewer.toggleBrush(); return true;
      case 'c': viewer.toggleClick(); return true;
      case 'e': if (!viewer.brushing) return false; viewer.setTool(viewer.tool === 'erase' ? 'paint' : 'erase'); return true;
    }
    return false;
  }

  state.viewer = viewer;
  viewer.help = () => toggleHelp();
  if (!state.installed) {
    state.installed = true;
    let swallowSpaceUp = false;
    // Capture phase: a focused button must not also take Space/Enter as a click.
    document.addEventListener('keydown', ev => {
      if (ev.defaultPrevented || ev.isComposing || typing(ev.target) || !state.viewer) return;
      if (handle(ev)) {
        ev.preventDefault();
        ev.stopPropagation();
        swallowSpaceUp = ev.key === ' ';
        const focused = document.activeElement;
        if (focused && focused.tagName === 'BUTTON') focused.blur();
      }
    }, true);
    document.addEventListener('keyup', ev => {
      if (swallowSpaceUp && ev.key === ' ') { ev.preventDefault(); swallowSpaceUp = false; }
    }, true);
  }
  return {toggleHelp, shortcuts: SHORTCUTS};
}
