"""Word and character error rates for transcripts: overall, medical terms, numbers, per speaker.

Every rate is computed on text normalised by the chosen normaliser (:mod:`evalkit.text.normalizers`:
``evalkit``, :data:`evalkit.text.normalize.NORMALIZE`, by default; ``whisper``, Whisper's
EnglishTextNormalizer), with one word alignment per pair (rapidfuzz's C Levenshtein, the one
jiwer uses), so ``wer`` equals ``jiwer.wer`` on the normalised strings. Per-speaker and medical rates come from the same
alignment: each reference word's error is charged to that word's speaker; an inserted
word is charged to the speaker of the neighbouring reference word (see ``_insert_speaker``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, fields
from functools import lru_cache
from itertools import chain, repeat
from typing import Any, Final, Iterable, NamedTuple, Sequence

from rapidfuzz.distance import Levenshtein

from ..errors import InputError
from ..text.normalize import normalize_words
from ..text.normalizers import NORMALIZATION_ID, Normalizer, get_normalizer
from ..text.wordscan import indices_of
from ..schema import Score, SpeakerRole, Turn
from ..text.vocab import anatomy, conditions, drugs, units

__all__ = ["AlignOp", "WerResult", "wer_details", "wer_scores", "medical_mask", "normalized_pair", "NORMALIZATION_ID"]

_NUMERIC: Final = re.compile(r"\d")
_LATERALITY: Final = frozenset("left right bilateral bilaterally unilateral upper lower anterior posterior medial "
                        "lateral proximal distal superior inferior dorsal ventral".split())
_AMBIGUOUS: Final = frozenset({"back"})  # anatomy words that are mostly ordinary words in speech
_TURN_BREAK: Final = "qzxturnbreakqzx"  # joins turns for one normalisation call; no rule spans it
_TURN_BREAKS: Final = frozenset({_TURN_BREAK})


class AlignOp(NamedTuple):
    """One step of the word alignment (for the diff view)."""

    op: str  # "equal" | "substitute" | "delete" | "insert"
    ref: str | None
    hyp: str | None
    speaker: str | None  # the reference speaker the step is charged to (SpeakerRole value)
    medical: bool  # the reference word is a medical term (drug, condition, anatomy, dose)


@dataclass
class WerResult:
    """Everything :func:`wer_details` measures on one reference/hypothesis pair.

    Rates are ``None`` when their denominator is zero (e.g. no patient words).
    """

    wer: float
    cer: float
    hits: int
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int
    hyp_words: int
    medical_wer: float | None
    medical_words: int
    medical_errors: int
    numeric_error_rate: float | None
    numeric_words: int
    numeric_errors: int
    wer_clinician: float | None
    wer_patient: float | None
    speakers: dict[str, dict[str, int]] = field(default_factory=dict)  # role → {words, errors}
    missed_terms: list[tuple[str, str | None]] = field(default_factory=list)  # (ref term word, hyp word)
    misheard_numbers: list[tuple[str, str | None]] = field(default_factory=list)  # ("500 mg", "100 mg"), numeric safety
    normalizer: str = "evalkit"  # the normaliser's name (evalkit.text.normalizers)
    normalization: str = NORMALIZATION_ID  # its versioned id
    _src: Any = field(default=None, repr=False, compare=False)  # what the alignment is built from

    @property
    def alignment(self) -> list[AlignOp]:
        """The word alignment, one :class:`AlignOp` per step (built on first use)."""
        if self._src is None:
            return []
        if isinstance(self._src, list):
            return self._src
        ref, hyp, spk, med, ops, ins_spk = self._src
        out: list[AlignOp] = []
        for k, (tag, i1, i2, j1, j2) in enumerate(ops):
            if tag == "equal":
                out.extend(AlignOp("equal", ref[i], hyp[j1 + i - i1], spk[i], med[i]) for i in range(i1, i2))
            elif tag == "replace":
                out.extend(AlignOp("substitute", ref[i], hyp[j1 + i - i1], spk[i], med[i]) for i in range(i1, i2))
            elif tag == "delete":
                out.extend(AlignOp("delete", ref[i], None, spk[i], med[i]) for i in range(i1, i2))
            else:
                out.extend(AlignOp("insert", None, hyp[j], ins_spk[k], False) for j in range(j1, j2))
        self._src = out
        return out

    def to_dict(self, alignment: bool = False) -> dict[str, Any]:
        """Plain dict; the alignment and missed terms (patient text) only when asked."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        d["speakers"] = {k: dict(v) for k, v in self.speakers.items()}
        if alignment:
            d["alignment"] = [a._asdict() for a in self.alignment]
        else:
            d.pop("missed_terms")
            d.pop("misheard_numbers")
        return d


# --------------------------------------------------------------------------- inputs


def _words_and_speakers(value: str | Sequence[Turn] | Sequence[dict], source: str,
                        with_speakers: bool = True, norm: Normalizer | None = None) -> tuple[list[str], list[str | None]]:
    """Normalised words of a transcript, with the speaker role of each word (None for plain text;
    an empty list when ``with_speakers`` is false). ``norm`` None is the evalkit normaliser."""
    if isinstance(value, str):
        from ..text.parse import has_speaker_tags, parse_transcript

        if has_speaker_tags(value):
            value = parse_transcript(value, source=source)
        else:
            w = normalize_words(value) if norm is None else norm.words(value)
            return w, [None] * len(w)
    texts: list[str] = []
    roles: list[str] = []
    for i, t in enumerate(value):
        if isinstance(t, Turn):
            texts.append(t.text)
            roles.append(t.speaker._value_)  # = .value, without the enum property lookup
        elif isinstance(t, dict) and "text" in t:
            from ..text.parse import speaker_role

            texts.append(str(t["text"]))
            roles.append(speaker_role(str(t.get("speaker", "other"))).value)
        else:
            raise InputError(source, f"[{i}]", "each turn needs 'speaker' and 'text'",
                             'give a list of {"speaker": "doctor", "text": "..."} or plain text')
    if not texts:  # an empty list of turns: no words (the caller decides whether that is an error)
        return [], []
    if norm is not None:  # another normaliser: one call per turn (its rules may not know the break word)
        out: list[str] = []
        spk: list[str | None] = []
        for text, role in zip(texts, roles):
            tw = norm.words(text)
            out.extend(tw)
            if with_speakers:
                spk.extend([role] * len(tw))
        return out, spk
    # one pipeline call for the whole transcript: a break word keeps turns apart (no rule spans it)
    words = normalize_words(f" {_TURN_BREAK} ".join(texts))  # a new list: ours to edit
    breaks = indices_of(words, _TURN_BREAKS)
    speakers: list[str | None] = []
    if with_speakers:
        ends = [*breaks, len(words)]
        sizes = [end - start - 1 for start, end in zip([-1, *breaks], ends)]  # words per turn
        speakers = list(chain.from_iterable(map(repeat, roles, sizes)))
    for i in reversed(breaks):
        del words[i]
    return words, speakers


# --------------------------------------------------------------------------- medical terms


def _first_words(keys: Iterable[tuple[str, ...]]) -> dict[str, tuple[int, ...]]:
    sizes: dict[str, set[int]] = {}
    for k in keys:
        sizes.setdefault(k[0], set()).add(len(k))
    return {w: tuple(sorted(v, reverse=True)) for w, v in sizes.items()}


def _norm_words(norm: Normalizer | None) -> Any:
    return normalize_words if norm is None else norm.words


@lru_cache(maxsize=4)
def _lexicon_index(norm_name: str = "evalkit") -> tuple[dict[tuple[str, ...], str], dict[str, tuple[int, ...]]]:
    """Normalised lexicon: word tuple → category, and first word → term lengths (longest first)."""
    index: dict[tuple[str, ...], str] = {}
    words_of = normalize_words if norm_name == "evalkit" else get_normalizer(norm_name).words
    for cat, terms in (("units", units()), ("anatomy", anatomy()), ("conditions", conditions()), ("drugs", drugs())):
        for term in terms:
            key = tuple(words_of(term))
            if key:
                index[key] = cat  # later lists win: a drug beats a unit of the same spelling
    return index, _first_words(index)


class _NumericWords(dict):
    """Word → whether it is a number (holds a digit and is not all letters), filled on first sight."""

    def __missing__(self, w: str) -> bool:
        res = not w.isalpha() and _NUMERIC.search(w) is not None
        if len(self) >= 200_000:
            self.clear()
        self[w] = res
        return res


_IS_NUMERIC: Final = _NumericWords()


def _numeric(words: Sequence[str]) -> list[bool]:
    return list(map(_IS_NUMERIC.__getitem__, words))


@lru_cache(maxsize=4)
def _second_words(norm_name: str = "evalkit") -> dict[str, frozenset[str]]:
    """First word of the lexicon's multi-word terms (only those with no one-word term) → their second words."""
    index, first = _lexicon_index(norm_name)
    out: dict[str, set[str]] = {}
    for key in index:
        if len(key) > 1 and 1 not in first[key[0]]:
            out.setdefault(key[0], set()).add(key[1])
    return {w: frozenset(v) for w, v in out.items()}


def medical_mask(words: Sequence[str], terms: Iterable[str] | None = None, normalizer: str = "evalkit") -> list[bool]:
    """Mark which normalised reference words belong to a medical term.

    Medical words are drug names, conditions, anatomy (laterality words only next to an
    anatomy term), units right after a number, every number, and the extra ``terms``.
    Multi-word terms are matched longest first.

    Args:
        words: normalised words (from :func:`evalkit.text.normalize.normalize_words`).
        terms: extra terms (single or multi-word), e.g. from the case card.
        normalizer: the normaliser ``words`` came from (the lexicon is normalised the same way).
    """
    words = list(words)
    norm = None if normalizer == "evalkit" else get_normalizer(normalizer)
    return _medical_mask(words, terms, _numeric(words), norm)


def _medical_mask(words: list[str], terms: Iterable[str] | None, numeric: list[bool],
                  norm: Normalizer | None = None) -> list[bool]:
    name = "evalkit" if norm is None else norm.name
    index, first = _lexicon_index(name)
    seconds = _second_words(name)
    words_of = _norm_words(norm)
    extra: dict[tuple[str, ...], str] = {}
    for t in terms or ():
        key = tuple(words_of(t))
        if key:
            extra[key] = "case"
    uniq = set(words)
    present = first.keys() & uniq
    extra_first: dict[str, tuple[int, ...]] = {}  # first word → term lengths, lexicon and extra terms merged
    if extra:
        for w, sz in _first_words(extra).items():
            extra_first[w] = tuple(sorted(set(sz) | set(first.get(w, ())), reverse=True))
        present |= extra_first.keys() & uniq
    for w in seconds.keys() & present:  # a first word of multi-word terms only, none of whose 2nd words occur
        if w not in extra_first and seconds[w].isdisjoint(uniq):
            present.discard(w)
    n = len(words)
    cats: list[str | None] = [None] * n
    mask = list(numeric)
    matched: list[int] = []  # indices of words inside a matched term, increasing
    nxt = 0  # words before this index are already part of a matched term
    for i in indices_of(words, present):
        if i < nxt:
            continue
        w0 = words[i]
        for size in extra_first.get(w0) or first[w0]:
            if size > n - i:
                continue
            key = tuple(words[i:i + size])
            cat = extra.get(key) or index.get(key)
            if cat is None:
                continue
            if size == 1 and cat in ("anatomy", "units") and key[0] in _AMBIGUOUS and key not in extra:
                continue
            for k in range(i, i + size):
                cats[k] = cat
            matched.extend(range(i, i + size))
            nxt = i + size
            break
    for k in matched:
        if numeric[k]:
            continue
        cat, w = cats[k], words[k]
        if cat == "units":
            mask[k] = k > 0 and (numeric[k - 1] or cats[k - 1] == "units" and mask[k - 1])
        elif cat == "anatomy" and w in _LATERALITY:
            mask[k] = any(cats[j] in ("anatomy", "conditions") and words[j] not in _LATERALITY
                          for j in range(max(0, k - 2), min(n, k + 3)) if j != k)
        else:
            mask[k] = True
    return mask


# --------------------------------------------------------------------------- the metric


def _rate(errors: int, words: int) -> float | None:
    return errors / words if words else None


def _insert_speaker(ref_spk: list[str | None], i1: int, ops: Any, k: int) -> str | None:
    """Speaker charged with words inserted before reference word ``i1`` (opcode ``k``).

    The previous reference word's speaker; at a change of speaker, the next word's speaker
    when the next word is itself wrong and the previous one is right (the insertion is
    part of the next speaker's misrecognised words).
    """
    if i1 == 0:
        return ref_spk[0]
    if i1 >= len(ref_spk) or ref_spk[i1 - 1] == ref_spk[i1]:
        return ref_spk[i1 - 1]
    prev_err = k > 0 and ops[k - 1][0] in ("replace", "delete")
    next_err = k + 1 < len(ops) and ops[k + 1][0] in ("replace", "delete")
    return ref_spk[i1] if next_err and not prev_err else ref_spk[i1 - 1]


def wer_details(reference: str | Sequence[Turn] | Sequence[dict],
                hypothesis: str | Sequence[Turn] | Sequence[dict],
                terms: Iterable[str] | None = None, normalizer: str | Normalizer = "evalkit") -> WerResult:
    """Align a hypothesis transcript to the reference once and measure every error rate.

    Args:
        reference: the true transcript: plain text, ACI-Bench text (``[doctor] ...`` lines),
            a list of :class:`~evalkit.schema.Turn`, or a list of ``{speaker, text}``.
            Speaker rates need turns.
        hypothesis: the scribe's transcript, in any of the same forms (its speakers are ignored:
            errors are charged to the reference speaker).
        terms: extra medical terms (e.g. the case card's drugs and conditions) for medical WER.
        normalizer: ``evalkit`` (default) or ``whisper`` (:mod:`evalkit.text.normalizers`), or a
            :class:`~evalkit.text.normalizers.Normalizer`. With ``whisper``, turns are normalised one
            by one.

    Returns:
        A :class:`WerResult`. ``wer`` equals ``jiwer.wer(norm(ref), norm(hyp))`` with ``norm`` the
        normaliser's text function.

    Raises:
        InputError: the reference is empty after normalisation, or a turn is malformed.
    """
    nz = normalizer if isinstance(normalizer, Normalizer) else get_normalizer(normalizer)
    norm = None if nz.name == "evalkit" else nz
    ref, ref_spk = _words_and_speakers(reference, "reference", True, norm)
    hyp, _ = _words_and_speakers(hypothesis, "hypothesis", False, norm)
    if not ref:
        raise InputError("reference", "text", "is empty after normalisation",
                         "give a reference transcript with at least one word")
    numeric = _numeric(ref)
    med = _medical_mask(ref, terms, numeric, norm)
    # word sequences: rapidfuzz hashes the words in C; plain tuples (tag, i1, i2, j1, j2) unpack fast
    ops: list[tuple[str, int, int, int, int]] = Levenshtein.opcodes(ref, hyp).as_list()  # type: ignore[assignment]
    n = len(ref)
    subs = dels = ins = 0
    errors: list[int] = []  # reference word indices that were substituted or deleted
    ins_spk: dict[int, str | None] = {}  # opcode index → speaker charged with the insertion
    spk_err: Counter[str | None] = Counter()
    missed: list[tuple[str, str | None]] = []
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            continue
        if tag == "insert":
            ins += j2 - j1
            spk = ins_spk[k] = _insert_speaker(ref_spk, i1, ops, k)
            spk_err[spk] += j2 - j1
            continue
        if tag == "replace":
            subs += i2 - i1
        else:
            dels += i2 - i1
        for i in range(i1, i2):
            errors.append(i)
            spk_err[ref_spk[i]] += 1
            if med[i]:
                missed.append((ref[i], hyp[j1 + i - i1] if tag == "replace" else None))
    hits = n - subs - dels
    ref_str, hyp_str = " ".join(ref), " ".join(hyp)
    cer = Levenshtein.distance(ref_str, hyp_str, score_hint=max(8, 6 * (subs + dels + ins))) / len(ref_str)
    med_words = sum(med)
    med_err = len(missed)
    num_words = sum(numeric)
    num_err = sum(1 for i in errors if numeric[i])
    misheard = _misheard_numbers(ref, hyp, ops, numeric, med)
    speakers = {s: {"words": c, "errors": spk_err.get(s, 0)} for s, c in Counter(ref_spk).items() if s is not None}
    for s, c in spk_err.items():
        if s is not None and s not in speakers:
            speakers[s] = {"words": 0, "errors": c}

    def spk_rate(role: SpeakerRole) -> float | None:
        d = speakers.get(role.value)
        return _rate(d["errors"], d["words"]) if d else None

    return WerResult(
        wer=(subs + dels + ins) / n, cer=cer, hits=hits, substitutions=subs, deletions=dels, insertions=ins,
        ref_words=n, hyp_words=len(hyp), medical_wer=_rate(med_err, med_words), medical_words=med_words,
        medical_errors=med_err, numeric_error_rate=_rate(num_err, num_words), numeric_words=num_words,
        numeric_errors=num_err, wer_clinician=spk_rate(SpeakerRole.CLINICIAN),
        wer_patient=spk_rate(SpeakerRole.PATIENT), speakers=speakers, missed_terms=missed,
        misheard_numbers=misheard, normalizer=nz.name, normalization=nz.id,
        _src=(ref, hyp, ref_spk, med, ops, ins_spk),
    )


def _misheard_numbers(ref: list[str], hyp: list[str], ops: Any, numeric: list[bool],
                      med: list[bool]) -> list[tuple[str, str | None]]:
    """Numbers said but not heard right, with the unit after them: ``("500 mg", "100 mg")``.

    A reference number that was substituted or deleted is paired with the hypothesis words in
    its place (the number and, when the reference has a unit after it, the word after that).
    """
    out: list[tuple[str, str | None]] = []
    for tag, i1, i2, j1, _j2 in ops:
        if tag not in ("replace", "delete"):
            continue
        for i in range(i1, i2):
            if not numeric[i]:
                continue
            unit = i + 1 < len(ref) and med[i + 1] and not numeric[i + 1]
            said = f"{ref[i]} {ref[i + 1]}" if unit else ref[i]
            if tag == "delete":
                out.append((said, None))
                continue
            j = j1 + i - i1
            heard = hyp[j]
            if unit and j + 1 < len(hyp):
                heard = f"{heard} {hyp[j + 1]}"
            out.append((said, heard))
    return out


def wer_scores(result: WerResult, session_id: str, max_missed: int = 20) -> list[Score]:
    """Score records for one session: ``wer``, ``cer``, ``medical_wer``, ``numeric_error_rate``,
    ``wer_clinician``, ``wer_patient`` (a rate whose denominator is zero is left out).

    Args:
        result: the output of :func:`wer_details`.
        session_id: ``f"{run_id}:{consultation_id}"``.
        max_missed: how many misheard medical words (reference → hypothesis) to keep in the
            ``medical_wer`` detail for the session view; 0 keeps none (no transcript text at all).
    """
    norm = {"normalizer": result.normalizer, "normalization": result.normalization}
    counts = {"hits": result.hits, "substitutions": result.substitutions, "deletions": result.deletions,
              "insertions": result.insertions, "ref_words": result.ref_words, "hyp_words": result.hyp_words, **norm}
    out = [Score(session_id=session_id, metric="wer", value=result.wer, detail=counts),
           Score(session_id=session_id, metric="cer", value=result.cer, detail=dict(norm))]
    if result.medical_wer is not None:
        missed = [list(p) for p in result.missed_terms[:max_missed]] if max_missed else []
        out.append(Score(session_id=session_id, metric="medical_wer", value=result.medical_wer,
                         detail={"words": result.medical_words, "errors": result.medical_errors, "missed": missed,
                                 **norm}))
    if result.numeric_error_rate is not None:
        misheard = [{"said": a, "heard": b} for a, b in result.misheard_numbers[:max_missed]] if max_missed else []
        out.append(Score(session_id=session_id, metric="numeric_error_rate", value=result.numeric_error_rate,
                         detail={"words": result.numeric_words, "errors": result.numeric_errors,
                                 "misheard": misheard, **norm}))
    for metric, role, value in (("wer_clinician", SpeakerRole.CLINICIAN, result.wer_clinician),
                                ("wer_patient", SpeakerRole.PATIENT, result.wer_patient)):
        if value is not None:
            out.append(Score(session_id=session_id, metric=metric, value=value,
                             detail={**result.speakers[role.value], **norm}))
    return out


def normalized_pair(reference: str, hypothesis: str, normalizer: str = "evalkit") -> tuple[str, str]:
    """The two strings exactly as the metrics see them (for display and for checking against jiwer)."""
    nz = get_normalizer(normalizer)
    return nz.text(reference), nz.text(hypothesis)
