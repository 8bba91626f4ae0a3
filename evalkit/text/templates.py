"""Note templates: YAML files in ``rubrics/templates/`` that a clinician can read and edit."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..security import safe_yaml
from ..errors import InputError, pydantic_to_input_error
from ..paths import rubrics_dir

#: categories of clinical content; the rules scribe and the generator sort facts into these
CATEGORIES = (
    "chief_complaint", "hpi", "ros", "pmh", "medications", "allergies", "social", "family",
    "vitals", "exam", "results", "assessment", "plan",
)

RULES = ("min_sentences", "medications_have_dose", "states_action", "mentions_any")


class SectionRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str
    value: Any = None
    why: str = ""

    def model_post_init(self, _ctx: Any) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}; known rules: {', '.join(RULES)}")


class TemplateSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    title: str
    aliases: list[str] = Field(default_factory=list)
    required: bool = True
    sources: list[str] = Field(default_factory=list)
    rules: list[SectionRule] = Field(default_factory=list)
    # (title, aliases, normalised names) — rebuilt when title or aliases are replaced
    _names: tuple[str, list[str], frozenset[str]] | None = PrivateAttr(default=None)

    def model_post_init(self, _ctx: Any) -> None:
        bad = [s for s in self.sources if s not in CATEGORIES]
        if bad:
            raise ValueError(f"unknown source categories {bad}; known: {', '.join(CATEGORIES)}")

    def heading_names(self) -> frozenset[str]:
        """The normalised title and aliases (see :func:`normalize_heading`)."""
        c = self._names
        if c is None or c[0] is not self.title or c[1] is not self.aliases:
            names = frozenset([normalize_heading(self.title), *(normalize_heading(a) for a in self.aliases)])
            c = self._names = (self.title, self.aliases, names)
        return c[2]

    def matches(self, heading: str) -> bool:
        return normalize_heading(heading) in self.heading_names()


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    sections: list[TemplateSection]
    # (sections, normalised heading → first section naming it) — rebuilt when sections are replaced
    _headings: tuple[list[TemplateSection], dict[str, TemplateSection]] | None = PrivateAttr(default=None)

    def section(self, key: str) -> TemplateSection:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)

    def section_for_category(self, category: str) -> TemplateSection | None:
        for s in self.sections:
            if category in s.sources:
                return s
        return None

    def match_heading(self, heading: str) -> TemplateSection | None:
        """The first section whose title or an alias matches ``heading`` (case and punctuation ignored)."""
        c = self._headings
        if c is None or c[0] is not self.sections:
            index: dict[str, TemplateSection] = {}
            for s in self.sections:
                for name in s.heading_names():
                    index.setdefault(name, s)
            c = self._headings = (self.sections, index)
        return c[1].get(normalize_heading(heading))


_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


@lru_cache(maxsize=4096)
def normalize_heading(h: str) -> str:
    return _NOT_ALNUM.sub(" ", h.upper()).strip()


def templates_dir() -> Path:
    return rubrics_dir() / "templates"


def list_templates(directory: Path | None = None) -> list[str]:
    d = directory or templates_dir()
    return sorted(p.stem for p in d.glob("*.yaml"))


def load_template_file(path: Path) -> Template:
    try:
        raw = safe_yaml.load_file(path)
    except FileNotFoundError:
        raise InputError(str(path), None, "template file not found",
                         "give the path of a template YAML (see rubrics/templates/)") from None
    except UnicodeDecodeError:
        raise InputError(str(path), None, "is not UTF-8 text", "save the template as UTF-8") from None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        where = f"line {line + 1}" if line is not None else None
        raise InputError(str(path), where, "is not valid YAML", "check indentation and quoting") from None
    if not isinstance(raw, dict):
        raise InputError(str(path), None, "must be a YAML mapping with 'name' and 'sections'")
    try:
        return Template.model_validate(raw)
    except ValidationError as e:
        raise pydantic_to_input_error(str(path), e, "see rubrics/templates/SOAP.yaml for the format") from None


@lru_cache(maxsize=64)
def _load_cached(name: str, directory: str) -> Template:
    d = Path(directory)
    path = d / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(list_templates(d))
        raise InputError("template", "name", f"unknown template {name!r}", f"use one of: {known}")
    return load_template_file(path)


def load_template(name: str, directory: Path | None = None) -> Template:
    """Load a template by name (``SOAP``, ``HISTORY_AND_PHYSICAL``...), case-insensitive."""
    key = re.sub(r"[^A-Z0-9_]+", "_", name.strip().upper())
    return _load_cached(key, str(directory or templates_dir()))
