"""Offline, seeded dialogue generator: a case card → clinician/patient turns + the facts they state.

The dialogue runs greeting → small talk → chief complaint → history → symptoms → review of
systems (incl. the negated symptoms) → past history → medications (dose spoken) → allergies →
social and family history → examination narrated with vitals → results → assessment → plan →
closing, with patient hesitations ("um", "well...") and self-corrections ("twice — no, three
times a day"). The clinician's questions stay recognisable ("What medicines are you taking at
the moment?", "Any allergies?", "Let me examine you...", "So the plan is...") for rule-based
note writers.

Every clinical statement is recorded as a :class:`Fact` (template category, note sentence,
ids of the turns that state it), so the reference note says only what the dialogue says.
All choices come from the ``random.Random`` passed in; nothing uses global randomness.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from ..schema import Case, Medication, SpeakerRole, Turn
from .phrasing import (DOSE, FILLER_P, FILLERS, FREQUENCIES, NUMBER_WORDS, PRESCRIBING, ROUTE_PHRASE,
                       for_duration, med_plan_items, plan_clause)
from .voice import (join_list, lower_first, patient_voice, pronouns, regional_terms, sentence,
                    strip_article, strip_stop)

@dataclass
class Fact:
    """A clinical statement made in the dialogue, as the reference note will state it."""

    category: str  # one of evalkit.text.templates.CATEGORIES
    text: str
    evidence: list[int] = field(default_factory=list)
    kind: str = ""  # "cc_short" for the bare chief complaint (dropped when CC and HPI share a section)


@dataclass
class Script:
    turns: list[Turn] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)


class _Builder:
    def __init__(self, case: Case, rng: random.Random):
        self.case, self.rng = case, rng
        self.s = Script()
        self.speaker = case.metadata.get("speaker", "self")
        self.subj, self.obj, self.poss = pronouns(case.persona.pronouns)
        self.terms = regional_terms(case.region, case.dialect)
        self.say = case.metadata.get("say", {}) or {}
        self.filler_p = FILLER_P.get((case.persona.speech_style or "").lower(), 0.3)
        self.name = case.persona.name if case.persona.name != "the patient" else ""
        self.first = self.name.split()[0] if self.name else ""
        self.corrections = 0

    # ------------------------------------------------------------------ primitives

    def c(self, text: str) -> int:
        return self._turn(SpeakerRole.CLINICIAN, text)

    def p(self, text: str, hesitate: bool = True) -> int:
        if hesitate and self.rng.random() < self.filler_p:
            yes_no = re.match(r"^(yes|no|yeah|yep|nope)\b", text, re.I)
            text = self.rng.choice(FILLERS[:3] + FILLERS[4:5] if yes_no else FILLERS) + lower_first(text)
        return self._turn(SpeakerRole.PATIENT, text)

    def _turn(self, role: SpeakerRole, text: str) -> int:
        tid = len(self.s.turns)
        self.s.turns.append(Turn(id=tid, speaker=role, text=sentence(text)))
        return tid

    def fact(self, category: str, text: str, *evidence: int, kind: str = "") -> None:
        self.s.facts.append(Fact(category, sentence(text), sorted(set(evidence)), kind))

    def pick(self, options):
        return self.rng.choice(options)

    def said(self, field_name: str, i: int) -> str | None:
        lines = self.say.get(field_name) or []
        return lines[i] if i < len(lines) and lines[i] else None

    def voice(self, item: str) -> str:
        return patient_voice(item, self.speaker, self.subj)

    @property
    def have_you(self) -> str:
        return "Have you" if not self.parent else f"Has {self.subj}"

    @property
    def parent(self) -> bool:
        return self.speaker != "self"

    # ------------------------------------------------------------------ sections of the visit

    def greeting(self) -> list[int]:
        age, clin = self.case.persona.age, self.case.clinician.name
        if self.parent:
            t1 = self.c(self.pick([f"Hello, you must be {self.name}, and you're {age} now? I'm {clin}.",
                                   f"Hi, come on through. {self.name}, is it? You're {age}, aren't you? I'm {clin}."]))
            t2 = self.p(f"That's right, {age}. And I'm {self.poss} {self.speaker}.", hesitate=False)
        elif self.name:
            t1 = self.c(self.pick([f"Hi, {self.name}? Come on in. I'm {clin}. You're {age}, is that right?",
                                   f"Hello {self.name}, I'm {clin}. Have a seat. And you're {age} years old?"]))
            t2 = self.p(self.pick(["Yes, that's right.", f"Yes, {age}."]), hesitate=False)
        else:
            t1 = self.c(f"Hello, come on in. I'm {clin}. You're {age}, is that right?")
            t2 = self.p("Yes, that's right.", hesitate=False)
        return [t1, t2]

    def small_talk(self) -> None:
        mum = self.terms.get("mom", "mum")
        region = self.case.region
        if region in ("UK", "IE"):
            pairs = [("Did you find us alright? The car park's a bit of a nightmare.",
                      "Yes, eventually, I got the last space."),
                     ("Bit grey out there today, isn't it?", "Oh, it's been raining all morning."),
                     (f"How's your {mum} keeping these days?", "Oh, she's doing well, thanks for asking.")]
        elif region in ("AU", "NZ"):
            pairs = [("How are you going?", "Yeah, not too bad, thanks."),
                     ("Hot one out there today, isn't it?", "Yeah, it's a real scorcher."),
                     (f"How's your {mum} going these days?", "She's good, thanks, keeping busy.")]
        else:
            pairs = [("How was the traffic coming in?", "Not too bad, actually."),
                     ("Did you have a good weekend?", "Yeah, pretty quiet, thanks."),
                     (f"How's your {mum} doing?", "She's good, thanks for asking.")]
        if self.parent:
            pairs = [(f"{self.first}, I like your shoes. Are they new?", "They are, we got them at the weekend."),
                     ("Was it easy enough getting here this morning?", "Yes, not too bad, thanks.")]
        if (self.case.persona.age or 0) > 60:
            pairs = pairs[:2]
        if "mom" in self.case.dialect and not self.parent and len(pairs) > 2:
            chosen = [pairs[2]]
        else:
            chosen = [self.pick(pairs)]
        if (self.case.persona.speech_style or "") == "chatty":
            chosen.append(self.pick([p for p in pairs if p not in chosen]))
        for q, a in chosen:
            self.c(q)
            self.p(a, hesitate=False)

    def complaint(self, intro: list[int]) -> None:
        case = self.case
        cc = strip_stop(case.chief_complaint)
        q = self.c(self.pick(["So, what brings you in today?", "What can I do for you today?",
                              "So, how can I help today?"]))
        if self.parent:
            said = self.pick([f"It's {self.first}, really. {self.subj.capitalize()}'s had {cc}.",
                              f"We're here because {self.first} has had {cc}."])
        else:
            said = self.pick([f"I've come in about {cc}.", f"It's about {cc}, really.", f"I'm here about {cc}."])
        who = self.name or "The patient"
        age = f", aged {case.persona.age}," if case.persona.age is not None else ""
        if case.duration:
            dur = strip_stop(case.duration)
            a = self.p(said + " " + self._duration_answer(dur))
            self.fact("chief_complaint", f"{who}{age} presents with {cc} {for_duration(dur)}", *intro, q, a)
        else:
            a = self.p(said)
            self.fact("chief_complaint", f"{who}{age} presents with {cc}", *intro, q, a)
        self.fact("chief_complaint", strip_article(cc), q, a, kind="cc_short")

    def _duration_answer(self, duration: str) -> str:
        words = duration.split()
        lead = words[0].lower() if words else ""
        if (lead in NUMBER_WORDS[1:] or lead.isdigit()) and (self.rng.random() < 0.35 or self._must_correct()):
            self.corrections += 1
            if lead.isdigit():
                wrong = str(max(1, int(lead) - 1))
            else:
                wrong = NUMBER_WORDS[NUMBER_WORDS.index(lead) - 1]
            return f"It's been about {wrong} — no, actually {duration} now."
        if lead in ("since", "for"):
            return f"It's been like that {duration}."
        return self.pick([f"It's been about {duration}.", f"It's been going on for {duration} now.",
                          f"It started {duration} ago."])

    def _med_can_correct(self) -> bool:
        return any(m.status in ("current", "changed", "stopped") and m.frequency in FREQUENCIES
                   for m in self.case.medications)

    def _must_correct(self) -> bool:
        # guarantee one self-correction: on the duration when no current medication can carry it
        return self.corrections == 0 and not self._med_can_correct()

    def _number_slip(self, line: str) -> str:
        """Say a number wrong, then correct it ("about seven — no, eight"), once per dialogue."""
        if self.corrections:
            return line
        words = "|".join(NUMBER_WORDS[1:])
        m = re.search(rf"\b(\d+|{words}|twice|once)\b", line)
        if not m or (m.group(1).isdigit() and int(m.group(1)) < 2):
            return line
        n = m.group(1)
        if n in ("once", "twice"):
            wrong = {"once": "twice", "twice": "three times"}[n]
        else:
            wrong = str(int(n) - 1) if n.isdigit() else NUMBER_WORDS[NUMBER_WORDS.index(n) - 1]
        self.corrections += 1
        return line[:m.start()] + f"{wrong} — no, {n}" + line[m.end():]

    def history(self) -> None:
        prompts = ["Okay. And what else have you noticed?", "Right. Anything else about it?", "Okay, go on.",
                   "And how has it been since then?"]
        self.rng.shuffle(prompts)
        prompts.insert(0, self.pick(["Tell me a bit more about it.", "Okay. Tell me more about that."]))
        items = list(enumerate(self.case.history))
        i = n = 0
        while i < len(items):
            group = items[i:i + (2 if self.rng.random() < 0.6 else 1)]
            i += len(group)
            q = self.c(prompts[n % len(prompts)])
            n += 1
            lines = [self.said("history", k) or self.voice(item) for k, item in group]
            if self.corrections == 0 and not self._med_can_correct():
                lines = [self._number_slip(x) for x in lines]
            a = self.p(" ".join(sentence(x) for x in lines))
            for _k, item in group:
                self.fact("hpi", item, a)
        present = [strip_stop(x) for x in self.case.symptoms_present]
        if present:
            if self.rng.random() < 0.5:
                q = self.c(f"{self.have_you} had {join_list(present, 'or')}?")
                a = self.p((f"Yes, {join_list(present)}." if len(present) > 1 else "Yes, I have, actually.")
                           if not self.parent else f"Yes, {self.subj} has.")
                ev = [q, a]
            else:
                self.c(self.pick(["Anything else?", "Okay. Anything else you've noticed?"]))
                a = self.p(f"And I've also had {join_list(present)}." if not self.parent
                           else f"And {self.subj}'s also had {join_list(present)}.")
                ev = [a]
            for x in present:
                self.fact("hpi", f"Reports {x}", *ev)

    def review_of_systems(self) -> None:
        absent = [strip_article(strip_stop(s)) for s in self.case.symptoms_absent]
        i = 0
        while i < len(absent):
            group = absent[i:i + self.rng.choice([2, 3, 3])]
            i += len(group)
            ask = join_list(group, "or")
            q = self.c(self.pick([f"Any {ask}?", f"{self.have_you} had any {ask}?", f"What about {ask}?"]))
            nos = ", ".join(f"no {g}" for g in group)
            a = self.p(self.pick([f"No, {nos}.", f"No. {nos[:1].upper() + nos[1:]}."]))
            self.fact("ros", f"Denies {join_list(group)}", q, a)

    def past_history(self) -> None:
        q = self.c(self.pick(["Do you have any other medical conditions?",
                              "Any other medical problems I should know about?"])
                   if not self.parent else f"Does {self.first} have any other medical problems?")
        conds = [strip_stop(x) for x in self.case.conditions]
        if conds:
            who = "I have" if not self.parent else f"{self.subj.capitalize()} has"
            a = self.p(f"{who} {join_list(conds)}.")
            self.fact("pmh", f"Past medical history of {join_list(conds)}", q, a)
        else:
            a = self.p("No, no other medical problems.")
            self.fact("pmh", "No other medical problems", q, a)

    def medications(self) -> None:
        current = [m for m in self.case.medications if m.status in ("current", "changed", "stopped")]
        q = self.c(self.pick(["What medicines are you taking at the moment?",
                              "What medications are you on at the moment?"])
                   if not self.parent else f"What medicines is {self.first} taking at the moment?")
        if not current:
            a = self.p("None at the moment." if not self.parent else "Nothing regular, no.")
            self.fact("medications", "No regular medications", q, a)
            return
        correct_at = next((k for k, m in enumerate(current) if m.frequency in FREQUENCIES), None)
        for k, m in enumerate(current):
            if k:
                self.c(self.pick(["Anything else?", "Okay. Any others?", "And anything else?"]))
            force = k == correct_at and self.corrections == 0
            a = self.p(self._med_line(m, force))
            back = self.c(f"So {self._med_phrase(m)}, okay.")
            self.fact("medications", upper_med(self._med_phrase(m, indication=True)), a, back)

    def _med_phrase(self, m: Medication, indication: bool = False) -> str:
        parts = [m.name, m.dose or "", ROUTE_PHRASE.get((m.route or "").lower(), m.route or ""),
                 m.frequency or ""]
        text = " ".join(p for p in parts if p)
        if indication and m.indication:
            text += f" for {strip_stop(m.indication)}"
        return text

    def _med_line(self, m: Medication, force_correction: bool) -> str:
        dose = f" {m.dose}" if m.dose else ""
        freq = m.frequency or ""
        if freq in FREQUENCIES and (force_correction or self.rng.random() < 0.3):
            self.corrections += 1
            wrong = self.pick([f for f in FREQUENCIES if f != freq])
            freq = f"{wrong} — no, sorry, {freq}"
        ind = ""
        if m.indication:
            ind = f" for {'my' if not self.parent else self.poss} {strip_stop(m.indication)}"
        lead = "I take" if not self.parent else f"{self.subj.capitalize()} takes"
        return f"{lead} {m.name}{dose}, {freq}{ind}." if freq else f"{lead} {m.name}{dose}{ind}."

    def allergies(self) -> None:
        q = self.c(self.pick(["Any allergies?", "Do you have any allergies to medicines?"])
                   if not self.parent else f"Does {self.first} have any allergies?")
        if not self.case.allergies:
            a = self.p("No, none that I know of.")
            self.fact("allergies", "No known drug allergies", q, a)
            return
        parts = []
        for al in self.case.allergies:
            r = f" It gives {'me' if not self.parent else self.obj} {strip_stop(al.reaction)}." if al.reaction else ""
            parts.append(f"{al.substance}.{r}")
        a = self.p("Yes, " + " And ".join(parts))
        for al in self.case.allergies:
            text = f"Allergic to {al.substance}" + (f", which causes {strip_stop(al.reaction)}" if al.reaction else "")
            self.fact("allergies", text, q, a)

    def social_family(self) -> None:
        if self.case.social_history:
            q = self.c(self.pick(["Do you smoke or drink at all? And what do you do for work?",
                                  "Tell me a bit about your life at home. Do you smoke or drink?"])
                       if not self.parent else f"And who does {self.first} live with?")
            lines = [self.said("social_history", k) or self.voice(x) for k, x in enumerate(self.case.social_history)]
            a = self.p(" ".join(sentence(x) for x in lines))
            for x in self.case.social_history:
                self.fact("social", x, q, a)
        if self.case.family_history:
            q = self.c("Does anything run in the family?")
            lines = [self.said("family_history", k) or self.voice(x) for k, x in enumerate(self.case.family_history)]
            a = self.p(" ".join(sentence(x) for x in lines))
            for x in self.case.family_history:
                self.fact("family", x, q, a)

    def examination(self) -> None:
        case = self.case
        if not (case.vitals or case.exam):
            return
        you = "you" if not self.parent else self.first
        self.c(case.metadata.get("exam_intro") or self.pick([
            f"Let me examine {you} now, if that's okay.", f"Right, let me examine {you}.",
            f"I'd like to examine {you} now, is that alright?"]))
        self.p(self.pick(["Sure.", "Yes, of course.", "Okay."]), hesitate=False)
        prompt = case.metadata.get("exam_prompt")
        if prompt:
            self.c(prompt)
            self.p(self.pick(["Okay.", "Like this?", "Sure."]), hesitate=False)
        if case.vitals:
            items = list(case.vitals.items())
            your = "your" if not self.parent else self.poss
            said = join_list([f"{your} {k} is {v}" for k, v in items])
            t = self.c(self.pick([f"So, first the observations: {said}.", f"Okay, {said}."]))
            self.fact("vitals", ", ".join(f"{k} {v}" for k, v in items), t)
        leads = ["Okay, so ", "Right, ", "And ", ""]
        self.rng.shuffle(leads)
        leads.insert(0, self.pick(["On examination, ", "Okay, so "]))
        for k, x in enumerate(case.exam):
            t = self.c(self.said("exam", k) or (leads[k % len(leads)] + lower_first(strip_stop(x)) + "."))
            self.fact("exam", x, t)
            if self.rng.random() < 0.3:
                self.p(self.pick(["Mm-hmm.", "Okay.", "Right."]), hesitate=False)

    def results(self) -> None:
        if not self.case.results:
            return
        if not any(self.say.get("results") or []):
            self.c(self.pick(["I've had a look at your results.", "Your results have come back."]))
        for k, x in enumerate(self.case.results):
            t = self.c(self.said("results", k) or sentence(x))
            self.fact("results", x, t)

    def assessment(self) -> None:
        first = ["So, putting that all together, I think this is {x}.", "So my impression is {x}.",
                 "From what you've told me and the examination, this looks like {x}."]
        more = ["And {x}.", "Also, {x}."]
        for k, x in enumerate(self.case.assessment):
            line = self.said("assessment", k) or self.pick(first if k == 0 else more).format(
                x=lower_first(strip_stop(x)))
            t = self.c(line)
            self.fact("assessment", x, t)
        if self.case.assessment:
            self.p(self.pick(["Okay.", "Right, that makes sense.", "Okay, I see."]), hesitate=False)

    def plan(self) -> None:
        items = med_plan_items(self.case) + list(self.case.plan)
        n_med = len(items) - len(self.case.plan)
        for k, x in enumerate(items):
            override = self.said("plan", k - n_med) if k >= n_med else None
            clause = override or plan_clause(x, self.rng)
            if k == 0 and not override:
                clause = f"So the plan is, {lower_first(clause)}"
            t = self.c(clause)
            self.fact("plan", x, t)
            if k == len(items) - 1 or (k == 1 and len(items) > 3):
                self.p(self.pick(["Okay.", "Right.", "Okay, that's fine.", "Sure, I can do that."]), hesitate=False)

    def closing(self) -> None:
        if "pharmacy" in self.case.dialect and any(PRESCRIBING.match(x) and DOSE.search(x)
                                                   for x in med_plan_items(self.case) + list(self.case.plan)):
            where = self.case.dialect["pharmacy"]
            t = self.c(f"I'll send the prescription to the {where} for you.")
            self.fact("plan", f"Prescription sent to the {where}", t)
        self.c(self.pick(["Do you have any questions?", "Is there anything else you wanted to ask?"]))
        self.p(self.pick(["No, I think that's everything. Thank you.", "No, that's all. Thanks, doctor."]),
               hesitate=False)
        bye = f", {self.first}" if self.first and not self.parent else ""
        self.c(self.pick([f"Great. Take care{bye}.", "You're welcome. Look after yourself."]))


def upper_med(text: str) -> str:
    return text[:1].upper() + text[1:]


def build_script(case: Case, rng: random.Random) -> Script:
    """Generate the dialogue turns and the facts they state, for one card.

    Args:
        case: the case card.
        rng: the seeded random generator that makes every choice.
    """
    b = _Builder(case, rng)
    intro = b.greeting()
    b.small_talk()
    b.complaint(intro)
    b.history()
    b.review_of_systems()
    b.past_history()
    b.medications()
    b.allergies()
    b.social_family()
    b.examination()
    b.results()
    b.assessment()
    b.plan()
    b.closing()
    return b.s
