"""Reading the YAML files people write (suites, case cards, gate files, templates, rubrics), bounded.

YAML aliases (``*name``) repeat an anchored value without copying it, so 600 bytes of nested
aliases ("billion laughs") stand for a billion values: harmless while shared, but every
validator, hash or dump that walks the document expands it. :func:`load` measures a document as
if every alias were expanded, before anything walks it, and refuses one larger than
:data:`~evalkit.security.limits.MAX_YAML_NODES` values (or one that refers to itself, or is nested
too deeply for the parser) with an :class:`~evalkit.errors.InputError`. Anchors used in moderation
(a block of options shared by two scribes) load as before. Files larger than
:data:`~evalkit.security.limits.MAX_YAML_BYTES` are refused unread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from .limits import MAX_YAML_BYTES, MAX_YAML_NODES, mb

_FIX = "write the repeated values out, or drop the aliases (*name) that nest inside one another"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [x for pair in node.value for x in pair]
    return []


def expanded_size(node: yaml.Node, source: str = "YAML", limit: int = MAX_YAML_NODES) -> int:
    """How many values the document holds once every alias is expanded (iterative; shared nodes counted once each time used).

    Args:
        node: the composed document.
        source: names the file in an error.
        limit: refuse past this many values.

    Raises:
        InputError: more than ``limit`` values, or an alias inside its own anchor.
    """
    memo: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        n, done = stack.pop()
        nid = id(n)
        if done:
            on_path.discard(nid)
            total = 1 + sum(memo[id(c)] for c in _children(n))
            if total > limit:
                line = n.start_mark.line + 1 if n.start_mark is not None else None
                raise InputError(source, f"line {line}" if line else None,
                                 f"expands to more than {limit:,} values through YAML aliases", _FIX)
            memo[nid] = total
            continue
        if nid in memo:
            continue
        on_path.add(nid)
        stack.append((n, True))
        for c in _children(n):
            if id(c) in on_path:
                line = c.start_mark.line + 1 if c.start_mark is not None else None
                raise InputError(source, f"line {line}" if line else None,
                                 "an alias refers to the value that contains it", _FIX)
            if id(c) not in memo:
                stack.append((c, False))
    return memo[id(node)]


def compose(text: str, source: str = "YAML") -> tuple[Any, yaml.Node | None]:
    """Parse YAML text into ``(data, root node)`` with the alias expansion and nesting checked.

    Args:
        text: the YAML text.
        source: names the file in an error.

    Raises:
        yaml.YAMLError: not valid YAML (callers word their own message).
        InputError: too many values once aliases are expanded, a self-referring alias, or nesting
            too deep to parse.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None, None
            expanded_size(node, source)
            return loader.construct_document(node), node
        except RecursionError:
            raise InputError(source, None, "is nested too deeply to read",
                             "flatten the YAML (a few levels of nesting is all evalkit's files need)") from None
    finally:
        loader.dispose()


def load(text: str, source: str = "YAML") -> Any:
    """``yaml.safe_load`` with the checks of :func:`compose`."""
    return compose(text, source)[0]


def read_text(path: str | Path, max_bytes: int = MAX_YAML_BYTES) -> str:
    """A YAML file's text, refused unread when larger than ``max_bytes``.

    Raises:
        FileNotFoundError, UnicodeDecodeError: as ``Path.read_text`` (callers word their own message).
        InputError: the file is too large.
    """
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise InputError(str(p), None, f"is {mb(size)}, larger than the {mb(max_bytes)} evalkit reads from a YAML file",
                         "check it is the right file; suites, cards, gates and templates are a few KB")
    return p.read_text(encoding="utf-8")


def load_file(path: str | Path) -> Any:
    """Read and parse a YAML file with every check of this module (see :func:`read_text` and :func:`compose`)."""
    return load(read_text(path), str(path))


__all__ = ["compose", "expanded_size", "load", "load_file", "read_text"]
