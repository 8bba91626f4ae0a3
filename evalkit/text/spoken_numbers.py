"""Spoken English numbers → digits: "five hundred" → "500", "two point five" → "2.5".

Used by the normalisation pipeline (:mod:`evalkit.text.normalize`); works on lists of
lower-case words with punctuation already removed.
"""

from __future__ import annotations

from typing import Final
from .wordscan import indices_of

__all__ = ["words_to_digits", "number_words"]

_UNITS: Final = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine".split())}
_TEENS: Final = {w: i + 10 for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS: Final = {w: (i + 2) * 10 for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES: Final = {"thousand": 1000, "million": 1_000_000}
_NUMBER_WORDS: Final = set(_UNITS) | set(_TEENS) | set(_TENS) | set(_SCALES) | {"hundred"}


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




_NUMBER_STARTS: Final = frozenset(_NUMBER_WORDS | {"point", "a"})
_A_SCALES: Final = frozenset(("hundred", "thousand"))


def number_words(tokens: list[str], vocabulary: set[str] | frozenset[str] | None = None) -> list[str]:
    """Replace number phrases in a list of words by digits (the list is returned as is if none).

    Args:
        tokens: lower-case words.
        vocabulary: optionally, a set holding at least every word of ``tokens`` (saves a pass).
    """
    present = _NUMBER_STARTS.intersection(tokens if vocabulary is None else vocabulary)
    if not present:
        return tokens
    if "a" in present:  # "a" only starts a number right before hundred / thousand: find those
        starts = indices_of(tokens, present - {"a"})
        a_starts = [i - 1 for i in indices_of(tokens, present & _A_SCALES) if i > 0 and tokens[i - 1] == "a"]
        if a_starts:
            starts = sorted(starts + a_starts)
    else:
        starts = indices_of(tokens, present)
    out: list[str] = []
    n = len(tokens)
    done = 0
    for i in starts:
        if i < done:
            continue
        out.extend(tokens[done:i])
        done = i
        t = tokens[i]
        if t in _NUMBER_WORDS or (t == "a" and i + 1 < n and tokens[i + 1] in ("hundred", "thousand")):
            parsed = _parse_number(tokens, i)
            if parsed:
                out.append(parsed[0])
                done = i + parsed[1]
                continue
        if t == "point" and i + 1 < n and tokens[i + 1] in _UNITS and (not out or not out[-1][:1].isdigit()):
            k = i + 1
            digits = []
            while k < n and tokens[k] in _UNITS:
                digits.append(str(_UNITS[tokens[k]]))
                k += 1
            out.append("0." + "".join(digits))
            done = k
            continue
        if t == "point" and out and out[-1].isdigit() and i + 1 < n and len(tokens[i + 1]) == 1 \
                and tokens[i + 1].isdigit():
            out[-1] = out[-1] + "." + tokens[i + 1]  # "2 point 5"
            done = i + 2
            continue
        if t == "point" and out and out[-1].isdigit() and i + 1 < n and tokens[i + 1] in _UNITS:
            k = i + 1
            while k < n and tokens[k] in _UNITS:
                k += 1
            out[-1] += "." + "".join(str(_UNITS[w]) for w in tokens[i + 1:k])  # "140 point one"
            done = k
            continue
        out.append(t)
        done = i + 1
    out.extend(tokens[done:])
    return out


def words_to_digits(text: str) -> str:
    """Turn English number words into digits: "five hundred" → "500", "two point five" → "2.5".

    Adjacent numbers that do not combine stay separate ("one twenty" → "1 20"); a bare
    "point five" becomes "0.5". Ordinals ("first") are left as words.

    Args:
        text: lower-case text with punctuation already removed.
    """
    return " ".join(number_words(text.split()))
