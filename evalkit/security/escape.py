"""Untrusted text (run labels, case ids, scribe names, specialties, check names) made inert in
the reports evalkit writes: GitHub-flavoured Markdown, JUnit XML and the rich terminal.

Inert means: no HTML tag or link comes alive, a ``|`` cannot add a table column, a newline
cannot start a new block, a backtick cannot close a code span early, and square brackets cannot
be read as rich console markup. The text stays readable: a Markdown renderer shows it as typed.
"""

from __future__ import annotations

import html
import re
from typing import Any

#: characters XML 1.0 does not allow at all (ElementTree would write them and the file would not parse)
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
#: Markdown punctuation that could start a link, a code span, emphasis or (in a table) a new cell;
#: an underscore inside a word (``whisper_rules``) never starts emphasis and is left as it is
_MD_PUNCT = re.compile(r"([\\`\[\]|*~]|(?<![^\W_])_|_(?![^\W_]))")
_LINES = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def md_text(text: Any) -> str:
    """Text for Markdown prose or a table cell: HTML escaped, link/code/cell punctuation escaped, one line."""
    one_line = _LINES.sub(" ", _XML_BAD.sub("", str(text)))
    return html.escape(_MD_PUNCT.sub(lambda m: "\\" + m.group(0), one_line), quote=False)


def md_code(text: Any, *, table: bool = False) -> str:
    """Text as an inline code span, backticks included (shown literally, nothing inside is live).

    Args:
        text: the untrusted text.
        table: the span sits in a table cell, where GFM splits cells on ``|`` even inside code
            spans; ``\\|`` there shows as ``|``.
    """
    s = _LINES.sub(" ", _XML_BAD.sub("", str(text)))
    if table:
        s = s.replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def xml_text(text: Any) -> str:
    """Text ElementTree can write into a well-formed XML file (characters XML forbids removed)."""
    return _XML_BAD.sub("", str(text))


def rich_text(text: Any) -> str:
    """Text printed through rich without being read as console markup."""
    from rich.markup import escape

    return escape(str(text))


__all__ = ["md_code", "md_text", "rich_text", "xml_text"]
