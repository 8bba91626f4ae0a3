"""LLM-as-judge through litellm: claim-level hallucinations and omissions (CREOLA), PDQI-9,
content adherence, and juries of several judges.

``make_llm_judge(spec)`` builds a judge from a suite's ``judge:`` value — a model string, a
mapping ``{model, api_base, ...}`` (:class:`~evalkit.llm.spec.ModelSpec` fields plus ``rubric``
and ``repairs``), or a jury ``{jury: [...], rule: majority|any_major}`` / a list. A judge has
``.name``, ``.version``, ``.prompt_hash``, ``.judge(transcript, note, case) -> JudgeResult`` and
``await .ajudge(...)``.

How a note is judged: every note sentence is shown with its id (``[S:plan.0]``) and every turn
with its number (``[T12 patient]``); the model returns a verdict per claim (supported /
unsupported / contradicted, with a CREOLA type and major/minor severity and evidence turn
numbers) and the omissions. Long transcripts are judged in overlapping windows and long notes
in batches (verdicts merged: supported anywhere wins, then contradicted, then unsupported).
Sentences a reply skipped or got wrong are asked again; what still fails is named in
``JudgeResult.error`` — never dropped silently. Calls are cached, retried and budgeted by
:class:`~evalkit.llm.client.LLMClient`.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..errors import InputError
from .client import Budget, LLMClient
from .render import batches, est_tokens, note_of, render_sentences, render_turns, turns_of, windows
from .rubric_judges import RubricScorer
from .rubrics import Rubric, load_rubric
from .schemas import ClaimsReply, ClaimVerdict, OmissionOut
from .spec import ModelSpec
from .structured import ask, describe_validation
from .transport import LLMCallError
from ..schema import Claim, JudgeResult, NoteSection, NoteSentence, Omission, Score, Turn

_RANK = {"supported": 0, "unsupported": 1, "contradicted": 2}
_BATCH_KEYS = {"batch", "batch_poll", "batch_leftovers"}  # batch mode (evalkit.llm.batch), for suite runs
_JUDGE_KEYS = {"rubric", "repairs", "concurrency", "scores"} | _BATCH_KEYS
RUBRIC_SCORES = ("pdqi", "adherence")


@dataclass
class _Part:
    """Verdicts and omissions from one window × batch of sentences."""

    verdicts: dict[str, list[ClaimVerdict]] = field(default_factory=dict)
    omissions: list[OmissionOut] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    costs: list[float | None] = field(default_factory=list)
    salient: int | None = None


class LLMJudge:
    """A claim-level hallucination and omission judge calling one model through litellm.

    Args:
        spec: the model (a :class:`ModelSpec`, model string or mapping).
        client: a shared :class:`LLMClient` (cache, budget, concurrency); one is made if None.
        store: the Store for the reply cache and ``llm_calls`` when no client is given.
        run_id: recorded on ``llm_calls`` rows when no client is given.
        rubric: the rubric name or YAML path (``claims``).
        repairs: follow-up rounds after an unusable reply.
        concurrency: calls in flight when no client is given.
        budget: a :class:`Budget` when no client is given.
        scores: rubric scores a suite run also stores per session (:meth:`judge_scored`): ``pdqi``
            (``pdqi_<item>``, 1–5) and/or ``adherence`` (``adherence_content``).
    """

    def __init__(self, spec: ModelSpec | str | dict, *, client: LLMClient | None = None, store: Any = None,
                 run_id: str | None = None, rubric: str = "claims", repairs: int = 1, concurrency: int = 16,
                 budget: Budget | None = None, scores: list[str] | tuple[str, ...] = ()):
        bad = [x for x in scores if x not in RUBRIC_SCORES] if isinstance(scores, (list, tuple)) else [scores]
        if bad:
            raise InputError("judge", "scores", f"unknown rubric score(s) {bad}",
                             f"use a list of any of: {', '.join(RUBRIC_SCORES)}")
        self.scores = tuple(scores)
        self.spec = spec if isinstance(spec, ModelSpec) else ModelSpec.parse(spec)
        self.rubric: Rubric = load_rubric(rubric)
        self.client = client or LLMClient(store, run_id=run_id, concurrency=concurrency, budget=budget)
        self.repairs = repairs
        self.name = self.spec.label
        self.version = f"{self.rubric.name}-{self.rubric.version}"
        self.prompt_hash = self.rubric.prompt_hash
        self.stats = {"invalid_evidence": 0, "unknown_sentence_ids": 0}
        self._admit: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = \
            weakref.WeakKeyDictionary()
        self.batch: Any = None  # BatchOptions when a suite asks for batch mode (``batch: true``)
        self._scorer = RubricScorer(self.spec, self.client, repairs=repairs)
        self._system = self.rubric.render("system")
        self._overhead = est_tokens(self._system + self.rubric.render(
            "user", part=self.rubric.partial + self.rubric.claims_only, transcript="", note="", n_sentences=999,
            sentence_ids=""))

    # ------------------------------------------------------------------ public API

    def judge(self, transcript: Any, note: Any, case: Any = None) -> JudgeResult:
        """Judge a note against a transcript (blocking; safe from many threads)."""
        return self.client.run(self.ajudge(transcript, note, case))

    async def ajudge(self, transcript: Any, note: Any, case: Any = None) -> JudgeResult:
        """Judge a note against a transcript.

        Args:
            transcript: list of :class:`Turn`, ACI-Bench text, or a list of ``{speaker, text}``.
            note: a :class:`Note` or plain text with upper-case headings.
            case: the case card (unused by the prompt; accepted for the judge protocol).

        Raises:
            BudgetExceeded: the run's budget is spent (the run should stop and resume later).
        """
        await self.client.aready(self.spec, self.prompt_hash)
        async with self._admission():
            return await self._ajudge(transcript, note)

    def judge_scored(self, transcript: Any, note: Any, case: Any, session_id: str) -> tuple[JudgeResult, list[Score]]:
        """:meth:`judge`, plus the rubric scores named by ``scores`` (how a suite run stores PDQI-9 and
        content adherence next to the claims: ``judge: {model: ..., scores: [pdqi, adherence]}``)."""
        async def both() -> tuple[JudgeResult, list[Score]]:
            if not self.scores:
                return await self.ajudge(transcript, note, case), []
            res, extra = await asyncio.gather(self.ajudge(transcript, note, case),
                                              self.arubric_scores(session_id, transcript, note, getattr(note, "template", None) or None,
                                                                  which=self.scores))
            return res, extra

        return self.client.run(both())

    def _admission(self) -> asyncio.Semaphore:
        """Notes prepared or judged at once on this loop (four times the client's concurrency): with
        thousands queued, the first requests leave as soon as they are built, not after all are."""
        loop = asyncio.get_running_loop()
        sem = self._admit.get(loop)
        if sem is None:
            sem = self._admit[loop] = asyncio.Semaphore(max(64, 4 * self.client.concurrency))
        return sem

    async def _ajudge(self, transcript: Any, note: Any) -> JudgeResult:
        turns, nt = turns_of(transcript), note_of(note)
        items = nt.sentences()
        res = JudgeResult(judge=self.name, judge_version=self.version, prompt_hash=self.prompt_hash)
        if not items:
            return res
        texts = {id(turns): render_turns(turns), id(items): render_sentences(items)}  # rendered once
        ws, bs, full = self._plan(turns, items, texts)
        jobs = [self._judge_part(w, i, len(ws), b, items if full else b, omissions=(k == 0 and full), texts=texts)
                for i, w in enumerate(ws) for k, b in enumerate(bs)]
        parts = [await jobs[0]] if len(jobs) == 1 else list(await asyncio.gather(*jobs))  # no task for one
        if not full:
            parts[0].errors.append("omissions not checked: the note is too long to show whole in "
                                   f"{self.spec.label}'s context")
        return self._assemble(res, turns, items, parts, multi_window=len(ws) > 1)

    def rubric_scores(self, session_id: str, transcript: Any, note: Any, template: str | None = None,
                      which: tuple[str, ...] = ("pdqi", "adherence")) -> list[Score]:
        """PDQI-9 (``pdqi_<item>``) and content-adherence (``adherence_content``) Score records."""
        return self.client.run(self._scorer.ascores(session_id, turns_of(transcript), note_of(note, template),
                                                    template, which))

    async def arubric_scores(self, session_id: str, transcript: Any, note: Any, template: str | None = None,
                             which: tuple[str, ...] = ("pdqi", "adherence")) -> list[Score]:
        return await self._scorer.ascores(session_id, turns_of(transcript), note_of(note, template), template, which)

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ planning

    def _plan(self, turns: list[Turn], items: list[tuple[NoteSection, NoteSentence]], texts: dict[int, str]
              ) -> tuple[list[list[Turn]], list[list[tuple[NoteSection, NoteSentence]]], bool]:
        """Transcript windows, sentence batches, and whether every request can show the whole note.

        Sentences are batched so each reply fits ``max_tokens`` (~70 tokens a claim); the whole note
        is shown with each batch when it takes at most a third of the room, else each batch shows
        only its own sentences. The transcript is windowed into what room is left.
        """
        ctx = self.spec.context()
        avail = ctx - self.spec.max_tokens - self._overhead - 64
        if avail < 256:
            raise InputError("judge", "context_tokens", f"{self.spec.label}: a {ctx}-token context leaves no room "
                             f"for the transcript after a {self.spec.max_tokens}-token reply",
                             "raise context_tokens or lower max_tokens in the judge spec")
        max_items = max(4, self.spec.max_tokens // 70)
        note_tokens = est_tokens(texts[id(items)]) + 4 * len(items)  # + the id list
        transcript_tokens = est_tokens(texts[id(turns)])
        full = note_tokens <= avail // 3 or note_tokens + transcript_tokens <= avail
        if full:
            bs = batches(items, 10**9, max_items)
            used = note_tokens
        else:
            bs = batches(items, avail // 3, max_items)
            used = max(est_tokens(render_sentences(b)) + 4 * len(b) for b in bs)
        room = max(avail - used, 128)
        return ([turns] if transcript_tokens <= room else windows(turns, room)), bs, full

    # ------------------------------------------------------------------ one part

    def _parser(self, ids: set[str]):
        def parse(value: Any) -> tuple[_Part | None, str | None]:
            if isinstance(value, list):
                value = {"claims": value}
            if not isinstance(value, dict) or not isinstance(value.get("claims"), list):
                return None, "reply must be an object with a 'claims' list"
            part = _Part()
            bad: list[str] = []
            for k, c in enumerate(value["claims"]):
                try:
                    v = ClaimVerdict.model_validate(c)
                except ValidationError as e:
                    bad.append(f"claims[{k}]: {describe_validation(e, 1)}")
                    continue
                if v.sentence_id not in ids:
                    self.stats["unknown_sentence_ids"] += 1
                    continue
                same = part.verdicts.setdefault(v.sentence_id, [])
                if not any((x.text, x.verdict, x.type) == (v.text, v.verdict, v.type) for x in same):
                    same.append(v)  # a model repeating itself does not multiply claims
            sf = value.get("salient_facts")
            part.salient = int(sf) if isinstance(sf, (int, float)) and not isinstance(sf, bool) and sf >= 0 else None
            for k, o in enumerate(value.get("omissions") or []):
                try:
                    part.omissions.append(OmissionOut.model_validate(o))
                except ValidationError as e:
                    part.errors.append(f"omission {k} unusable ({describe_validation(e, 1)})")
            if not part.verdicts and ids:
                return None, "; ".join(bad) or "no verdict for any listed sentence id"
            return part, None

        return parse

    async def _judge_part(self, window: list[Turn], index: int, total: int,
                          batch: list[tuple[NoteSection, NoteSentence]],
                          shown: list[tuple[NoteSection, NoteSentence]], omissions: bool = True,
                          depth: int = 0, texts: dict[int, str] | None = None) -> _Part:
        """Verdicts for ``batch`` against one transcript window (``shown``: the note sentences displayed)."""
        ids = [s.id for _, s in batch]
        only_some = not omissions or len(batch) < len(shown)
        part_text = ""
        if total > 1:
            part_text += self.rubric.render("partial", index=index + 1, total=total, first=window[0].id,
                                            last=window[-1].id) + "\n"
        if only_some:
            part_text += self.rubric.render("claims_only") + "\n"
        msgs = [{"role": "system", "content": self._system},
                {"role": "user", "content": self.rubric.render(
                    "user", part=part_text, transcript=(texts or {}).get(id(window)) or render_turns(window),
                    note=(texts or {}).get(id(shown)) or render_sentences(shown),
                    n_sentences=len(ids), sentence_ids=", ".join(ids))}]
        try:
            out = await ask(self.client, self.spec, self.rubric, msgs, ClaimsReply, purpose="judge",
                            parse=self._parser(set(ids)), repairs=self.repairs, partial_ok=True)
        except LLMCallError as e:
            if e.context_window and len(batch) > 1 and depth < 3:
                return await self._split(window, index, total, batch, batch, omissions, depth)
            return _Part(errors=[f"{len(ids)} sentence(s) not judged: call failed: {e}"])
        if out.value is None:
            if out.truncated and len(batch) > 1 and depth < 3:
                return await self._split(window, index, total, batch, shown, omissions, depth, out.cost_usd)
            return _Part(errors=[f"{len(ids)} sentence(s) not judged: {out.error}"], costs=[out.cost_usd])
        part: _Part = out.value
        part.costs.append(out.cost_usd)
        if not omissions:
            part.omissions, part.salient = [], None
        missing = [it for it in batch if it[1].id not in part.verdicts]
        if missing:
            if depth < 2:
                sub = await self._judge_part(window, index, total, missing, shown, False, depth + 1)
                part.verdicts.update(sub.verdicts)
                part.errors += sub.errors
                part.costs += sub.costs
            else:
                part.errors.append(f"{len(missing)} sentence(s) not judged: the model skipped them")
        return part

    async def _split(self, window: list[Turn], index: int, total: int, batch: list[tuple[NoteSection, NoteSentence]],
                     shown: list[tuple[NoteSection, NoteSentence]], omissions: bool, depth: int,
                     cost: float | None = None) -> _Part:
        """Judge a batch in two halves: after a truncated reply (each half still shows ``shown``) or
        a context overflow (``shown`` is the batch itself, so each half shows only its sentences)."""
        half = len(batch) // 2
        own = shown is batch
        a, b = await asyncio.gather(
            self._judge_part(window, index, total, batch[:half], batch[:half] if own else shown, omissions, depth + 1),
            self._judge_part(window, index, total, batch[half:], batch[half:] if own else shown, False, depth + 1))
        errors = a.errors + b.errors
        if own and omissions:
            errors.append("omissions checked against part of the note only (context overflow)")
        return _Part({**a.verdicts, **b.verdicts}, a.omissions, errors, [cost] + a.costs + b.costs, a.salient)

    # ------------------------------------------------------------------ assembling

    def _assemble(self, res: JudgeResult, turns: list[Turn], items: list[tuple[NoteSection, NoteSentence]],
                  parts: list[_Part], multi_window: bool) -> JudgeResult:
        valid = {t.id for t in turns}

        def ev(ids: list[int]) -> list[int]:
            good = [i for i in dict.fromkeys(ids) if i in valid]
            self.stats["invalid_evidence"] += len(ids) - len(good)
            return good

        by_sid: dict[str, list[list[ClaimVerdict]]] = {}
        for p in parts:
            for sid, vs in p.verdicts.items():
                by_sid.setdefault(sid, []).append(vs)
        claims: list[Claim] = []
        for sec, s in items:
            groups = by_sid.get(s.id)
            if not groups:
                continue
            vs = groups[0] if not multi_window else [_merge_windows(groups)]
            for n, v in enumerate(vs):
                # fields were validated by ClaimVerdict: construct without validating twice. `sources` is
                # given: for a default_factory field model_construct inspects the factory's signature on
                # every call (~0.4 ms for `list`, five claims a call: most of a judge call's client CPU)
                claims.append(Claim.model_construct(
                    id=f"{s.id}#{n}", sentence_id=s.id, section=sec.key, text=v.text or s.text, verdict=v.verdict,
                    type=v.type, severity=v.severity, evidence=ev(v.evidence), rationale=v.rationale, sources=[]))
        omissions: list[Omission] = []
        seen: set[str] = set()
        for p in parts:
            for o in p.omissions:
                k = re.sub(r"\W+", " ", o.text.lower()).strip()
                if k in seen:
                    continue
                seen.add(k)
                omissions.append(Omission(id=f"omission.{len(omissions)}", text=o.text,
                                          category=o.category, severity=o.severity,  # type: ignore[arg-type]
                                          evidence=ev(o.evidence)))
        errors = list(dict.fromkeys(e for p in parts for e in p.errors))
        costs = [c for p in parts for c in p.costs]
        res.claims, res.omissions = claims, omissions
        reported = [p.salient for p in parts if p.salient is not None]
        res.salient_facts = max(sum(reported), len(omissions)) if reported else None
        res.cost_usd = None if costs and all(c is None for c in costs) else sum(c or 0.0 for c in costs)
        res.error = "; ".join(errors) if errors else None
        return res


def _merge_windows(groups: list[list[ClaimVerdict]]) -> ClaimVerdict:
    """One verdict per sentence across transcript windows: supported anywhere wins, then contradicted."""
    worst = [max(vs, key=lambda v: (_RANK[v.verdict], v.severity == "major")) for vs in groups]
    supported = [v for v in worst if v.verdict == "supported"]
    if supported:
        best = supported[0]
        evidence = [e for v in supported for e in v.evidence]
        return best.model_copy(update={"evidence": evidence})
    return max(worst, key=lambda v: (_RANK[v.verdict], v.severity == "major"))


def make_llm_judge(spec: Any, *, store: Any = None, run_id: str | None = None, client: LLMClient | None = None,
                   budget: Budget | None = None, concurrency: int = 16, api_base: str | None = None) -> Any:
    """A judge (or a jury) from a suite or CLI spec.

    Args:
        spec: ``"openai/gpt-4o-mini"``; ``{"model": ..., "api_base": ..., "rubric": ..., "repairs": ...}``;
            ``{"jury": [spec, ...], "rule": "majority" | "any_major"}``; or a list of specs (majority jury).
        store: Store for the reply cache and call accounting.
        run_id: recorded on ``llm_calls``.
        client: share an existing client (cache, budget and concurrency) instead.
        budget: a :class:`Budget` for a new client.
        concurrency: calls in flight for a new client.
        api_base: default ``api_base`` for specs that give none (``--api-base``).
    """
    from .jury import Jury

    client = client or LLMClient(store, run_id=run_id, concurrency=concurrency, budget=budget)
    if isinstance(spec, dict) and "jury" in spec:
        members, rule = spec["jury"], spec.get("rule", "majority")
        if not isinstance(members, list) or len(members) < 2:
            raise InputError("judge", "jury", "a jury needs a list of at least two judges",
                             "jury: [openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest]")
        return Jury([make_llm_judge(m, client=client, api_base=api_base) for m in members], rule=rule)
    if isinstance(spec, list):
        return make_llm_judge({"jury": spec}, client=client, api_base=api_base)
    opts: dict[str, Any] = {}
    if isinstance(spec, dict):
        opts = {k: spec[k] for k in _JUDGE_KEYS & set(spec) if k != "concurrency" and k not in _BATCH_KEYS}
        batch = _batch_options(spec)
        spec = {k: v for k, v in spec.items() if k not in _JUDGE_KEYS}
    else:
        batch = None
    model_spec = ModelSpec.parse(spec, "judge")
    if api_base and not model_spec.api_base:
        model_spec = model_spec.model_copy(update={"api_base": api_base})
    judge = LLMJudge(model_spec, client=client, **opts)
    judge.batch = batch
    return judge


def _batch_options(spec: dict) -> Any:
    """``judge: {model: ..., batch: true, batch_poll: 30, batch_leftovers: live}`` → BatchOptions, or None."""
    from .batch import BatchOptions

    on = spec.get("batch", False)
    if not isinstance(on, bool):
        raise InputError("judge", "batch", f"expected true or false, got {on!r}", "write batch: true")
    if not on:
        if set(spec) & (_BATCH_KEYS - {"batch"}):
            raise InputError("judge", "batch_poll", "batch options without batch: true",
                             "add batch: true, or drop batch_poll and batch_leftovers")
        return None
    poll = spec.get("batch_poll", 30.0)
    if isinstance(poll, bool) or not isinstance(poll, (int, float)):
        raise InputError("judge", "batch_poll", f"expected seconds, got {poll!r}", "write e.g. batch_poll: 30")
    try:
        return BatchOptions(poll=float(poll), leftovers=spec.get("batch_leftovers", "live"))
    except InputError as e:
        raise InputError("judge", e.source.lstrip("-").replace("-", "_"), e.problem, e.fix) from None


__all__ = ["LLMJudge", "make_llm_judge"]
