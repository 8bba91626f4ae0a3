"""A small reader for Praat TextGrid files (long "ooTextFile" and short formats).

Only what transcripts need: interval tiers (name + intervals with times and text) and point
tiers. Files may be UTF-8 or UTF-16 (Praat writes UTF-16 when text is not ASCII).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(\[\d*\])|(<exists>|<absent>)|([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)')


@dataclass
class Interval:
    start: float
    end: float
    text: str


@dataclass
class Tier:
    name: str
    kind: str  # "IntervalTier" or "TextTier"
    intervals: list[Interval] = field(default_factory=list)


def _decode(raw: bytes, source: str) -> str:
    try:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(source, None, "is neither UTF-8 nor UTF-16",
                         "save the TextGrid from Praat as UTF-8 or UTF-16") from None


def parse_textgrid(text: str, source: str = "TextGrid") -> list[Tier]:
    """Parse TextGrid text into tiers.

    Args:
        text: the file's contents (long or short format).
        source: file name used in error messages.
    """
    tokens: list[str | float] = []
    for m in _TOKEN.finditer(text):
        s, idx, flag, num = m.groups()
        if idx is not None:
            continue
        if s is not None:
            tokens.append(s.replace('""', '"'))
        elif flag is not None:
            tokens.append(flag)
        else:
            tokens.append(float(num))
    pos = 0

    def take(kind: type, what: str):
        nonlocal pos
        if pos >= len(tokens) or not isinstance(tokens[pos], kind):
            raise InputError(source, what, "is missing or malformed", "save the file from Praat as a text TextGrid")
        pos += 1
        return tokens[pos - 1]

    def count(what: str) -> int:
        v = float(take(float, what))
        if not v.is_integer() or not 0 <= v < 10**7:  # inf, NaN, negative or fractional sizes
            raise InputError(source, what, f"{v:g} is not a count", "save the file from Praat as a text TextGrid")
        return int(v)

    if len(tokens) < 2 or tokens[0] != "ooTextFile" or tokens[1] != "TextGrid":
        raise InputError(source, "header", "is not a TextGrid (expected File type = \"ooTextFile\")",
                         "give a Praat TextGrid file")
    pos = 2
    take(float, "xmin")
    take(float, "xmax")
    if pos < len(tokens) and tokens[pos] == "<absent>":
        return []
    if pos < len(tokens) and tokens[pos] == "<exists>":
        pos += 1
    n_tiers = count("size")
    tiers: list[Tier] = []
    for t in range(n_tiers):
        kind = str(take(str, f"tier {t + 1} class"))
        name = str(take(str, f"tier {t + 1} name"))
        take(float, f"tier {t + 1} xmin")
        take(float, f"tier {t + 1} xmax")
        n = count(f"tier {t + 1} size")
        tier = Tier(name=name, kind=kind)
        for i in range(n):
            where = f"tier {name!r} item {i + 1}"
            if kind == "IntervalTier":
                start, end = float(take(float, where)), float(take(float, where))
            else:
                start = end = float(take(float, where))
            tier.intervals.append(Interval(start, end, str(take(str, where))))
        tiers.append(tier)
    return tiers


def read_textgrid(path: str | Path) -> list[Tier]:
    """Read and parse a TextGrid file.

    Args:
        path: the ``.TextGrid`` file.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(str(p), None, "TextGrid file not found", "check the path") from None
    return parse_textgrid(_decode(raw, str(p)), source=str(p))


def write_textgrid(path: str | Path, tiers: list[Tier], xmax: float | None = None) -> None:
    """Write interval tiers as a long-format TextGrid (used by tests and exports).

    Args:
        path: where to write.
        tiers: interval tiers to write.
        xmax: end time of the grid (default: the last interval's end).
    """
    end = xmax if xmax is not None else max((iv.end for t in tiers for iv in t.intervals), default=0.0)
    q = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0 ", f"xmax = {end} ",
             "tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
    for i, t in enumerate(tiers, 1):
        lines += [f"    item [{i}]:", f'        class = "{t.kind}" ', f"        name = {q(t.name)} ",
                  "        xmin = 0 ", f"        xmax = {end} ", f"        intervals: size = {len(t.intervals)} "]
        for j, iv in enumerate(t.intervals, 1):
            lines += [f"        intervals [{j}]:", f"            xmin = {iv.start} ", f"            xmax = {iv.end} ",
                      f"            text = {q(iv.text)} "]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
