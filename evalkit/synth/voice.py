"""Small wording helpers for the dialogue generator: person, case, lists, regional terms.

Card items are written the way a note states them ("Has taken paracetamol 1 g with little
relief."). The patient says them in the first person ("I have taken paracetamol 1 g with
little relief."); a parent speaking for a child uses the child's pronoun.
"""

from __future__ import annotations

import re

#: third-person verbs a card item may start with → first-person form
_FIRST_PERSON = {
    "has": "I have", "had": "I had", "is": "I'm", "was": "I was", "takes": "I take", "took": "I took",
    "feels": "I feel", "felt": "I felt", "gets": "I get", "got": "I got", "notices": "I notice",
    "noticed": "I noticed", "wakes": "I wake", "woke": "I woke", "finds": "I find", "found": "I found",
    "tried": "I tried", "tries": "I try", "uses": "I use", "used": "I used", "lives": "I live",
    "works": "I work", "worked": "I worked", "smokes": "I smoke", "smoked": "I smoked",
    "drinks": "I drink", "exercises": "I exercise", "walks": "I walk", "drives": "I drive",
    "sleeps": "I sleep", "slept": "I slept", "eats": "I eat", "stopped": "I stopped", "quit": "I quit",
    "never": "I've never", "missed": "I missed", "cannot": "I can't", "can": "I can",
    "struggles": "I struggle", "avoids": "I avoid", "plays": "I play", "runs": "I run", "goes": "I go",
    "went": "I went", "started": "I started", "needs": "I need", "needed": "I needed",
    "wants": "I want", "keeps": "I keep", "spends": "I spend", "attends": "I attend", "saw": "I saw",
    "does": "I do", "did": "I did", "checks": "I check", "monitors": "I monitor", "lost": "I lost",
    "gained": "I gained", "fell": "I fell", "twisted": "I twisted", "injured": "I injured",
    "hurt": "I hurt", "landed": "I landed", "lifted": "I lifted", "cycles": "I cycle",
    "studies": "I study", "shares": "I share", "cares": "I care", "hears": "I hear", "heard": "I heard",
    "skips": "I skip", "forgets": "I forget", "forgot": "I forgot", "ran": "I ran", "began": "I began",
    "coughs": "I cough", "scratches": "I scratch", "reports": "I'd say I have", "describes": "I'd describe",
    "rates": "I'd rate", "practises": "I practise", "enjoys": "I enjoy", "volunteers": "I volunteer",
    "slipped": "I slipped", "tripped": "I tripped", "bumped": "I bumped", "knocked": "I knocked",
    "developed": "I developed", "caught": "I caught", "stays": "I stay", "stayed": "I stayed",
    "looks": "I look", "looked": "I looked", "wears": "I wear", "gave": "I gave", "gives": "I give",
    "visited": "I visited", "returned": "I returned", "travelled": "I travelled", "traveled": "I traveled",
    "ate": "I ate", "drank": "I drank", "vomited": "I vomited", "coughed": "I coughed", "sneezed": "I sneezed",
    "thinks": "I think", "thought": "I thought", "worries": "I worry", "worried": "I worried",
}
#: possessive/reflexive pronouns → first person
_POSSESSIVE = re.compile(r"\b(his|her|their)\b(?!\s+(?:self|selves))", re.I)
_REFLEXIVE = re.compile(r"\b(himself|herself|themselves|themself)\b", re.I)
_CONJUNCT = re.compile(r"\b(and|but)\s+(" + "|".join(sorted(_FIRST_PERSON, key=len, reverse=True)) + r")\b",
                       re.I)
_RELATIONS = ("father", "mother", "brother", "sister", "grandfather", "grandmother", "uncle", "aunt",
              "son", "daughter", "husband", "wife", "partner", "parents", "grandparents", "cousin")


def pronouns(spec: str) -> tuple[str, str, str]:
    """Subject, object and possessive pronouns from ``"she/her"``, ``"he/him"``, ``"they/them"``."""
    s = spec.lower().split("/")[0].strip()
    return {"she": ("she", "her", "her"), "he": ("he", "him", "his")}.get(s, ("they", "them", "their"))


def lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word looks like a name or an acronym."""
    if not text:
        return text
    word = text.split(" ", 1)[0]
    if word == "I" or word.startswith("I'") or (len(word) > 1 and not word[1:].islower()):
        return text
    return text[0].lower() + text[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def sentence(text: str) -> str:
    """Capitalise and end with a full stop (unless it already ends with punctuation)."""
    t = upper_first(text.strip())
    return t if t.endswith((".", "!", "?")) else t + "."


def strip_stop(text: str) -> str:
    return text.strip().rstrip(".")


def join_list(items: list[str], conj: str = "and") -> str:
    items = [strip_stop(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def strip_article(text: str) -> str:
    return re.sub(r"^(a|an|some|the)\s+", "", text.strip(), flags=re.I)


def patient_voice(item: str, speaker: str = "self", subject: str = "she") -> str:
    """How the patient (or a parent speaking for a child) says a note-style card item.

    Args:
        item: the card item, e.g. ``"Has had a cough for two weeks."``.
        speaker: ``"self"`` or a parent/carer word (``"mum"``...).
        subject: the child's subject pronoun when a parent speaks.
    """
    text = strip_stop(item)
    first, _, rest = text.partition(" ")
    key = first.lower()
    rel = key in _RELATIONS
    if speaker == "self":
        text = _POSSESSIVE.sub("my", text)
        text = _REFLEXIVE.sub("myself", text)
        first, _, rest = text.partition(" ")
        if key in _FIRST_PERSON:
            # the patient is the subject: later verbs joined by "and"/"but" take "I" too
            rest = _CONJUNCT.sub(lambda m: f"{m.group(1)} {_FIRST_PERSON[m.group(2).lower()]}", rest)
            text = _FIRST_PERSON[key] + (" " + rest if rest else "")
        elif rel:
            text = "my " + lower_first(text)
        else:
            text = lower_first(text)
    else:
        if key in _FIRST_PERSON:
            verb = {"never": "has never", "cannot": "can't"}.get(key, key)
            if subject == "they":
                verb = {"has": "have", "is": "are", "was": "were", "does": "do"}.get(verb, verb)
            text = f"{subject} {verb}" + (" " + rest if rest else "")
        elif rel:
            poss = {"she": "her", "he": "his"}.get(subject, "their")
            text = f"{poss} " + lower_first(text)
        else:
            text = lower_first(text)
    return text


#: regional words the generator itself uses (cards may override with ``dialect``)
REGIONAL = {
    "UK": {"mom": "mum", "pharmacy": "chemist", "GP": "GP", "emergency room": "A&E",
           "acetaminophen": "paracetamol"},
    "IE": {"mom": "mam", "pharmacy": "chemist", "GP": "GP", "emergency room": "A&E",
           "acetaminophen": "paracetamol"},
    "AU": {"mom": "mum", "pharmacy": "chemist", "GP": "GP", "emergency room": "emergency",
           "acetaminophen": "paracetamol"},
    "NZ": {"mom": "mum", "pharmacy": "chemist", "GP": "GP", "emergency room": "ED",
           "acetaminophen": "paracetamol"},
    "US": {"mom": "mom", "pharmacy": "pharmacy", "GP": "primary care doctor", "emergency room": "the ER",
           "acetaminophen": "acetaminophen"},
    "CA": {"mom": "mom", "pharmacy": "pharmacy", "GP": "family doctor", "emergency room": "the ER",
           "acetaminophen": "acetaminophen"},
}


def regional_terms(region: str, dialect: dict[str, str]) -> dict[str, str]:
    """The region's default words overridden by the card's ``dialect`` mapping."""
    terms = dict(REGIONAL.get(region, REGIONAL["US"]))
    terms.update(dialect)
    return terms
