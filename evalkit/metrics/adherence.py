"""Template adherence: does a note have the template's sections, in order, with the content rules met?

The score is the fraction of itemised checks that pass:

- ``present:<section>`` for each required template section;
- ``not_empty:<section>`` for each template section the note has;
- ``order``: the note's sections appear in the template's order (with two sections or more);
- one check per content rule of each section the note has (``rubrics/templates/*.yaml``):
  ``min_sentences``, ``states_action``, ``medications_have_dose`` (left out when the section
  names no drug), ``mentions_any``.

Note headings are mapped to template sections with ``Template.match_heading``; a combined
heading such as ``ASSESSMENT AND PLAN`` counts for each template section it names.
Checks carry section keys and sentence ids only, never note text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Final

from ..text.normalize import normalize_words
from ..schema import Note, NoteSentence, Score
from ..text.templates import Template, TemplateSection, load_template
from ..text.vocab import drugs, units

__all__ = ["AdherenceCheck", "AdherenceResult", "adherence", "adherence_scores", "states_action", "drugs_without_dose"]


@dataclass
class AdherenceCheck:
    """One itemised check: ``name`` is ``<kind>:<section>`` (or ``order``)."""

    name: str
    section: str | None
    passed: bool
    why: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class AdherenceResult:
    """Adherence of one note to one template."""

    template: str
    score: float
    checks: list[AdherenceCheck]
    missing: list[str]  # required template sections absent from the note
    extra_sections: list[str]  # note headings that match no template section

    @property
    def failed(self) -> list[AdherenceCheck]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- sentence tests

_ACTION: Final = re.compile(
    r"\b(?:start|stop|continu|refer|order|review|prescri|increas|decreas|reduc|schedul|follow(?:s|ed|ing)?[\s-]+up|"
    r"recommend|advis|obtain|check|recheck|repeat|monitor|return|discuss|counsel|book|arrang|send|sent|"
    r"administer|give|given|gave|taper|discontinu|hold|held|switch|chang|consider|will|get|see|call|contact|"
    r"educat|encourag|answer|explain|reassur|appl|use|take|avoid|perform|initiat|begin|began|resum|titrat|add|"
    r"request|provid|instruct|inject|treat|plan|aim|keep|maintain|trial|organi[sz]|draw|place|admit|discharg|"
    r"restart|wean|limit|rest|ice|elevat|exercis|stretch|hydrat|physio)\w*",
    re.IGNORECASE)


def states_action(sentence: str) -> bool:
    """True if the sentence states an action (start, stop, refer, order, follow up, will...).

    Args:
        sentence: one note sentence.
    """
    return bool(_ACTION.search(sentence))


@lru_cache(maxsize=1)
def _drug_index() -> tuple[frozenset[tuple[str, ...]], int]:
    keys = frozenset(k for k in (tuple(normalize_words(d)) for d in drugs()) if k)
    return keys, max(len(k) for k in keys)


@lru_cache(maxsize=1)
def _unit_words() -> frozenset[str]:
    out: set[str] = set()
    for u in units():
        out.update(normalize_words(u))
    return frozenset(out | {"percent", "mg", "mcg", "g", "ml", "units", "iu"})


_NUMBER: Final = re.compile(r"^\d+(?:[./]\d+)*$")


def drugs_without_dose(sentence: str) -> tuple[int, int]:
    """Count drug mentions in a sentence and how many lack a dose.

    A dose is a number followed by a unit (``500 mg``, ``2 puffs``), or a number right after
    the drug name (``lisinopril 20``), found after the drug and before the next drug.

    Args:
        sentence: one note sentence.

    Returns:
        ``(drug mentions, mentions without a dose)``.
    """
    words = normalize_words(sentence)
    keys, longest = _drug_index()
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 0, -1):
            if tuple(words[i:i + size]) in keys:
                spans.append((i, i + size))
                i += size
                break
        else:
            i += 1
    unit_words = _unit_words()
    missing = 0
    for n, (a, b) in enumerate(spans):
        end = spans[n + 1][0] if n + 1 < len(spans) else len(words)
        seg = words[b:end]
        has = bool(seg) and bool(_NUMBER.match(seg[0]))
        for k in range(len(seg) - 1):
            if _NUMBER.match(seg[k]) and seg[k + 1] in unit_words:
                has = True
                break
        missing += not has
    return len(spans), missing


# --------------------------------------------------------------------------- mapping


_SPLIT_HEADING: Final = re.compile(r"\s+(?:AND|&)\s+|\s*/\s*", re.IGNORECASE)


def _map_heading(template: Template, key: str, title: str) -> list[TemplateSection]:
    if title:
        ts = template.match_heading(title)
        if ts is not None:
            return [ts]
        parts = [p for p in _SPLIT_HEADING.split(title) if p.strip()]
        if len(parts) > 1:
            matched = [template.match_heading(p) for p in parts]
            if all(m is not None for m in matched):
                return list({m.key: m for m in matched if m is not None}.values())
    base = re.sub(r"_\d+$", "", key)
    for ts in template.sections:
        if ts.key == base:
            return [ts]
    return []


# --------------------------------------------------------------------------- the metric


_ALLERGY: Final = re.compile(r"allerg|intoleran|reaction|\bcauses?\b|\bnkda\b|side effect", re.IGNORECASE)


def _rule_check(rule: Any, ts: TemplateSection, sents: list[NoteSentence],
                allergy_ids: frozenset[str] = frozenset(), combined: bool = False) -> AdherenceCheck | None:
    name = f"{rule.rule}:{ts.key}"
    if rule.rule == "min_sentences":
        need = int(rule.value or 1)
        return AdherenceCheck(name, ts.key, len(sents) >= need, rule.why, {"sentences": len(sents), "min": need})
    if rule.rule == "states_action":
        acts = [states_action(s.text) for s in sents]
        items = [(s, a) for s, a in zip(sents, acts) if len(s.text.split()) >= 4]  # short problem titles are exempt
        without = [s.id for s, a in items if not a]
        has_any = any(acts)
        # in an assessment-and-plan section the assessment sentences need no action: one action suffices
        combined = combined or "assessment" in ts.sources
        ok = has_any if combined else (has_any and not without)
        return AdherenceCheck(name, ts.key, ok, rule.why, {"items": len(items), "without_action": without})
    if rule.rule == "medications_have_dose":
        mentions = missing = 0
        bad: list[str] = []
        for s in sents:
            if s.id in allergy_ids or _ALLERGY.search(s.text):
                continue  # an allergy names a drug without a dose
            m, miss = drugs_without_dose(s.text)
            mentions += m
            missing += miss
            if miss:
                bad.append(s.id)
        if not mentions:
            return None  # not applicable: no drug named
        return AdherenceCheck(name, ts.key, missing == 0, rule.why,
                              {"mentions": mentions, "without_dose": missing, "sentences": bad})
    if rule.rule == "mentions_any":
        wanted = rule.value if isinstance(rule.value, list) else [rule.value]
        text = " " + " ".join(w for s in sents for w in normalize_words(s.text)) + " "
        hit = any(" " + " ".join(normalize_words(str(p))) + " " in text for p in wanted if str(p).strip())
        return AdherenceCheck(name, ts.key, hit, rule.why, {"options": len(wanted)})
    return None


def adherence(note: Note, template: Template | str) -> AdherenceResult:
    """Check a note against a template and itemise what passed and failed.

    Args:
        note: the note (parsed with or without the template; headings are re-mapped).
        template: a :class:`~evalkit.text.templates.Template` or a template name (``SOAP``...).

    Returns:
        An :class:`AdherenceResult` whose ``score`` is passed checks / checks (0–1).

    Raises:
        InputError: an unknown template name.
    """
    tpl = load_template(template) if isinstance(template, str) else template
    order = {ts.key: i for i, ts in enumerate(tpl.sections)}
    content: dict[str, list[NoteSentence]] = {}
    first_pos: dict[str, int] = {}
    extra: list[str] = []
    sequence: list[str] = []  # template keys in note order
    combined_keys: set[str] = set()
    allergy_ids = frozenset(s.id for sec in note.sections if "ALLERG" in sec.title.upper() for s in sec.sentences)
    for pos, sec in enumerate(note.sections):
        mapped = _map_heading(tpl, sec.key, sec.title)
        if not mapped:
            extra.append(sec.title or sec.key)
            continue
        if len(mapped) > 1:
            combined_keys.update(ts.key for ts in mapped)
        for ts in mapped:
            content.setdefault(ts.key, []).extend(sec.sentences)
            if ts.key not in first_pos:
                first_pos[ts.key] = pos
                sequence.append(ts.key)
    checks: list[AdherenceCheck] = []
    missing = [ts.key for ts in tpl.sections if ts.required and ts.key not in content]
    for ts in tpl.sections:
        if ts.required:
            checks.append(AdherenceCheck(f"present:{ts.key}", ts.key, ts.key in content,
                                         f"The {tpl.name} template requires a {ts.title} section."))
    for ts in tpl.sections:
        if ts.key in content:
            checks.append(AdherenceCheck(f"not_empty:{ts.key}", ts.key, bool(content[ts.key]),
                                         f"{ts.title} has a heading but no text.",
                                         {"sentences": len(content[ts.key])}))
    violation = None
    for a, b in zip(sequence, sequence[1:]):
        if order[b] < order[a]:
            violation = {"section": b, "after": a}
            break
    if len(sequence) >= 2:  # order is only checkable with two sections or more
        checks.append(AdherenceCheck("order", None, violation is None,
                                     f"Sections should follow the {tpl.name} order: "
                                     + ", ".join(ts.title for ts in tpl.sections) + ".",
                                     violation or {}))
    for ts in tpl.sections:
        if ts.key not in content:
            continue
        for rule in ts.rules:
            c = _rule_check(rule, ts, content[ts.key], allergy_ids, ts.key in combined_keys)
            if c is not None:
                checks.append(c)
    score = sum(c.passed for c in checks) / len(checks) if checks else 0.0
    return AdherenceResult(template=tpl.name, score=score, checks=checks, missing=missing, extra_sections=extra)


def adherence_scores(result: AdherenceResult, session_id: str) -> list[Score]:
    """One ``adherence`` Score; the detail names the failed checks (no note text).

    Args:
        result: the output of :func:`adherence`.
        session_id: ``f"{run_id}:{consultation_id}"``.
    """
    failed = [{"check": c.name, "why": c.why, **({"detail": c.detail} if c.detail else {})} for c in result.failed]
    detail = {"template": result.template, "passed": len(result.checks) - len(failed), "total": len(result.checks),
              "missing": result.missing, "failed": failed, "extra_sections": result.extra_sections}
    return [Score(session_id=session_id, metric="adherence", value=result.score, detail=detail)]
