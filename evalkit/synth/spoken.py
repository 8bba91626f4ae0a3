"""Spoken-form text normalisation: what a TTS engine should *say* for what a note *writes*.

Every speech engine runs its text through :func:`spoken_form` first, so "500 mg bd" is read
"500 milligrams twice a day" and "140/90" is read "140 over 90". The reference transcript keeps
what was written; only the audio uses the spoken form.

The pipeline is one visible, ordered list of ``(name, pattern, replacement)`` rules
(:data:`RULES`); :func:`describe` prints it so a report can say exactly what was done.
"""

from __future__ import annotations

import re
from typing import Callable

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")

Repl = str | Callable[[re.Match], str]


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _iso_date(m: re.Match) -> str:
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group(0)
    return f"the {_ordinal(d)} of {_MONTHS[mo - 1]} {y}"


def _slash_date(m: re.Match) -> str:
    # day-first (UK/AU/most of the world) unless the first number cannot be a day-first date
    a, b, y = int(m.group(1)), int(m.group(2)), m.group(3)
    d, mo = (a, b) if b <= 12 else (b, a)
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group(0)
    year = int(y) + (2000 if len(y) == 2 else 0)
    return f"the {_ordinal(d)} of {_MONTHS[mo - 1]} {year}"


def _unit(singular: str, plural: str) -> Callable[[re.Match], str]:
    def repl(m: re.Match) -> str:
        num = m.group(1)
        return f"{num} {singular if num in ('1', '1.0') else plural}"
    return repl


def _bp(m: re.Match) -> str:
    a, b = int(m.group(1)), int(m.group(2))
    # a blood pressure: systolic 60-260 over diastolic 30-160 and systolic > diastolic
    if 60 <= a <= 260 and 30 <= b <= 160 and a > b:
        return f"{a} over {b}"
    return f"{a} {b}"  # e.g. an inhaler strength "200/6": read the numbers


_NUM = r"(\d+(?:\.\d+)?)"

#: the ordered pipeline: (name, compiled pattern, replacement)
RULES: list[tuple[str, re.Pattern, Repl]] = [
    ("iso dates", re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), _iso_date),
    ("slash dates", re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b"), _slash_date),
    ("blood pressure", re.compile(r"\b(\d{2,3})\s*/\s*(\d{1,3})\b"), _bp),
    ("per-unit rates", re.compile(r"\bmmol\s*/\s*(?:L|l)\b"), "millimoles per litre"),
    ("mmol/mol", re.compile(r"\bmmol\s*/\s*mol\b"), "millimoles per mole"),
    ("mg/kg", re.compile(r"\bmg\s*/\s*kg\b"), "milligrams per kilogram"),
    ("per day", re.compile(r"\s*/\s*(day|d)\b"), " a day"),
    ("per week", re.compile(r"\s*/\s*(week|wk)\b"), " a week"),
    ("mmHg", re.compile(r"\bmm\s*Hg\b", re.I), "millimetres of mercury"),
    ("degrees C", re.compile(_NUM + r"\s*°\s*C\b"), r"\1 degrees Celsius"),
    ("degrees F", re.compile(_NUM + r"\s*°\s*F\b"), r"\1 degrees Fahrenheit"),
    ("degrees", re.compile(_NUM + r"\s*°"), r"\1 degrees"),
    ("percent", re.compile(_NUM + r"\s*%"), r"\1 percent"),
    ("mcg", re.compile(_NUM + r"\s*(?:mcg|µg|μg|ug)\b"), _unit("microgram", "micrograms")),
    ("mg", re.compile(_NUM + r"\s*mg\b"), _unit("milligram", "milligrams")),
    ("ml", re.compile(_NUM + r"\s*(?:ml|mL|mls)\b"), _unit("millilitre", "millilitres")),
    ("kg", re.compile(_NUM + r"\s*kg\b"), _unit("kilogram", "kilograms")),
    ("g", re.compile(_NUM + r"\s*g\b"), _unit("gram", "grams")),
    ("cm", re.compile(_NUM + r"\s*cm\b"), _unit("centimetre", "centimetres")),
    ("mm", re.compile(_NUM + r"\s*mm\b"), _unit("millimetre", "millimetres")),
    ("units", re.compile(_NUM + r"\s*(?:IU|iu)\b"), r"\1 units"),
    ("bpm", re.compile(r"\bbpm\b", re.I), "beats per minute"),
    ("breaths/min", re.compile(r"\b(?:breaths|br)\s*/\s*min\b"), "breaths per minute"),
    ("once daily", re.compile(r"\b(?:OD|od|o\.d\.|QD|qd|q\.d\.)(?=[\s,.;]|$)"), "once a day"),
    ("twice daily", re.compile(r"\b(?:BD|bd|b\.d\.|BID|bid|b\.i\.d\.)(?=[\s,.;]|$)"), "twice a day"),
    ("three times daily", re.compile(r"\b(?:TDS|tds|t\.d\.s\.|TID|tid|t\.i\.d\.)(?=[\s,.;]|$)"),
     "three times a day"),
    ("four times daily", re.compile(r"\b(?:QDS|qds|q\.d\.s\.|QID|qid|q\.i\.d\.)(?=[\s,.;]|$)"),
     "four times a day"),
    ("as needed", re.compile(r"\b(?:PRN|prn|p\.r\.n\.)(?=[\s,.;]|$)"), "as needed"),
    ("at night", re.compile(r"\b(?:nocte|qhs|QHS)(?=[\s,.;]|$)"), "at night"),
    ("every n hours", re.compile(r"\bq(\d+)h\b", re.I), r"every \1 hours"),
    ("by mouth", re.compile(r"\b(?:PO|p\.o\.)(?=[\s,.;]|$)"), "by mouth"),
    ("times", re.compile(r"\b(\d+)\s*x\s+(?=a |per |daily|weekly)"), r"\1 times "),
    ("ranges", re.compile(r"\b(\d+)\s*[-–]\s*(\d+)\b"), r"\1 to \2"),
    ("decimals", re.compile(r"\b(\d+)\.(\d+)\b"), r"\1 point \2"),
    ("titles: Dr", re.compile(r"\bDr\.?(?=\s)"), "Doctor"),
    ("titles: Mrs", re.compile(r"\bMrs\.?(?=\s)"), "Missus"),
    ("titles: Mr", re.compile(r"\bMr\.?(?=\s)"), "Mister"),
    ("titles: Ms", re.compile(r"\bMs\.?(?=\s)"), "Miz"),
    ("A&E", re.compile(r"\bA\s*&\s*E\b"), "A and E"),
    ("ampersand", re.compile(r"\s*&\s*"), " and "),
    ("dashes", re.compile(r"\s*[—–]\s*|\s+-\s+"), ", "),
    ("spaces", re.compile(r"[ \t]+"), " "),
]


def spoken_form(text: str) -> str:
    """Rewrite written clinical text the way a person would say it.

    Args:
        text: written text, e.g. ``"Ramipril 5 mg OD, BP 142/90, temp 37.8 °C"``.

    Returns:
        The text to speak, e.g. ``"Ramipril 5 milligrams once a day, BP 142 over 90, temp
        37 point 8 degrees Celsius"``. Unknown abbreviations are left alone.
    """
    out = text
    for _name, pattern, repl in RULES:
        out = pattern.sub(repl, out)
    return out.strip()


def describe() -> str:
    """One line per rule of the pipeline, in order (for reports and ``--help`` text)."""
    return "\n".join(f"{i + 1:2d}. {name}" for i, (name, _p, _r) in enumerate(RULES))


__all__ = ["RULES", "describe", "spoken_form"]
