"""Shared pieces of the input-boundary fuzz tests.

Every fuzz test feeds generated *bad* input to one boundary and checks the one contract:
the boundary raises :class:`evalkit.errors.InputError` (or, for a scribe backend's answer,
:class:`evalkit.scribes._json_output.ScribeError`) whose message is one line and names the file
(or backend) — never another exception type, which would reach the user as a traceback.

:class:`Tally` counts the bad inputs each boundary refused; the fuzz conftest prints the totals
at the end of the session, and each test asserts its own minimum so a strategy that drifts into
generating valid input fails loudly.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from evalkit.errors import InputError

#: one settings object for all fuzz tests: reproducible (derandomized), no example database on disk
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large])

TALLIES: dict[str, "Tally"] = {}


@dataclass
class Tally:
    """Counts of one boundary's outcomes over a fuzz test."""

    name: str
    refused: int = 0
    accepted: int = 0
    messages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        TALLIES[self.name] = self

    def refuse(self, err: BaseException, *, source: str, field: str | None = None) -> None:
        """Check a refusal is a clear one-line error naming ``source`` (and ``field``), then count it."""
        assert_clear(err, source=source, field=field)
        self.refused += 1
        if len(self.messages) < 5:
            self.messages.append(str(err))


def assert_clear(err: BaseException, *, source: str, field: str | None = None,
                 types: tuple[type[BaseException], ...] = (InputError,)) -> None:
    """The error is one of ``types``, one line, non-empty, and names ``source`` (and ``field``)."""
    assert isinstance(err, types), f"{type(err).__name__} instead of a clear error: {err!r}"
    msg = str(err)
    assert msg.strip(), "empty error message"
    assert "\n" not in msg and "\r" not in msg, f"error message spans lines: {msg!r}"
    assert "Traceback" not in msg, msg
    assert source in msg, f"error does not name {source!r}: {msg}"
    if field is not None:
        assert field in msg, f"error does not name field {field!r}: {msg}"
    if isinstance(err, InputError):
        assert err.field or ":" in err.source or err.problem, msg


def expect_refusal(tally: Tally, fn, *args, source: str, field: str | None = None, allow_ok: bool = False,
                   types: tuple[type[BaseException], ...] = (InputError,), **kwargs):
    """Call ``fn``; it must raise a clear error (or succeed, when ``allow_ok``). Returns its result."""
    try:
        out = fn(*args, **kwargs)
    except types as e:
        assert_clear(e, source=source, field=field, types=types)
        tally.refused += 1
        if len(tally.messages) < 5:
            tally.messages.append(str(e))
        return None
    if not allow_ok:
        raise AssertionError(f"{getattr(fn, '__name__', fn)} accepted bad input from {source}")
    tally.accepted += 1
    return out


# ---------------------------------------------------------------------------- strategies

#: text a clinician might type by mistake, plus control characters, quotes and unicode
junk_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
names = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=12)

#: any JSON value, small
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | junk_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=10,
)


def not_a(kind: type) -> st.SearchStrategy:
    """JSON/YAML values that are certainly not of ``kind`` (and that pydantic will not coerce)."""
    scal_str = junk_text.filter(lambda s: s.strip() != "")
    lists = st.lists(json_values, min_size=1, max_size=3)
    dicts = st.dictionaries(names, json_values, min_size=1, max_size=3)
    if kind is str:
        return lists | dicts
    if kind is list:
        return dicts | st.integers() | st.booleans()
    if kind is dict:
        return lists | st.integers() | scal_str.map(lambda s: "x" + s)
    if kind is int:
        return lists | dicts | st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)
    raise ValueError(kind)


#: YAML texts that cannot be parsed
broken_yaml = st.sampled_from([
    "key: [unclosed\n", "a: {b: 1\n", "- x\n y: 2\n  - z\n", "a: 'unterminated\n", "\tkey: tab-indented\n",
    "a: b: c\n", "? [a\n", "*undefined_alias\n", "a: &x 1\nb: *y\n", "%YAML 9.9\n---\na: 1\n",
    "a: 1\n---\nb: 2\n", "[1, 2\n", "{a: 1, a: }\n:\n  - ]\n", "key: \"bad \\q escape\"\n",
])

#: top-level YAML values that are not a mapping
not_mappings = st.sampled_from(["", "# only a comment\n", "null\n", "42\n", "- a\n- b\n", "just text\n",
                                "[1, 2, 3]\n", "true\n", "'quoted'\n"])

#: bytes that are not UTF-8
not_utf8 = st.sampled_from([b"\xff\xfe\x00a: 1", b"id: caf\xe9\n", b"\x80\x81\x82", b"name: x\n\xc3\x28\n",
                            b"a: \xed\xa0\x80\n"])


def dump(doc) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@st.composite
def mutated_mapping(draw, base: dict, required: list[str], types: dict[str, type]) -> tuple[str | bytes, str | None]:
    """A YAML text (or bytes) made bad from a valid mapping; returns (content, field it breaks or None).

    Args:
        base: a valid document.
        required: top-level keys that must be present.
        types: expected type of some top-level keys (str, list, dict, int).
    """
    kinds = ["unknown_key", "wrong_type", "broken_yaml", "not_mapping", "not_utf8"]
    kind = draw(st.sampled_from(kinds + (["drop_required"] if required else [])))
    doc = dict(base)
    if kind == "unknown_key":
        key = draw(names.filter(lambda k: k not in base)) + "_x"
        doc[key] = draw(json_values)
        return dump(doc), key
    if kind == "drop_required":
        key = draw(st.sampled_from(required))
        doc.pop(key)
        return dump(doc), key
    if kind == "wrong_type":
        key = draw(st.sampled_from(sorted(types)))
        doc[key] = draw(not_a(types[key]))
        return dump(doc), key
    if kind == "broken_yaml":
        good = dump(doc)
        bad = draw(broken_yaml)
        return (bad + good) if draw(st.booleans()) else bad, None
    if kind == "not_mapping":
        return draw(not_mappings), None
    return draw(not_utf8), None
