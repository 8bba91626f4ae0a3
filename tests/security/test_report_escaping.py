"""Untrusted text in reports is inert: rendered by a real Markdown renderer (markdown-it, with raw
HTML allowed, as a permissive PR-comment renderer would) it shows exactly as typed, in one table
cell, with no live tag or link; in JUnit XML it always parses; in the terminal it is not markup.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from rich.console import Console

from evalkit.security.escape import md_code, md_text, rich_text, xml_text

MD = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
#: the only tags a rendered report fragment may contain (no emphasis either: text shows as typed)
HARMLESS = {"table", "thead", "tbody", "tr", "th", "td", "p", "code"}

PAYLOADS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a | b | c", "`x` | `y`", "``", "`",
    "[click](javascript:alert(1))", "![x](http://evil.invalid/x.png)", "<http://evil.invalid>",
    "x\n| injected | row |\n", "</td></tr><tr><td>", "\\| escaped", "&lt;script&gt;", "&amp;", "&#60;b&#62;",
    "line1\r\nline2", "tab\there", "nul\x00byte", "esc\x1b[31mred", "[bold red]x[/]", "[/]", "*not* _em_",
    "# heading", "> quote", "- item", "<!-- comment", "]]>", "<![CDATA[x]]>",
]

texts = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=30),
                  st.text(alphabet="<>|`[]()\\&;#*_!\n\r\t x/:=\"'", max_size=30))
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


class _Cells(HTMLParser):
    """Collects the tags of a rendered fragment and the text of each table cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[list[str]] = []
        self.in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
            self.in_cell = True

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.in_cell = False

    def handle_data(self, data):
        if self.in_cell:
            self.rows[-1][-1] += data

    def handle_comment(self, data):
        self.tags.append(("!--", {}))


def _render(md: str) -> _Cells:
    p = _Cells()
    p.feed(MD.render(md))
    p.close()
    return p


def _shown(text: str) -> str:
    """What a reader should see: the text on one line, without characters XML/HTML forbid."""
    return re.sub(r"[\r\n\u2028\u2029\x0b\x0c\x85]+", " ", xml_text(text))


def _assert_inert(cells: _Cells) -> None:
    live = [(t, a) for t, a in cells.tags if t not in HARMLESS]
    assert not live, live
    assert not any(k.startswith("on") or "javascript:" in (v or "") for _, a in cells.tags for k, v in a.items())


@FUZZ
@given(text=texts)
def test_md_text_in_a_table_cell_shows_as_typed_and_nothing_more(text):
    cells = _render(f"| name | n |\n|---|---|\n| {md_text(text)} | 1 |\n")
    _assert_inert(cells)
    assert [len(r) for r in cells.rows] == [2, 2], cells.rows  # no extra column, no extra row
    assert cells.rows[1][0].strip() == _shown(text).strip()
    assert cells.rows[1][1] == "1"


@FUZZ
@given(text=texts)
def test_md_code_in_a_table_cell_shows_as_typed(text):
    cells = _render(f"| id | n |\n|---|---|\n| {md_code(text, table=True)} | 1 |\n")
    _assert_inert(cells)
    assert [len(r) for r in cells.rows] == [2, 2], cells.rows
    shown = _shown(text)
    if shown.strip():  # a code span of only spaces shows as spaces
        assert cells.rows[1][0].strip() == shown.strip()


@FUZZ
@given(text=texts)
def test_md_code_and_text_in_prose_stay_on_their_line(text):
    html = MD.render(f"Run {md_code(text)} against {md_text(text)}.\n\nNext paragraph.\n")
    cells = _render(f"Run {md_code(text)} against {md_text(text)}.\n\nNext paragraph.\n")
    _assert_inert(cells)
    assert html.count("<p>") == 2, html  # no new block (heading, list, quote, table) started by the text


@FUZZ
@given(text=texts)
def test_xml_text_always_parses_and_round_trips(text):
    root = ET.Element("testcase", name=xml_text(text))
    ET.SubElement(root, "failure", message=xml_text(text)).text = xml_text(text)
    back = ET.fromstring(ET.tostring(root, encoding="unicode"))
    eol = xml_text(text).replace("\r\n", "\n").replace("\r", "\n")  # XML parsers normalise line ends in text
    assert back.get("name") == xml_text(text)
    assert (back.find("failure").text or "") == eol


@settings(FUZZ, max_examples=100)
@given(text=texts)
def test_rich_text_is_printed_literally(text):
    """Printed as console markup, the escaped text looks exactly like the same text printed as plain Text."""
    from rich.text import Text

    def out(renderable) -> str:
        buf = io.StringIO()
        Console(file=buf, width=400, color_system=None, highlight=False).print(renderable, end="", soft_wrap=True)
        return buf.getvalue()

    assert out(f"[dim]{rich_text(text)}[/dim]") == out(Text(text))  # as used: inside a line of console markup


def test_rich_text_never_raises_on_closing_tags():
    buf = io.StringIO()
    Console(file=buf, color_system=None).print(rich_text("label [/] and [/bold]"))
    assert "label [/] and [/bold]" in buf.getvalue()
