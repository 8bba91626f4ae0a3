"""Text normalisation for every transcript metric: ONE visible jiwer pipeline.

WER depends on what is normalised away. evalkit uses a single pipeline,
:data:`NORMALIZE` (a ``jiwer.Compose``), for the reference and the hypothesis of
every metric (WER, CER, medical WER, speaker WER) and prints
:data:`NORMALIZATION` in reports so readers know what "WER" meant.

Example::

    >>> normalize("Um, I'd take Two point five milligrams; BP 140 over 90.")
    'i would take 2.5 mg bp 140/90'
"""

from __future__ import annotations

import re

import jiwer

__all__ = ["NORMALIZE", "NORMALIZATION", "normalize", "normalize_words", "words_to_digits"]


class _Regexes(jiwer.AbstractTransform):
    """Apply compiled regex substitutions in order (a faster ``jiwer.SubstituteRegexes``)."""

    def __init__(self, name: str, pairs: list[tuple[str, str]]):
        self.name = name
        self.pairs = [(re.compile(p), r) for p, r in pairs]

    def process_string(self, s: str) -> str:
        for pat, rep in self.pairs:
            s = pat.sub(rep, s)
        return s

    def __repr__(self) -> str:
        return f"{self.name}()"


def _word_map(mapping: dict[str, str]) -> list[tuple[str, str]]:
    """Whole-word (or whole-phrase) substitutions, longest phrase first."""
    keys = sorted(mapping, key=len, reverse=True)
    return [(r"(?<![\w.])" + re.escape(k).replace(r"\ ", r"\s+") + r"(?![\w])", mapping[k]) for k in keys]


# --- 1. characters ---------------------------------------------------------------------------
UNIFY_CHARACTERS = _Regexes("UnifyCharacters", [
    (r"[\u2018\u2019\u02bc\u0060\u00b4]", "'"),       # curly/odd apostrophes → '
    (r"[\u201c\u201d]", '"'),
    (r"[\u2010-\u2015\u2212]", "-"),                  # unicode dashes → -
    (r"\u00b5g|\u03bcg", "mcg"),                      # µg
    (r"%", " percent "),
    (r"&", " and "),
    (r"\s+", " "),
])

# --- 2. contractions (consistent expansions; possessive 's keeps its s) ----------------------
_CONTRACTIONS = {
    "won't": "will not", "can't": "can not", "cannot": "can not", "shan't": "shall not",
    "ain't": "is not", "let's": "let us", "y'all": "you all",
    "gonna": "going to", "wanna": "want to", "gotta": "got to", "kinda": "kind of",
    "sorta": "sort of", "gimme": "give me", "lemme": "let me", "dunno": "do not know",
    "ok": "okay", "alright": "all right",
}
_S_IS = ("it", "that", "he", "she", "what", "there", "here", "where", "who", "how", "this", "everything",
         "nothing", "something", "everyone", "someone", "why", "when")
EXPAND_CONTRACTIONS = _Regexes("ExpandContractions", _word_map(_CONTRACTIONS) + [
    (r"\b(" + "|".join(_S_IS) + r")'s\b", r"\1 is"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'m\b", " am"),
    (r"'ve\b", " have"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (r"'", ""),                                       # possessives and the rest: drop the apostrophe
])

# --- 3. punctuation (keep "." and "/" between digits) ----------------------------------------
REMOVE_PUNCTUATION = _Regexes("RemovePunctuationKeepNumbers", [
    (r"(?<=\d),(?=\d{3}\b)", ""),                     # 1,000 → 1000
    (r"(?<=\d)\s*/\s*(?=\d)", "/"),                   # 140 / 90 → 140/90
    (r"(?<![\w.])\.(?=\d)", "0."),                    # .5 → 0.5
    (r"[^\w\s./]|_", " "),
    (r"(?<!\d)[./]|[./](?!\d)", " "),
    (r"\s+", " "),
])

# --- 4. numbers ------------------------------------------------------------------------------
_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine".split())}
_TEENS = {w: i + 10 for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: (i + 2) * 10 for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"thousand": 1000, "million": 1_000_000}
_NUMBER_WORDS = set(_UNITS) | set(_TEENS) | set(_TENS) | set(_SCALES) | {"hundred"}


def _parse_number(tokens: list[str], i: int) -> tuple[str, int] | None:
    """Parse the number phrase starting at ``tokens[i]``; return (digits, tokens consumed)."""
    n = len(tokens)
    total = current = 0
    last = None  # "unit" | "teen" | "tens" | "hundred" | "scale"
    j = i
    if tokens[i] == "a" and i + 1 < n and tokens[i + 1] in ("hundred", "thousand"):
        current, last, j = 1, "unit", i + 1
    while j < n:
        t = tokens[j]
        if t in _UNITS:
            if last in ("unit", "teen"):
                break
            if last == "tens" and current % 10:
                break
            current += _UNITS[t]
            last = "unit"
        elif t in _TEENS:
            if last in ("unit", "teen", "tens"):
                break
            current += _TEENS[t]
            last = "teen"
        elif t in _TENS:
            if last in ("unit", "teen", "tens"):
                break
            current += _TENS[t]
            last = "tens"
        elif t == "hundred":
            if last in ("hundred", "scale") or current % 100 == 0 and last is not None:
                break
            current = (current or 1) * 100
            last = "hundred"
        elif t in _SCALES:
            if last is None or last == "scale":
                break
            total += current * _SCALES[t]
            current = 0
            last = "scale"
        elif t == "and" and last in ("hundred", "scale") and j + 1 < n and (
                tokens[j + 1] in _UNITS or tokens[j + 1] in _TEENS or tokens[j + 1] in _TENS):
            pass
        else:
            break
        j += 1
    if last is None:
        return None
    value = str(total + current)
    # decimals: "two point five", "zero point two five"
    if j + 1 < n and tokens[j] == "point" and tokens[j + 1] in _UNITS:
        digits = []
        k = j + 1
        while k < n and tokens[k] in _UNITS:
            digits.append(str(_UNITS[tokens[k]]))
            k += 1
        value += "." + "".join(digits)
        j = k
    return value, j - i


def words_to_digits(text: str) -> str:
    """Turn English number words into digits: "five hundred" → "500", "two point five" → "2.5".

    Adjacent numbers that do not combine stay separate ("one twenty" → "1 20"); a bare
    "point five" becomes "0.5". Ordinals ("first") are left as words.

    Args:
        text: lower-case text with punctuation already removed.
    """
    tokens = text.split()
    out: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        t = tokens[i]
        if t in _NUMBER_WORDS or (t == "a" and i + 1 < n and tokens[i + 1] in ("hundred", "thousand")):
            parsed = _parse_number(tokens, i)
            if parsed:
                out.append(parsed[0])
                i += parsed[1]
                continue
        if t == "point" and i + 1 < n and tokens[i + 1] in _UNITS and (not out or not out[-1][:1].isdigit()):
            k = i + 1
            digits = []
            while k < n and tokens[k] in _UNITS:
                digits.append(str(_UNITS[tokens[k]]))
                k += 1
            out.append("0." + "".join(digits))
            i = k
            continue
        if t == "point" and out and re.fullmatch(r"\d+", out[-1]) and i + 1 < n and tokens[i + 1].isdigit():
            out[-1] = out[-1] + "." + tokens[i + 1]  # "2 point 5"
            i += 2
            continue
        out.append(t)
        i += 1
    return " ".join(out)


class _NumberWords(jiwer.AbstractTransform):
    def process_string(self, s: str) -> str:
        return words_to_digits(s)

    def __repr__(self) -> str:
        return "NumberWordsToDigits()"


NUMBER_WORDS_TO_DIGITS = _NumberWords()

CANONICAL_NUMBERS = _Regexes("CanonicalNumbers", [
    (r"\b(\d+) (?:over|slash) (\d+)\b", r"\1/\2"),    # 140 over 90 → 140/90
    (r"\b(\d+\.\d*?)0+\b", r"\1"),                     # 2.50 → 2.5
    (r"\b(\d+)\.(?!\d)", r"\1"),                       # 5. → 5 (after the line above: 5.0 → 5)
    (r"\b(\d+(?:\.\d+)?)(?=[a-z])", r"\1 "),           # 10mg → 10 mg
])

# --- 5. units --------------------------------------------------------------------------------
_UNIT_FORMS = {
    "mg": "milligram milligrams milligramme milligrammes mgs",
    "mcg": "microgram micrograms microgramme microgrammes mcgs ug",
    "g": "gram grams gramme grammes gm gms",
    "kg": "kilogram kilograms kilogramme kilogrammes kilo kilos kgs",
    "ml": "milliliter milliliters millilitre millilitres mls",
    "l": "liter liters litre litres",
    "mmhg": "mm hg|millimeters of mercury|millimetres of mercury|millimeter of mercury",
    "mmol": "millimole millimoles",
    "mm": "millimeter millimeters millimetre millimetres",
    "cm": "centimeter centimeters centimetre centimetres",
    "lb": "lbs pound pounds",
    "bpm": "beats per minute|beats a minute|beats per min",
    "iu": "international unit|international units",
    "mg per dl": "mg dl|mg/dl",
    "mmol per l": "mmol l",
}
_UNIT_MAP: dict[str, str] = {}
for _canon, _forms in _UNIT_FORMS.items():
    for _f in (_forms.split("|") if "|" in _forms else _forms.split()):
        _UNIT_MAP[_f] = _canon
CANONICAL_UNITS = _Regexes("CanonicalUnits", _word_map(_UNIT_MAP))

# --- 6. fillers ------------------------------------------------------------------------------
FILLERS = ("um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "hm", "mhm", "mm hmm", "uh huh")
REMOVE_FILLERS = _Regexes("RemoveFillers", _word_map({f: " " for f in FILLERS}))

#: The one normalisation pipeline (string → string) shared by every transcript metric.
NORMALIZE = jiwer.Compose([
    jiwer.ToLowerCase(),
    UNIFY_CHARACTERS,
    EXPAND_CONTRACTIONS,
    REMOVE_PUNCTUATION,
    NUMBER_WORDS_TO_DIGITS,
    CANONICAL_NUMBERS,
    CANONICAL_UNITS,
    REMOVE_FILLERS,
    jiwer.RemoveMultipleSpaces(),
    jiwer.Strip(),
])

#: Human-readable description of :data:`NORMALIZE`, printed in reports.
NORMALIZATION = (
    "WER/CER are computed after one normalisation applied to reference and hypothesis alike: "
    "lower-case; curly quotes and dashes unified, '%' → 'percent'; contractions expanded "
    "(don't → do not, it's → it is, gonna → going to; possessive 's keeps the s); punctuation removed "
    "except '.' and '/' between digits (1,000 → 1000); number words → digits (five hundred → 500, "
    "two point five → 2.5, 2.50 → 2.5), '140 over 90' → '140/90'; units canonical (milligrams → mg, "
    "micrograms → mcg, millilitres → ml, millimetres of mercury → mmhg, beats per minute → bpm); "
    "fillers removed (" + ", ".join(FILLERS) + "); whitespace collapsed. Ordinals and spoken "
    "shorthand such as 'one twenty' (= 120) are not rewritten."
)


def normalize(text: str) -> str:
    """Normalise text with :data:`NORMALIZE`.

    Args:
        text: any transcript or note text.

    Returns:
        The normalised text: lower-case words separated by single spaces.
    """
    return NORMALIZE(text or "")


def normalize_words(text: str) -> list[str]:
    """Normalise text and split it into words.

    Args:
        text: any transcript or note text.
    """
    s = normalize(text)
    return s.split() if s else []
