"""Case cards: YAML files (``synthetic/cards/*.yaml``) validated into :class:`evalkit.schema.Case`.

A card is data a clinician can read and edit. Loading checks, beyond the schema:

- the note template named by ``template`` exists;
- every planted fact's keywords occur somewhere in the card's content (otherwise the
  generator could never put them in the dialogue or the note);
- ``metadata.say`` overrides (spoken lines for individual items) line up with their field;
- card ids are unique within a folder.

Any problem raises :class:`~evalkit.errors.InputError` naming the file, the field and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..security import safe_yaml
from ..errors import InputError, pydantic_to_input_error
from ..paths import synthetic_dir
from ..schema import Case

#: card fields whose items may be given a spoken override in ``metadata.say``
SAY_FIELDS = ("history", "exam", "results", "assessment", "plan", "social_history", "family_history")

#: who speaks the PATIENT turns: the patient or a parent/carer
SPEAKERS = ("self", "mum", "mom", "dad", "parent", "carer")


def default_cards_dir() -> Path:
    """The shipped case cards: ``synthetic/cards``."""
    return synthetic_dir() / "cards"


def card_text(case: Case) -> str:
    """All of a card's clinical content as one lower-case string (for keyword checks)."""
    data = case.model_dump(mode="json", exclude={"planted_facts", "metadata", "id", "source"})
    parts: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif v is not None:
            parts.append(str(v))

    walk(data)
    return " \n ".join(parts).lower()


def _check(case: Case, source: str) -> None:
    from ..text.templates import load_template

    try:
        load_template(case.template)
    except InputError as e:
        raise InputError(source, "template", e.problem, e.fix) from None
    text = card_text(case)
    for i, fact in enumerate(case.planted_facts):
        if not fact.keywords:
            raise InputError(source, f"planted_facts[{i}].keywords", "is empty",
                             "list the words a good note must contain, e.g. [\"500 mg\"]")
        for kw in fact.keywords:
            if kw.lower() not in text:
                raise InputError(source, f"planted_facts[{i}].keywords",
                                 f"keyword {kw!r} does not occur in the card's content",
                                 "use words written in the card's history, medications, exam or plan fields")
    say = case.metadata.get("say", {})
    if not isinstance(say, dict):
        raise InputError(source, "metadata.say", "must be a mapping of field name to a list of lines",
                         f"use one of: {', '.join(SAY_FIELDS)}")
    for field, lines in say.items():
        if field not in SAY_FIELDS:
            raise InputError(source, f"metadata.say.{field}", "is not a field that can be overridden",
                             f"use one of: {', '.join(SAY_FIELDS)}")
        items = getattr(case, field)
        if not isinstance(lines, list) or len(lines) != len(items):
            raise InputError(source, f"metadata.say.{field}",
                             f"must be a list of {len(items)} lines (one per item, null to keep the default)",
                             f"give one entry per item of '{field}'")
    speaker = case.metadata.get("speaker", "self")
    if speaker not in SPEAKERS:
        raise InputError(source, "metadata.speaker", f"unknown speaker {speaker!r}",
                         f"use one of: {', '.join(SPEAKERS)}")
    if case.persona.age is None:
        raise InputError(source, "persona.age", "is missing", "give the patient's age in years, e.g. age: 54")


def load_card(path: str | Path) -> Case:
    """Load and validate one case card.

    Args:
        path: a ``.yaml`` card file.

    Returns:
        The validated :class:`Case`.

    Raises:
        InputError: the file is missing, not YAML, or a field is wrong (message names the field).
    """
    p = Path(path)
    src = str(p)
    try:
        raw = safe_yaml.load_file(p)
    except FileNotFoundError:
        raise InputError(src, None, "no such card file", "check the path") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise InputError(src, where, "is not valid YAML",
                         "check indentation and quote text containing ':' or '#'") from None
    except UnicodeDecodeError:
        raise InputError(src, None, "is not UTF-8 text", "save the card as UTF-8 YAML") from None
    if not isinstance(raw, dict):
        raise InputError(src, None, "must be a YAML mapping of card fields",
                         "start with 'id:', 'specialty:' and 'chief_complaint:' (see synthetic/README.md)")
    vitals = raw.get("vitals")
    if isinstance(vitals, dict):  # "heart rate: 88" is a number in YAML; the schema keeps text
        raw["vitals"] = {k: (str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                         for k, v in vitals.items()}
    try:
        case = Case.model_validate(raw)
    except ValidationError as e:
        raise pydantic_to_input_error(src, e, "see synthetic/README.md for the card format") from None
    _check(case, src)
    return case


def load_cards(directory: str | Path | None = None) -> list[Case]:
    """Load every ``*.yaml`` card in a folder, sorted by file name.

    Args:
        directory: the folder (default: the shipped ``synthetic/cards``). A single card
            file is accepted too.

    Returns:
        The cards, in file-name order.

    Raises:
        InputError: a card is invalid, the folder holds no cards, or two cards share an id.
    """
    d = Path(directory) if directory is not None else default_cards_dir()
    if d.is_file():
        return [load_card(d)]
    if not d.is_dir():
        raise InputError(str(d), None, "no such cards folder", "pass --cards with a folder of *.yaml case cards")
    files = sorted(list(d.glob("*.yaml")) + list(d.glob("*.yml")))
    if not files:
        raise InputError(str(d), None, "holds no *.yaml case cards", "add cards (see synthetic/README.md)")
    cards: list[Case] = []
    seen: dict[str, Path] = {}
    for f in files:
        c = load_card(f)
        if c.id in seen:
            raise InputError(str(f), "id", f"duplicate card id {c.id!r} (also in {seen[c.id].name})",
                             "give every card a unique id")
        seen[c.id] = f
        cards.append(c)
    return cards


__all__ = ["SAY_FIELDS", "SPEAKERS", "card_text", "default_cards_dir", "load_card", "load_cards"]
