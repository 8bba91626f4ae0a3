"""Encounter context: what the record says about the patient, given to the judge beside the dialogue.

A note may state what was never said in the visit but is in the record: the age, the name, the
medication list. Such context is evidence too ("58-year-old" is checked against the recorded
age), and a claim's ``sources`` say whether the dialogue, the record or both support it. Context
comes from the case card (synthetic cards, the ACI-Bench metadata CSV, an importer's columns) or,
for ``evalkit judge``, from a ``context`` object on each JSONL line::

    {"age": 58, "sex": "female", "name": "Ann Lee", "chief_complaint": "knee pain",
     "medications": ["lisinopril 20 mg daily", {"name": "metformin", "dose": "500 mg"}],
     "conditions": ["hypertension"], "allergies": ["penicillin"]}

A suite's ``context`` field names the parts the judge may use (default: all).
"""

from __future__ import annotations

from typing import Any, Final

from .errors import InputError
from .schema import Allergy, Case, Medication, Persona, Sex

#: the parts of the record a suite can give the judge
PARTS: Final = ("demographics", "chief_complaint", "medications", "conditions", "allergies")
_KEYS: Final = ("age", "sex", "name", "chief_complaint", "medications", "conditions", "allergies")
_SEX: Final = {"female": Sex.FEMALE, "f": Sex.FEMALE, "woman": Sex.FEMALE, "male": Sex.MALE, "m": Sex.MALE,
               "man": Sex.MALE, "other": Sex.OTHER}


def _strings(where: str, key: str, v: Any) -> list[str]:
    if isinstance(v, str):
        return [s.strip() for s in v.split(";") if s.strip()]
    if not isinstance(v, list) or not all(isinstance(x, (str, dict)) for x in v):
        raise InputError(where, f"context.{key}", f"must be a list (or ';'-separated text), got {type(v).__name__}",
                         f'e.g. "{key}": ["..."]')
    return v  # type: ignore[return-value]


def case_from_context(context: Any, where: str, case_id: str = "context") -> Case:
    """A case card holding a JSONL line's ``context`` object.

    Args:
        context: the parsed ``context`` value.
        where: ``FILE:LINE``, for messages.
        case_id: the case id to give it.

    Raises:
        InputError: not an object, an unknown key, or a value of the wrong type (naming the key).
    """
    if not isinstance(context, dict):
        raise InputError(where, "context", f"must be an object, got {type(context).__name__}",
                         '{"age": 58, "sex": "female", "medications": ["..."]}')
    unknown = sorted(set(context) - set(_KEYS))
    if unknown:
        raise InputError(where, f"context.{unknown[0]}", "is not a context field", f"use {', '.join(_KEYS)}")
    persona: dict[str, Any] = {}
    age = context.get("age")
    if age is not None:
        if isinstance(age, bool) or not isinstance(age, (int, float)) or not 0 <= age <= 120:
            raise InputError(where, "context.age", f"must be a number of years 0-120, got {age!r}", '"age": 58')
        persona["age"] = int(age)
    sex = context.get("sex")
    if sex is not None:
        if str(sex).strip().lower() not in _SEX:
            raise InputError(where, "context.sex", f"is {sex!r}", "use female, male or other")
        persona["sex"] = _SEX[str(sex).strip().lower()]
    if context.get("name"):
        persona["name"] = str(context["name"])
    meds = []
    for m in _strings(where, "medications", context.get("medications") or []):
        if isinstance(m, dict):
            if not m.get("name"):
                raise InputError(where, "context.medications", "an entry has no name", '{"name": "metformin"}')
            meds.append(Medication(name=str(m["name"]), dose=m.get("dose"), frequency=m.get("frequency")))
        else:
            meds.append(Medication(name=m))
    return Case(id=case_id, specialty="general", chief_complaint=str(context.get("chief_complaint") or "not recorded"),
                persona=Persona(**persona), medications=meds,
                conditions=[str(c) for c in _strings(where, "conditions", context.get("conditions") or [])],
                allergies=[Allergy(substance=str(a)) for a in _strings(where, "allergies", context.get("allergies") or [])],
                source="context")


def restrict(case: Case | None, parts: list[str] | tuple[str, ...]) -> Case | None:
    """The case card with only the record ``parts`` a suite lets the judge use (None: none at all)."""
    if case is None or not parts:
        return None
    if set(parts) >= set(PARTS):
        return case
    upd: dict[str, Any] = {}
    if "demographics" not in parts:
        upd["persona"] = Persona()
    if "chief_complaint" not in parts:
        upd["chief_complaint"] = "not recorded"
    for part in ("medications", "conditions", "allergies"):
        if part not in parts:
            upd[part] = []
    return case.model_copy(update=upd)
