"""Fixed phrasing for the dialogue generator: fillers, frequencies, routes, plan wording."""

from __future__ import annotations

import random
import re

from ..schema import Case
from .voice import lower_first, strip_stop

FILLERS = ("Um, ", "Uh, ", "Well, ", "Well... ", "Hmm, ", "So, ", "Yeah, ")
FREQUENCIES = ("once a day", "twice a day", "three times a day", "four times a day", "at night",
               "in the morning")
NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve")
ROUTE_PHRASE = {"oral": "by mouth", "po": "by mouth", "inhaled": "inhaled", "topical": "applied to the skin",
                "subcutaneous": "by injection under the skin", "sublingual": "under the tongue",
                "intramuscular": "by injection", "transdermal": "as a patch", "nasal": "as a nasal spray",
                "eye drops": "as eye drops", "rectal": "rectally", "vaginal": "vaginally"}
FILLER_P = {"hesitant": 0.6, "chatty": 0.35, "terse": 0.12}
_CLINICIAN_VERBS = ("start", "stop", "increase", "reduce", "decrease", "refer", "order", "book", "arrange",
                    "request", "check", "prescribe", "send", "repeat", "recheck", "switch", "change",
                    "give", "organise", "organize", "write", "schedule", "add", "review", "offer",
                    "provide", "swab", "taper", "hold", "restart", "titrate", "measure", "screen")
_PATIENT_VERBS = ("take", "rest", "avoid", "drink", "use", "keep", "return", "come", "seek", "go", "attend",
                  "try", "monitor", "apply", "elevate", "wear", "call", "contact", "practise", "practice",
                  "record", "eat", "ice", "stretch", "limit", "see", "complete", "continue", "book in",
                  "bring", "walk", "do", "read", "finish", "have", "get", "pick")
PRESCRIBING = re.compile(r"^(start|increase|change|prescribe|switch)\b", re.I)
DOSE = re.compile(r"\d+(?:\.\d+)?\s*(?:mg|mcg|g|ml|%|units)(?![A-Za-z])", re.I)


def for_duration(duration: str) -> str:
    """ "three days" → "for three days"; "since Monday" stays as it is."""
    return duration if duration.split(" ", 1)[0].lower() in ("since", "for") else f"for {duration}"


def med_plan_items(case: Case) -> list[str]:
    """Plan items implied by medications with status new/changed/stopped (unless the plan names them)."""
    plan_text = " ".join(case.plan).lower()
    out = []
    for m in case.medications:
        if m.status == "current" or m.name.lower() in plan_text:
            continue
        spec = " ".join(x for x in [m.dose, ROUTE_PHRASE.get((m.route or "").lower(), m.route or ""),
                                    m.frequency] if x)
        ind = f" for {strip_stop(m.indication)}" if m.indication else ""
        if m.status == "new":
            out.append(f"Start {m.name} {spec}{ind}.")
        elif m.status == "changed":
            out.append(f"Change {m.name} to {spec}.")
        elif m.status == "stopped":
            out.append(f"Stop {m.name}.")
    return out


def plan_clause(item: str, rng: random.Random) -> str:
    """How the clinician says a plan item written as an instruction ("Start ...", "Rest ...")."""
    x = strip_stop(item)
    first = x.split(" ", 1)[0].lower()
    low = lower_first(x)
    if first in _CLINICIAN_VERBS:
        return rng.choice([f"We'll {low}.", f"I'm going to {low}.", f"I'd like to {low}."])
    if first in _PATIENT_VERBS or re.match(r"^(follow|book in|come back)", low):
        return rng.choice([f"I'd like you to {low}.", f"You should {low}.", f"I'd suggest you {low}."])
    return rng.choice([f"Also, {low}.", f"And {low}."])
