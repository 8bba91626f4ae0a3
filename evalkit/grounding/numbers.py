"""Numbers in notes (digits) and in transcripts (digits and spoken words).

A note number is checked against every reading of the transcript's numbers: "one twenty
over eighty" gives 120 and 80 (and 1, 20), "five hundred milligrams" gives 500, "ninety
eight point six" gives 98.6. Dates and times of day in notes are administrative and are
not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import compress
from operator import or_
from typing import Final

_ONES: Final = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS: Final = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_SCALES: Final = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "hundreds": 100, "thousands": 1000}
_EXTRA: Final = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "once": 1, "twice": 2, "half": 0.5, "couple": 2, "dozen": 12, "single": 1,
    "double": 2, "triple": 3, "both": 2, "several": 3, "few": 3, "quarter": 0.25,
    # decades: "heart rate in the sixties" (a note writes "60s")
    "twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70, "eighties": 80,
    "nineties": 90,
}
NUMBER_WORDS: Final = frozenset(_ONES) | frozenset(_TENS) | frozenset(_SCALES) | frozenset(_EXTRA) | {"point"}

DIGIT_RE: Final = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
#: numbers a term implies ("baby aspirin" is 81 mg)
IMPLIED_NUMBERS: Final = {"baby aspirin": 81.0, "low dose aspirin": 81.0}
_OUT_OF_BEFORE: Final = re.compile(r"out of\s*$")
_SLASH_SCALE: Final = re.compile(r"/(?:4|5|6|10)\b")
_LEVEL_BEFORE: Final = re.compile(r"\b[CTLS]\d{1,2}-$")
_BOILERPLATE_AFTER: Final = re.compile(r"\s*(?:quadrants?\b|extremities\b|=)", re.I)
_SCALE_RANGE: Final = re.compile(r"[01]\s*(?:-|to)\s*10\b(?!\s*(?:mg|days?|weeks?|months?|years?|times|minutes?|hours?|lbs?|pounds?))")
_COQ_BEFORE: Final = re.compile(r"co-?q\s*$", re.I)
_SCALE_OF: Final = re.compile(r"\s*(?:out\s+of|/)\s*(\d+(?:\.\d+)?)")
_SCALE_AFTER: Final = re.compile(r"(?:4|5|6|10)\b")
_HAS_DIGIT: Final = re.compile(r"\d")
_DATE_RE: Final = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/(?:19|20)\d{2}\b")
_TIME_RE: Final = re.compile(r"\b\d{1,2}:\d{2}\b")
_YEAR_RE: Final = re.compile(r"\b(?:19|20)\d{2}\b")
_SKIP_RE: Final = re.compile(f"{_DATE_RE.pattern}|{_TIME_RE.pattern}|{_YEAR_RE.pattern}")  # dates, then times, then years
#: letter-and-digit names that are analytes, never a quantity or a level ("free T4 is low normal")
ANALYTE_NAMES: Final = frozenset({"t3", "t4"})
_UNIT_AFTER: Final = re.compile(r"\s*-?\s*([A-Za-z%]+)")
_UNIT_SUFFIX: Final = re.compile(r"(?:mg|mcg|ml|cm|mm|kg|g|st|nd|rd|th|x|am|pm|h|d|y|w|m|s|lbs?)\b", re.I)
DOSE_UNITS: Final = frozenset("""mg mgs milligram milligrams mcg microgram micrograms g gram grams ml milliliter milliliters
unit units iu meq tablet tablets tab tabs capsule capsules puff puffs drop drops cc""".split())


def _value(tok: str) -> float:
    return float(tok.replace(",", ""))


def _compose(words: list[str]) -> float | None:
    """Standard English reading of a run of number words ("five hundred and two" -> 502)."""
    total, cur, seen = 0.0, 0.0, False
    dec: list[str] | None = None
    for w in words:
        if w == "and":
            continue
        if w == "point":
            dec = []
            continue
        if dec is not None:
            if w in _ONES and _ONES[w] < 10:
                dec.append(str(_ONES[w]))
                continue
            break
        if w in _ONES:
            cur += _ONES[w]
        elif w in _TENS:
            cur += _TENS[w]
        elif w == "a":
            cur += 1
        elif w in _SCALES:
            cur = max(cur, 1) * _SCALES[w]
            if _SCALES[w] >= 1000:
                total += cur
                cur = 0.0
        else:
            return None
        seen = True
    if not seen:
        return None
    val = total + cur
    if dec:
        val = float(f"{int(val)}.{''.join(dec)}")
    return val


def _chunks(words: list[str], merge: bool = True) -> list[float]:
    """Split a run into spoken sub-numbers ("one twenty" -> [1, 20]; "twenty five" -> [25]; with
    ``merge=False`` a tens word and the digit after it stay apart: "fifty one" -> [50, 1])."""
    out: list[float] = []
    cur: float | None = None
    last = ""
    for w in words:
        if w in _TENS:
            if cur is not None:
                out.append(cur)
            cur = _TENS[w]
        elif w in _ONES:
            if merge and cur is not None and last in _TENS and _ONES[w] < 10:
                cur += _ONES[w]
            else:
                if cur is not None:
                    out.append(cur)
                cur = _ONES[w]
        else:
            if cur is not None:
                out.append(cur)
            cur = None
        last = w
    if cur is not None:
        out.append(cur)
    return out


_READINGS: dict[tuple[str, ...], set[float]] = {}  # run of number words -> readings ("oh", "one", "two weeks"...)


def word_number_readings(words: list[str]) -> set[float]:
    """Every plausible value of a run of number words (cached: the same short runs recur; a copy is returned).

    Args:
        words: consecutive lower-case tokens, all number words (or "and"/"a"/"point" inside).
    """
    key = tuple(words)
    got = _READINGS.get(key)
    if got is None:
        got = _word_number_readings(words)
        if len(_READINGS) < 4096:
            _READINGS[key] = got
    return set(got)


def _word_number_readings(words: list[str]) -> set[float]:
    vals: set[float] = set()
    for w in words:
        if w in _ONES:
            vals.add(_ONES[w])
        elif w in _TENS:
            vals.add(_TENS[w])
        elif w in _EXTRA:
            vals.add(_EXTRA[w])
    c = _compose(words)
    if c is not None:
        vals.add(c)
    ch = _chunks(words)
    vals.update(ch)
    if len(ch) >= 3 and all(c < 10 for c in ch):  # digit by digit: "three two five" -> 325
        vals.add(float("".join(str(int(c)) for c in ch)))
    # colloquial: "one twenty" -> 120, "twelve fifty" -> 1250; "one fifty one sixty" -> 150 and 160 too
    for seq in (ch, _chunks(words, False)):
        for a, b in zip(seq, seq[1:]):
            if a == int(a) and b == int(b) and b >= 10:
                vals.add(float(f"{int(a)}{int(b)}"))
    if "point" in words:  # "ninety eight point six": decimals on the last chunk before "point"
        i = words.index("point")
        left = _chunks(words[:i]) or [0]
        right = [str(_ONES[w]) for w in words[i + 1:] if w in _ONES and _ONES[w] < 10]
        if right:
            vals.add(float(f"{int(left[-1])}.{''.join(right)}"))
    if len(words) >= 3 and words[-2:] == ["a", "half"] and words[-3] == "and":  # "two and a half"
        base = _chunks(words[:-3])
        if base:
            vals.add(base[-1] + 0.5)
    return {float(v) for v in vals}


#: unit words (spoken and written) -> canonical unit
UNIT_CANON: Final = {
    **{w: "day" for w in ("day", "days", "d")}, **{w: "week" for w in ("week", "weeks", "wk", "wks")},
    **{w: "month" for w in ("month", "months", "mo", "mos")},
    **{w: "year" for w in ("year", "years", "yr", "yrs", "y", "yo")},
    **{w: "hour" for w in ("hour", "hours", "hr", "hrs", "h")},
    **{w: "minute" for w in ("minute", "minutes", "min", "mins")},
    **{w: "second" for w in ("seconds", "sec", "secs")},  # not "second": it is also the ordinal
    **{w: "pound" for w in ("pound", "pounds", "lb", "lbs")}, **{w: "kg" for w in ("kg", "kilogram", "kilograms", "kilo", "kilos")},
    **{w: "percent" for w in ("percent", "%", "percentage")},
    **{w: "cm" for w in ("cm", "centimeter", "centimeters", "centimetre", "centimetres")},
    **{w: "mm" for w in ("mm", "millimeter", "millimeters", "millimetre", "millimetres")},
    **{w: "mg" for w in ("mg", "mgs", "milligram", "milligrams")},
    **{w: "mcg" for w in ("mcg", "microgram", "micrograms")},
    **{w: "unit" for w in ("unit", "units", "iu")}, **{w: "time" for w in ("times", "time")},
    **{w: "bpm" for w in ("bpm", "beats")}, **{w: "degree" for w in ("degree", "degrees")},
    **{w: "tablet" for w in ("tablet", "tablets", "tab", "tabs", "pill", "pills", "capsule", "capsules")},
    **{w: "mile" for w in ("mile", "miles")}, **{w: "ml" for w in ("ml", "milliliter", "milliliters", "cc", "ccs")},
    **{w: "drink" for w in ("drink", "drinks", "beer", "beers", "glass", "glasses")},
    **{w: "pack" for w in ("pack", "packs")}, "out": "out-of", "puff": "puff", "puffs": "puff",
    **{w: "inch" for w in ("inch", "inches")}, **{w: "ounce" for w in ("ounce", "ounces", "oz")},
}
_NUMBER_OR_ARTICLE: Final = NUMBER_WORDS | {"a", "an", "next"}
_ONE_UNITS: Final = frozenset(("day", "week", "month", "year", "hour", "minute", "time"))
_ONE_UNIT_WORDS: Final = frozenset(w for w, u in UNIT_CANON.items() if u in _ONE_UNITS)
_NUMBER_OR_UNIT_WORDS: Final = NUMBER_WORDS | _ONE_UNIT_WORDS  # one set test for both (most turns have neither)
_UNIT_SKIP: Final = frozenset({"and", "a", "half", "to", "or", "by", "x", "of", "more", "than", "per", "an", "plus"})


def _scale_unit(toks: list[str], k: int) -> str:
    """``out-of-10`` for "... out of ten" starting at or after token ``k`` (``out-of`` when no scale follows)."""
    for j in range(k, min(len(toks) - 2, k + 4)):
        if toks[j] == "out" and toks[j + 1] == "of":
            t = toks[j + 2]
            if t[0].isdigit():
                try:
                    return f"out-of-{_value(t):g}"
                except ValueError:
                    return "out-of"
            run = []
            for w in toks[j + 2:j + 5]:
                if w not in NUMBER_WORDS:
                    break
                run.append(w)
            v = _compose(run) if run else None
            return f"out-of-{v:g}" if v is not None else "out-of"
    return "out-of"


def transcript_numbers(toks: list[str]) -> set[float]:
    """All number readings in one turn's tokens (digits and words).

    Args:
        toks: the turn's lower-case tokens.
    """
    return number_readings(toks)[0]


def number_readings(toks: list[str]) -> tuple[set[float], set[tuple[float, str]], set[float]]:
    """Number readings of one turn: ``(all values, (value, unit) pairs, values said without a unit)``.

    Args:
        toks: the turn's lower-case tokens.
    """
    vals: set[float] = set()
    pairs: set[tuple[float, str]] = set()
    bare: set[float] = set()
    n = len(toks)

    # tokens start with a letter or a digit, and digits sort before ":" (a cheap isdigit)
    if not toks or (_NUMBER_OR_UNIT_WORDS.isdisjoint(toks) and min(toks) >= ":"):
        return vals, pairs, bare  # no digit, no number word, no "a week": most turns

    def unit_after(k: int) -> str | None:
        for j in range(k, min(n, k + 5)):
            t = toks[j]
            u = UNIT_CANON.get(t)
            if u is not None:
                return u
            if t in _UNIT_SKIP or t in NUMBER_WORDS or t[0].isdigit():
                continue
            return None
        return None

    def record(vs: set[float], k: int, start: int) -> None:
        vals.update(vs)
        if start >= 2 and toks[start - 2] == "out" and toks[start - 1] == "of":
            pairs.update((v, "denominator") for v in vs)  # "two out of six": six is a scale
            return
        u = unit_after(k)
        if u is None:
            bare.update(vs)
        else:
            if u == "out-of":  # "four out of five": a score on its scale, not comparable with "8 out of 10"
                u = _scale_unit(toks, k)
            pairs.update((v, u) for v in vs)

    # digits (t < ":") or number words / articles, found by one C-level pass
    cand = list(compress(range(n), map(or_, map(":".__gt__, toks), map(_NUMBER_OR_ARTICLE.__contains__, toks))))
    if not cand:
        return vals, pairs, bare
    hits = []
    for i in cand:
        t = toks[i]
        if t == "a" or t == "an" or t == "next":  # "a week", "an hour", "next week" -> 1 week, 1 hour
            if i + 1 < n:
                u = UNIT_CANON.get(toks[i + 1])
                if u in _ONE_UNITS:
                    vals.add(1.0)
                    pairs.add((1.0, u))
            continue
        hits.append(i)
    if not hits:
        return vals, pairs, bare
    i = 0
    for h in hits:
        if h < i:
            continue
        t = toks[h]
        if t[0].isdigit():
            try:
                v = _value(t)
            except ValueError:
                i = h + 1
                continue
            vs = {v}
            if h + 3 < n and toks[h + 1] == "and" and toks[h + 2] == "a" and toks[h + 3] == "half":
                vs.add(v + 0.5)
            record(vs, h + 1, h)
            i = h + 1
            continue
        # a run of number words, with "and" / "a half" / "a hundred" inside
        start = h - 1 if h > 0 and toks[h - 1] == "a" and t in _SCALES else h
        j = h
        while j < n:
            w = toks[j]
            if w in NUMBER_WORDS or (w == "and" and j + 1 < n and (toks[j + 1] in NUMBER_WORDS or toks[j + 1] == "a")) \
                    or (w == "a" and j + 1 < n and (toks[j + 1] == "half" or toks[j + 1] in _SCALES)):
                j += 1
                continue
            break
        run = toks[start:j]
        while run and run[-1] in ("and", "a"):
            run.pop()
        if run:
            vs = word_number_readings(run)
            if run[-1] in ("once", "twice"):
                pairs.update((v, "time") for v in vs)
                vals.update(vs)
            else:
                record(vs, j, start)
        i = j
    if "half" in toks:
        _halves(toks, vals, pairs)
    if not _SCALES.keys().isdisjoint(toks):
        _shared_scale(toks, record)
    return vals, pairs, bare


_RANGE_WORDS: Final = frozenset(("to", "or", "and"))


def _shared_scale(toks: list[str], record) -> None:
    """ "five or six hundred" -> 500 as well as 600; "three to four hundreds" -> 300 as well as 400."""
    for k in range(len(toks) - 3):
        a, b, scale = toks[k], toks[k + 2], toks[k + 3]
        if scale in _SCALES and toks[k + 1] in _RANGE_WORDS and (b in _ONES or b[0].isdigit()):
            v = float(_ONES[a]) if a in _ONES else (_value(a) if a[0].isdigit() and a.replace(".", "", 1).isdigit()
                                                   else None)
            if v is not None and 0 < v < 100:
                record({v * _SCALES[scale]}, k + 4, k)


_HALF: Final = re.compile(r"\b(a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d+) (year|years|month|months|week|"
                          r"weeks|day|days|hour|hours|pack|packs|mile|miles|minute|minutes) and a half\b")
_HALF_HOUR: Final = re.compile(r"\bhalf an? (hour|day|pack|mile)\b")


def _halves(toks: list[str], vals: set[float], pairs: set[tuple[float, str]]) -> None:
    """ "a year and a half" -> 1.5 years, "a pack and a half" -> 1.5 packs, "half an hour" -> 30 minutes."""
    text = " ".join(toks)
    for m in _HALF.finditer(text):
        w = m.group(1)
        v = 1.0 if w in ("a", "an") else (float(w) if w[0].isdigit() else float(_ONES[w]))
        unit = UNIT_CANON.get(m.group(2))
        if unit is not None:
            vals.add(v + 0.5)
            pairs.add((v + 0.5, unit))
    for m in _HALF_HOUR.finditer(text):
        unit = UNIT_CANON.get(m.group(1))
        if unit is not None:
            vals.add(0.5)
            pairs.add((0.5, unit))
        if m.group(1) == "hour":
            vals.add(30.0)
            pairs.add((30.0, "minute"))


_SPOKEN_DECIMAL: Final = re.compile(r"\b(\d+|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                             r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety) \. "
                             r"(\d|zero|one|two|three|four|five|six|seven|eight|nine)\b")


_LEADING_POINT: Final = re.compile(r"\b(a|an|of|about|is|was|at|measuring) \. (zero|one|two|three|four|five|six|seven|"
                            r"eight|nine|\d)\b")


_BARE_POINT: Final = re.compile(r"(?:^| )\.(\d)")  # ".6" said as "point six", transcribed with the dot
_POINT_DIGIT: Final = re.compile(r" \. (?:\d|zero|one|two|three|four|five|six|seven|eight|nine)\b")


def spoken_decimals(text: str) -> str:
    """ "seven . three" (transcribed "seven point three") -> "seven point three"; "2 . 5" -> "2.5";
    "a . five centimeter" -> "a point five centimeter"; "it's .6" -> "it's 0.6"."""
    if " ." in text and _BARE_POINT.search(text):
        text = _BARE_POINT.sub(r" 0.\1", text)
    if " . " not in text or not _POINT_DIGIT.search(text):
        return text  # a transcript has " . " after every sentence; a digit after it is rare
    text = _LEADING_POINT.sub(r"\1 point \2", text)
    return _SPOKEN_DECIMAL.sub(lambda m: f"{m.group(1)}.{m.group(2)}" if m.group(1).isdigit() and m.group(2).isdigit()
                               else f"{m.group(1)} point {m.group(2)}", text)


@dataclass
class NoteNumber:
    value: float
    start: int  # char offsets in the claim text
    end: int
    unit: str | None  # the word right after, as written
    name: str | None = None  # the token the digits end, when a letter starts it ("l4", "s1")

    @property
    def unit_canon(self) -> str | None:
        """The canonical unit (``day``, ``mg``, ``percent``...) or None."""
        if self.unit == "denominator" or (self.unit or "").startswith("out-of-"):
            return self.unit
        return UNIT_CANON.get(self.unit) if self.unit else None


def note_numbers(text: str) -> list[NoteNumber]:
    """Checkable numbers in note text: digits, minus dates, times of day and years.

    Args:
        text: one claim's text as written.
    """
    if not _HAS_DIGIT.search(text):
        return []
    skip: list[tuple[int, int]] = [m.span() for m in _SKIP_RE.finditer(text)]
    out: list[NoteNumber] = []
    for m in DIGIT_RE.finditer(text):
        s, e = m.span()
        if any(a <= s < b for a, b in skip):
            continue
        left = text[s - 1] if s > 0 else ""
        if left == "-" and s > 1 and text[s - 2].isalpha():
            continue  # "COVID-19"
        if left == "-" and _LEVEL_BEFORE.search(text, max(0, s - 5), s):
            continue  # "C5-6", "L4-5": the second level of a spinal segment, named by the first
        if left == "-" and s > 1 and text[s - 2] in "01" and (s < 3 or not text[s - 3].isdigit()) \
                and _SCALE_RANGE.match(text, s - 2):
            continue  # the 10 of "0-10"
        if _BOILERPLATE_AFTER.match(text, e) or _SCALE_RANGE.match(text, s) or _COQ_BEFORE.search(text, max(0, s - 6), s):
            continue  # "all 4 quadrants", "VAS 0-10", "Co-Q 10": not a finding's number
        if left.isalpha() and not (left in "CLTS" and (s < 2 or not text[s - 2].isalpha())):
            continue  # "B12", "A1c", "T2DM" are names, not quantities; spine levels "C5" are kept
        name = None
        if left.isalpha():
            name = text[s - 1:e].lower()  # "C5", "L4", "S1": checked as that token first
            if name in ANALYTE_NAMES:
                continue  # "free T4", "T3": thyroid hormones, not the number 4
        if e < len(text) and text[e].isalpha() and not _UNIT_SUFFIX.match(text, e):
            continue
        um = _UNIT_AFTER.match(text[e:e + 16])
        unit = um.group(1).lower() if um else None
        if _OUT_OF_BEFORE.search(text, max(0, s - 8), s) or (left == "/" and _SCALE_AFTER.match(text, s)):
            unit = "denominator"  # "2 out of 6", "3/6": the scale, not a count
        elif _SLASH_SCALE.match(text, e):
            unit = "out"  # "3/6" reads "three out of six"
        if unit == "out":  # the score's scale: "8 out of 10" is not "4 out of 5"
            sm = _SCALE_OF.match(text, e)
            if sm:
                unit = f"out-of-{_value(sm.group(1)):g}"
        try:
            out.append(NoteNumber(_value(m.group(0)), s, e, unit, name))
        except ValueError:
            continue
    return out
