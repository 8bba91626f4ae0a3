"""Text normalisation for every transcript metric: ONE visible jiwer pipeline.

WER depends on what is normalised away. evalkit uses a single pipeline,
:data:`NORMALIZE` (a ``jiwer.Compose``), for the reference and the hypothesis of
every metric (WER, CER, medical WER, speaker WER) and prints
:data:`NORMALIZATION` in reports so readers know what "WER" meant.

The first two steps work on the string; ``Tokenize`` then splits it once, the
word-level steps pass a list of words along, and ``JoinWords`` joins it again (a
whole ACI-Bench dialogue normalises in about a millisecond).

Example::

    >>> normalize("Um, I'd take Two point five milligrams; BP 140 over 90.")
    'i would take 2.5 mg bp 140/90'
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain

import jiwer
from typing import Final

from .spoken_numbers import number_words, words_to_digits
from .wordscan import indices_of, positions  # noqa: F401 - positions is re-exported

__all__ = ["NORMALIZE", "NORMALIZATION", "normalize", "normalize_words", "words_to_digits"]


class _WordStep(jiwer.AbstractTransform):
    """A pipeline step over a list of words (between ``Tokenize`` and ``JoinWords``)."""

    name = "WordStep"

    def __call__(self, words: list[str]) -> list[str]:  # type: ignore[override]
        return self.process_words(words)

    def process_words(self, words: list[str]) -> list[str]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{self.name}()"


class _Tokenize(jiwer.AbstractTransform):
    def __call__(self, s: str) -> list[str]:  # type: ignore[override]
        return s.split()

    def __repr__(self) -> str:
        return "Tokenize()"


class _JoinWords(_WordStep):
    name = "JoinWords"

    def __call__(self, words: list[str]) -> str:  # type: ignore[override]
        return " ".join(words)


class _PhraseMap(_WordStep):
    """Replace whole words or word sequences (longest first); a replacement may be empty."""

    def __init__(self, name: str, mapping: dict[str, str]):
        self.name = name
        self.map = {tuple(k.split()): v.split() for k, v in mapping.items()}
        sizes: dict[str, set[int]] = {}
        for k in self.map:
            sizes.setdefault(k[0], set()).add(len(k))
        self.first = {w: sorted(v, reverse=True) for w, v in sizes.items()}

    def process_words(self, words: list[str]) -> list[str]:
        return self.apply(words, set(words))

    def apply(self, words: list[str], present: set[str]) -> list[str]:
        """:meth:`process_words` given a set holding at least every word of ``words``."""
        first, mapping = self.first, self.map
        hits = indices_of(words, first.keys() & present)
        if not hits:
            return words
        out: list[str] = []
        done = 0  # words before this index are copied or replaced
        for i in hits:
            if i < done:
                continue
            for size in first[words[i]]:
                rep = mapping.get(tuple(words[i:i + size]))
                if rep is not None:
                    out.extend(words[done:i])
                    out.extend(rep)
                    done = i + size
                    break
        out.extend(words[done:])
        return out


# --- 1. characters (on the string) -----------------------------------------------------------
_CHAR_TABLE: Final = str.maketrans({
    **{c: "'" for c in "\u2018\u2019\u02bc\u0060\u00b4"},
    **{c: '"' for c in "\u201c\u201d"},
    **{c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"},
    "\u00b5": "mc", "\u03bc": "mc",  # µg → mcg
    "%": " percent ", "&": " and ",
})
_SLASH: Final = re.compile(r"(?<=\d)\s*/\s*(?=\d)")


class _UnifyCharacters(jiwer.AbstractTransform):
    def process_string(self, s: str) -> str:
        if not s.isascii():
            s = s.translate(_CHAR_TABLE)
        else:
            if "%" in s:
                s = s.replace("%", " percent ")
            if "&" in s:
                s = s.replace("&", " and ")
        return _SLASH.sub("/", s) if "/" in s else s  # 140 / 90 → 140/90

    def __repr__(self) -> str:
        return "UnifyCharacters()"


# --- 2. contractions (words with an apostrophe; possessive 's keeps its s) -------------------
_APOSTROPHE_WORDS: Final = {
    "won't": "will not", "can't": "can not", "shan't": "shall not", "ain't": "is not",
    "let's": "let us", "y'all": "you all",
}
_S_IS: Final = frozenset(("it", "that", "he", "she", "what", "there", "here", "where", "who", "how", "this",
                   "everything", "nothing", "something", "everyone", "someone", "why", "when"))
_SUFFIXES: Final = (("n't", " not"), ("'re", " are"), ("'m", " am"), ("'ve", " have"), ("'ll", " will"), ("'d", " would"))
_EDGE_PUNCT: Final = "\"'.,;:!?()[]{}-*"


def _expand(word: str) -> str:
    core = word.strip(_EDGE_PUNCT)
    if "'" not in core:
        return word
    pre, post = word[:word.find(core)], word[word.find(core) + len(core):]
    if core in _APOSTROPHE_WORDS:
        core = _APOSTROPHE_WORDS[core]
    elif core.endswith("'s") and core[:-2] in _S_IS:
        core = core[:-2] + " is"
    else:
        for suf, rep in _SUFFIXES:
            if core.endswith(suf):
                core = core[: -len(suf)] + rep
                break
    return pre + core.replace("'", "") + post


class _ExpandContractions(_WordStep):
    name = "ExpandContractions"

    def process_words(self, words: list[str]) -> list[str]:
        hits = [i for i, w in enumerate(words) if "'" in w]
        if not hits:
            return words
        out: list[str] = []
        done = 0
        for i in hits:
            out.extend(words[done:i])
            out.extend(_expand(words[i]).split())
            done = i + 1
        out.extend(words[done:])
        return out


INFORMAL_WORDS: Final = {
    "cannot": "can not", "gonna": "going to", "wanna": "want to", "gotta": "got to", "kinda": "kind of",
    "sorta": "sort of", "gimme": "give me", "lemme": "let me", "dunno": "do not know",
    "ok": "okay", "alright": "all right",
}

# --- 3. punctuation (keep "." and "/" between digits) ----------------------------------------
_PUNCT_RULES: Final = [
    (re.compile(r"(?<=\d),(?=\d{3}\b)"), ""),          # 1,000 → 1000
    (re.compile(r"(?<![\w.])\.(?=\d)"), "0."),          # .5 → 0.5
    (re.compile(r"[^\w\s./]|_"), " "),
    (re.compile(r"(?<!\d)[./]|[./](?!\d)"), " "),
]


class _RemovePunctuation(_WordStep):
    name = "RemovePunctuationKeepNumbers"

    def process_words(self, words: list[str]) -> list[str]:
        hits = [i for i, w in enumerate(words) if not w.isalnum()]
        if not hits:
            return words
        out: list[str] = []
        done = 0
        for i in hits:
            out.extend(words[done:i])
            done = i + 1
            w = words[i]
            t = w.rstrip(",.?!;:")  # the common case: a word with trailing punctuation
            if t.isalnum():
                out.append(t)
                continue
            if not t:
                continue
            for pat, rep in _PUNCT_RULES:
                w = pat.sub(rep, w)
            out.extend(w.split())
        out.extend(words[done:])
        return out


# --- 4. numbers ------------------------------------------------------------------------------
class _NumberWords(_WordStep):
    name = "NumberWordsToDigits"

    def process_words(self, words: list[str]) -> list[str]:
        return number_words(words)


_OVER: Final = frozenset(("over", "slash"))
_TRAILING_ZEROS: Final = re.compile(r"^(\d+\.\d*?)0+$")
_NUM_THEN_LETTERS: Final = re.compile(r"^(\d+(?:\.\d+)?)([a-z][a-z0-9]*)$")
_ORDINAL: Final = frozenset(("st", "nd", "rd", "th", "s"))
_DIGIT_FIRST: Final = re.compile(r" ([0-9][^ ]*)")


def _canon_number(w: str) -> list[str]:
    if "." in w:
        if w.endswith("."):
            w = w[:-1]
        w = _TRAILING_ZEROS.sub(r"\1", w)
        if w.endswith("."):
            w = w[:-1]  # 5.0 → 5
    m = _NUM_THEN_LETTERS.match(w)
    if m and m.group(2) not in _ORDINAL:
        return [m.group(1), m.group(2)]  # 10mg → 10 mg
    return [w]


@lru_cache(maxsize=65536)
def _canon_cached(w: str) -> tuple[str, ...]:
    return tuple(_canon_number(w))


class _CanonicalNumbers(_WordStep):
    """2.50 → 2.5, 10mg → 10 mg, 140 over 90 → 140/90, one forty over ninety (1 40 over 90) → 140/90."""

    name = "CanonicalNumbers"

    def process_words(self, words: list[str]) -> list[str]:
        return self.apply(words, set(words))[0]

    def apply(self, words: list[str], present: set[str]) -> tuple[list[str], set[str]]:
        """:meth:`process_words` given a set holding at least every word of ``words``; also returns
        such a set for the result (``present`` itself, with the words this step brought in added)."""
        changed = {}
        for w in _DIGIT_FIRST.findall(" " + " ".join(present)):  # the words that start with a digit
            c = _canon_cached(w)
            if c != (w,):
                changed[w] = c
        out = words
        if changed:
            out = []
            done = 0
            for i in indices_of(words, changed.keys() & present):
                out.extend(words[done:i])
                out.extend(changed[words[i]])
                done = i + 1
            out.extend(words[done:])
        if changed:
            present.update(*changed.values())
        over = _OVER & present
        if not over:
            return out, present  # no "over" / "slash" (10over → 10 over: a canonical form may bring one)
        overs = [i for i in indices_of(out, over) if 0 < i < len(out) - 1
                 and out[i - 1].isdigit() and out[i + 1].isdigit()]
        if not overs:
            return out, present
        merged: list[str] = []
        done = 0
        for i in overs:
            if i - 1 < done:
                continue
            a, b = out[i - 1], out[i + 1]
            start = i - 1
            if (len(a) == 2 and a[0] != "0" and i >= 2 and out[i - 2] in ("1", "2") and i - 2 >= done):
                a, start = out[i - 2] + a, i - 2  # one forty over ninety → 140/90
            merged.extend(out[done:start])
            merged.append(f"{a}/{b}")
            done = i + 2
        merged.extend(out[done:])
        return merged, set(merged)


# --- 5. units --------------------------------------------------------------------------------
_UNIT_FORMS: Final = {  # canonical unit: spoken or written forms ("|" separates forms)
    "mg": "milligram|milligrams|milligramme|milligrammes|mgs",
    "mcg": "microgram|micrograms|microgramme|microgrammes|mcgs|ug",
    "g": "gram|grams|gramme|grammes|gm|gms",
    "kg": "kilogram|kilograms|kilogramme|kilogrammes|kilo|kilos|kgs",
    "ml": "milliliter|milliliters|millilitre|millilitres|mls",
    "l": "liter|liters|litre|litres",
    "mmhg": "mm hg|millimeters of mercury|millimetres of mercury|millimeter of mercury",
    "mmol": "millimole|millimoles",
    "mm": "millimeter|millimeters|millimetre|millimetres",
    "cm": "centimeter|centimeters|centimetre|centimetres",
    "lb": "lbs|pound|pounds",
    "bpm": "beats per minute|beats a minute|beats per min",
    "iu": "international unit|international units",
    "mg per dl": "mg dl",
    "mmol per l": "mmol l",
    "dl": "deciliter|deciliters|decilitre|decilitres",
}
_UNIT_MAP: Final = {form: canon for canon, forms in _UNIT_FORMS.items() for form in forms.split("|")}

# --- 6. fillers ------------------------------------------------------------------------------
FILLERS: Final = ("um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "hm", "mhm", "mm hmm", "uh huh")

_LOWER: Final = jiwer.ToLowerCase()
_UNIFY: Final = _UnifyCharacters()
_CONTRACTIONS: Final = _ExpandContractions()
_PUNCTUATION: Final = _RemovePunctuation()
_INFORMAL: Final = _PhraseMap("ExpandInformalWords", INFORMAL_WORDS)
_FILLERS: Final = _PhraseMap("RemoveFillers", {f: "" for f in FILLERS})
_NUMBERS: Final = _NumberWords()
_CANON_NUMBERS: Final = _CanonicalNumbers()
_UNITS: Final = _PhraseMap("CanonicalUnits", _UNIT_MAP)

#: The one normalisation pipeline (string → string) shared by every transcript metric.
NORMALIZE: Final = jiwer.Compose([
    _LOWER,
    _UNIFY,
    _Tokenize(),
    _CONTRACTIONS,
    _PUNCTUATION,
    _INFORMAL,
    _FILLERS,
    _NUMBERS,
    _CANON_NUMBERS,
    _UNITS,
    _JoinWords(),
])

#: Human-readable description of :data:`NORMALIZE`, printed in reports.
NORMALIZATION: Final = (
    "WER/CER are computed after one normalisation applied to reference and hypothesis alike: "
    "lower-case; curly quotes and dashes unified, '%' → 'percent'; contractions expanded "
    "(don't → do not, it's → it is, gonna → going to; possessive 's keeps the s); punctuation removed "
    "except '.' and '/' between digits (1,000 → 1000); number words → digits (five hundred → 500, "
    "two point five → 2.5, 2.50 → 2.5, 10mg → 10 mg), '140 over 90' and 'one forty over ninety' → "
    "'140/90'; units canonical (milligrams → mg, micrograms → mcg, millilitres → ml, millimetres of mercury → mmhg, beats per minute → bpm); "
    "fillers removed (" + ", ".join(FILLERS) + "); whitespace collapsed. Ordinals, and spoken "
    "shorthand such as 'one twenty' (= 120) outside a blood pressure, are not rewritten."
)


def normalize(text: str) -> str:
    """Normalise text with :data:`NORMALIZE`.

    Args:
        text: any transcript or note text.

    Returns:
        The normalised text: lower-case words separated by single spaces.
    """
    return " ".join(_fast_words(text or ""))


def normalize_words(text: str) -> list[str]:
    """Normalise text and split it into words (the words of :func:`normalize`), as a new list.

    Args:
        text: any transcript or note text.
    """
    return _fast_words(text or "")


# --- the fast path ---------------------------------------------------------------------------
# The same steps as NORMALIZE, with the word steps that look at one word at a time
# (contractions, punctuation, informal words) fused into one cached word → words map that
# runs in C (dict lookups through ``map``); the steps that look at neighbouring words run
# as they are. tests/metrics/test_normalize.py checks it against NORMALIZE step by step.
assert all(" " not in k for k in INFORMAL_WORDS)  # single-word keys: the informal map looks at one word
_PER_WORD: Final = (_CONTRACTIONS, _PUNCTUATION, _INFORMAL)
_MAX_CACHED_WORDS: Final = 200_000


class _WordCache(dict):
    """Raw word → its normalised words (a tuple), filled on first sight."""

    def __missing__(self, word: str) -> tuple[str, ...]:
        out = [word]
        for step in _PER_WORD:
            out = step.process_words(out)
        if len(self) >= _MAX_CACHED_WORDS:
            self.clear()
        res = self[word] = tuple(out)
        return res


_WORDS: Final = _WordCache()


def _fast_words(text: str) -> list[str]:
    s = _UNIFY.process_string(text.lower())
    words = list(chain.from_iterable(map(_WORDS.__getitem__, s.split())))
    present = set(words)  # every word of ``words`` (and, once fillers are gone, perhaps more)
    words = _FILLERS.apply(words, present)
    before = words
    words = number_words(words, present)
    if words is not before:
        present = set(words)
    words, present = _CANON_NUMBERS.apply(words, present)
    return _UNITS.apply(words, present)
