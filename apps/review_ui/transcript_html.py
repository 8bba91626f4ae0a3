"""Transcript turns as HTML rows on the session page: escaped text, and a click (or Enter) plays the audio from a turn."""

from __future__ import annotations

from evalkit.review.session_view import SessionView

from . import common

SEEK_JS = """<script>
(function () {
  if (!window.__ekSeek) {
    window.__ekSeek = true;
    const seek = function (el) {
      const a = document.querySelector('audio');
      if (!a) return;
      a.currentTime = parseFloat(el.dataset.ekT);
      const p = a.play(); if (p && p.catch) p.catch(function () {});
    };
    document.addEventListener('click', function (e) {
      const el = e.target.closest && e.target.closest('[data-ek-t]');
      if (el) seek(el);
    });
    document.addEventListener('keydown', function (e) {
      const el = e.target.closest && e.target.closest('[data-ek-t]');
      if (el && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); seek(el); }
    });
  }
  const box = document.querySelector('.ek-transcript');
  const ev = box && box.querySelector('.ev');
  if (ev) box.scrollTop = Math.max(0, ev.offsetTop - box.offsetTop - 80);
})();
</script>"""


def turn_rows(view: SessionView, turn_ids: list[int] | None = None, highlight: set[int] | None = None) -> str:
    """Transcript turns as HTML rows (text escaped); a row with a known time plays the audio from there."""
    highlight = highlight or set()
    wanted = None if turn_ids is None else set(turn_ids)
    rows = []
    for t in view.turns:
        if wanted is not None and t.id not in wanted:
            continue
        start = view.turn_start(t.id)
        cls = "ek-turn ek-row" + (" ev" if t.id in highlight else "")
        attrs = (f' data-ek-t="{start:.2f}" role="button" tabindex="0" title="Play from {common.fmt_time(start)}"'
                 if start is not None else "")
        time_ = f"<span class='ek-time'>▶ {common.fmt_time(start)}</span>" if start is not None else \
            "<span class='ek-time'></span>"
        rows.append(f"<div class='{cls}' data-turn='{t.id}'{attrs}>{time_}<span class='ek-spk {t.speaker.value}'>"
                    f"{t.speaker.value.title()}</span><span class='ek-text'>{common.esc(t.text)}</span></div>")
    return "".join(rows)
