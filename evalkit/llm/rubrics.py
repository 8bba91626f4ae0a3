"""Judge prompts and rubrics: YAML files in ``rubrics/judges/`` that clinicians can read and edit.

A rubric has a ``system`` and a ``user`` prompt with ``{{placeholders}}``, a ``repair`` prompt
(sent after an unusable reply), optional ``definitions`` (rendered as bullet lists with
``{{definitions.<group>}}``) and optional ``items`` (PDQI-9). Its :attr:`Rubric.prompt_hash` is
the content hash of the whole file's data: editing a word gives a new hash, so cached replies
and stored calibrations of the old wording are never mixed with the new.
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..security import safe_yaml
from ..errors import InputError, pydantic_to_input_error
from ..paths import rubrics_dir
from ..schema import content_hash

_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*\}\}")

DEFAULT_REPAIR = ("Your reply could not be used: {{problems}}.\n"
                  "Reply again with only the JSON object in the shape asked for.")


class RubricItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    name: str
    question: str


class Rubric(BaseModel):
    """A judge prompt/rubric file.

    Args:
        name: the rubric's name (the file stem).
        version: a human version label; the content hash is the real identity.
        system, user: prompt templates.
        repair: the follow-up prompt after an unusable reply (``{{problems}}``).
        partial: extra instructions when a long transcript is judged in parts.
        claims_only: extra instructions for requests that judge some sentences and no omissions.
        definitions: groups of term → definition, rendered with ``{{definitions.<group>}}``.
        items: rated items (PDQI-9), rendered with ``{{items}}``.
    """

    model_config = ConfigDict(extra="forbid")
    name: str
    version: str = "1"
    description: str = ""
    system: str = Field(min_length=1)
    user: str = Field(min_length=1)
    repair: str = DEFAULT_REPAIR
    partial: str = ""
    claims_only: str = ""
    definitions: dict[str, dict[str, str]] = Field(default_factory=dict)
    items: list[RubricItem] = Field(default_factory=list)
    _source: str = PrivateAttr(default="rubric")
    _builtins: dict[str, str] | None = PrivateAttr(default=None)

    @cached_property
    def prompt_hash(self) -> str:
        """Content hash of everything the model is told (16 hex digits)."""
        return content_hash(self.model_dump(mode="json"))

    def _builtin(self) -> dict[str, str]:
        private = self.__pydantic_private__  # direct read: pydantic's private lookup raises inside
        if private and private.get("_builtins") is not None:
            return private["_builtins"]
        out = {f"definitions.{g}": "\n".join(f"  - {k}: {v}" for k, v in d.items())
               for g, d in self.definitions.items()}
        if self.items:
            out["items"] = "\n".join(f"  - {i.key} ({i.name}): {i.question}" for i in self.items)
            out["item_keys"] = ", ".join(i.key for i in self.items)
        self._builtins = out
        return out

    def render(self, field: str, **values: Any) -> str:
        """Fill one prompt (``system``, ``user``, ``repair``, ``partial``, ``claims_only``) with values.

        Raises:
            InputError: the prompt uses a placeholder evalkit does not provide (names the file).
        """
        text = getattr(self, field)
        vals = {**self._builtin(), **{k: "" if v is None else str(v) for k, v in values.items()}}

        def sub(m: re.Match) -> str:
            k = m.group(1)
            if k not in vals:
                raise InputError(self._source, field, f"unknown placeholder {{{{{k}}}}}",
                                 f"use only: {', '.join(sorted(vals))}")
            return vals[k]

        return _PLACEHOLDER.sub(sub, text)

    def messages(self, **values: Any) -> list[dict]:
        """System and user chat messages for these values."""
        return [{"role": "system", "content": self.render("system", **values)},
                {"role": "user", "content": self.render("user", **values)}]


def judges_dir() -> Path:
    return rubrics_dir() / "judges"


def list_rubrics(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or judges_dir()).glob("*.yaml"))


def load_rubric_file(path: str | Path) -> Rubric:
    """Load and validate a rubric file; errors name the file, the field and the fix."""
    p = Path(path)
    try:
        raw = safe_yaml.load_file(p)
    except FileNotFoundError:
        raise InputError(str(p), None, "file not found", "give the path of a rubric YAML") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(str(p), f"line {mark.line + 1}" if mark else None, "is not valid YAML",
                         "check indentation and quoting") from None
    if not isinstance(raw, dict):
        raise InputError(str(p), None, "must be a YAML mapping with name, system and user",
                         "see rubrics/judges/claims.yaml")
    try:
        r = Rubric.model_validate(raw)
    except ValidationError as e:
        raise pydantic_to_input_error(str(p), e, "see rubrics/judges/claims.yaml for the format") from None
    r._source = str(p)
    return r


@lru_cache(maxsize=64)
def _cached(path: str, mtime: float) -> Rubric:
    return load_rubric_file(path)


def load_rubric(name_or_path: str | Path, directory: Path | None = None) -> Rubric:
    """A rubric by name (``claims``, ``pdqi9``...) from ``rubrics/judges/``, or by file path."""
    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = (directory or judges_dir()) / f"{name_or_path}.yaml"
        if not p.exists():
            raise InputError("rubric", "name", f"unknown judge rubric {str(name_or_path)!r}",
                             f"use one of: {', '.join(list_rubrics(directory))}, or a path to a YAML file")
    if not p.exists():
        raise InputError(str(p), None, "file not found", "give the path of a rubric YAML")
    return _cached(str(p.resolve()), p.stat().st_mtime)
