"""Word lists and patterns the ``rules`` note writer classifies with (lower-case text).

Everything here is a compiled regular expression or a set; the drug, condition and anatomy
terms come from ``evalkit.text.vocab`` (``rubrics/vocab/*.txt``) when that is available.
"""

from __future__ import annotations

import re
from functools import lru_cache


def rx(*alts: str) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of ``alts`` as whole words.

    Alternatives that start with a plain letter are grouped by that letter, so the engine tries
    only the few that can match at each word start (several times faster than a flat list).
    """
    groups: dict[str, list[str]] = {}
    other: list[str] = []
    for a in alts:
        head = a[:1].lower()
        if head.isalnum() and a[1:2] not in ("?", "*", "+", "{"):
            groups.setdefault(head, []).append(a[1:])
        else:
            other.append(a)
    parts = [f"{h}(?:{'|'.join(rest)})" for h, rest in groups.items()] + other
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.I)


# ------------------------------------------------------------------ phase markers (clinician)
EXAM_MARKER = rx(
    r"physical exam(?:ination)?", r"examine (?:you|your|her|him|the)",
    r"take a (?:quick )?look(?! (?:here )?at (?:my|the|your|those|these) (?:notes|chart|records|results|labs|x-?rays?|imaging))"
    r"(?! at (?:that|it|this)\b)",
    r"listen to (?:your|the)", r"(?:let me|i am (?:just )?going to|i will|i want to|i would like to|let us)"
    r"(?: just| go ahead and| quickly)* (?:do a (?:quick )?(?:physical )?exam|exam|examine|check|feel|press|look at|listen)",
    r"vital signs", r"your vitals", r"on (?:your |the |my )?(?:\w+ )?exam(?:ination)?",
    r"on physical", r"exam(?:ination)? (?:today )?(?:shows|showed|reveals|revealed|is)",
    r"i (?:do )?(?:appreciate|note)", r"on auscultation", r"to palpation",
)
RESULTS_TERM = rx(
    r"results?", r"x-?rays?", r"mri", r"ct(?: scan)?", r"cat scan", r"ultrasound", r"echo(?:cardiogram)?",
    r"ekg", r"ecg", r"labs?", r"lab work", r"blood ?work", r"blood tests?", r"a1c", r"hemoglobin a1c",
    r"lipid panel", r"cholesterol", r"urinalysis", r"urine (?:test|sample|culture)", r"biopsy", r"culture",
    r"swab", r"panel", r"scan", r"test(?:s|ing)?", r"imaging", r"mammogram", r"colonoscopy", r"stress test",
    r"kidney function", r"liver (?:function|enzymes)", r"thyroid (?:function|levels?)", r"tsh", r"psa",
    r"ejection fraction", r"white (?:blood )?count", r"platelets?", r"hemoglobin", r"glucose", r"creatinine",
    r"score", r"questionnaire", r"gad-7", r"phq-9", r"pcl-5", r"audit",
)
RESULT_FINDING = rx(
    r"show(?:s|ed|ing)?", r"came back", r"reveal(?:s|ed)?", r"demonstrat\w*", r"review(?:ed)?", r"looking at",
    r"was", r"were", r"is", r"are", r"normal", r"abnormal", r"elevated", r"high", r"low", r"negative",
    r"positive", r"unremarkable", r"consistent with", r"evidence of", r"no sign",
)
AP_MARKER = rx(
    r"assessment and plan", r"my assessment", r"my plan", r"the plan is", r"plan (?:is|would be) to",
    r"so the plan", r"for (?:your|the) (?:first|second|third|fourth|fifth|next|last|other|final) (?:problem|issue)",
    r"problem of", r"my impression", r"in terms of (?:the )?plan", r"what i would like to do",
    r"(?:what|here'?s what) (?:i think|we are going to do|we will do)", r"treatment plan",
)
PROBLEM_HEADER = re.compile(
    r"\b(?:for|regarding|with regards? to|in terms of|as far as|moving on to|now for|next for) (?:your |the |her |his )?"
    r"(?:(?:first|second|third|fourth|fifth|next|last|other|final) )?(?:problem|issue),? (?:of |with |is )?(?:your |the )?"
    r"(?P<cond>[a-z0-9' -]{3,50}?)(?=,|\.|;|$| i | we | let us | you | so | and i | that )",
    re.I,
)
PLAN_VERB = rx(
    r"prescrib\w*", r"start(?:ing)?", r"stop(?:ping)?", r"continu\w*", r"increas\w*", r"decreas\w*",
    r"reduc\w*", r"refer(?:ral|ring)?", r"order(?:ing)?", r"schedul\w*", r"follow[- ]?up", r"come back",
    r"see you (?:back|again|in)", r"return", r"recommend\w*", r"advis\w*", r"repeat", r"send(?:ing)?",
    r"switch\w*", r"discontinu\w*", r"hold(?:ing)? (?:off|the|your)", r"monitor\w*", r"avoid", r"taper\w*",
    r"physical therapy", r"inject\w*", r"give you", r"get (?:a|an|some|you|your|her|him)", r"check(?:ing)?",
    r"keep (?:taking|an eye|track)", r"try", r"add(?:ing)?", r"change (?:your|the|her|his)", r"adjust\w*",
    r"counsel\w*", r"educat\w*", r"take", r"encourag\w*", r"call (?:you|me|us)", r"put (?:you|her|him) on",
    r"place (?:you|her|him) on", r"obtain", r"draw", r"arrange", r"book", r"suggest\w*", r"pick up", r"review",
    r"practi[cs]e", r"apply(?:ing)?", r"use (?:a|an|the|your|this|some)", r"re-?check\w*",
    r"go to (?:the )?(?:a&e|er|emergency|hospital|urgent care)",
)
INTENT = rx(
    r"i am (?:also |just )?going to", r"i want(?: to| you to)?", r"i would like", r"we will", r"we are going to",
    r"let us", r"i will", r"you should", r"you need to", r"you will need", r"please", r"plan", r"recommend",
    r"going to", r"want to", r"would like", r"i think we should", r"we should", r"we can", r"you can", r"suggest",
)
ASSESSMENT_CUE = rx(
    r"consistent with", r"what we call", r"(?:showing|shows) signs of", r"diagnos\w*", r"impression",
    r"you have (?:a|an|some)", r"i think (?:you|it|this|that)", r"likely", r"probably", r"suspect",
    r"concern(?:ed)? (?:for|about|that)", r"sounds like", r"looks like", r"(?:due|related) to", r"secondary to",
    r"well[- ]controlled", r"under control", r"stable", r"improv\w*", r"worsen\w*", r"resolved",
)
META = re.compile(
    r"^(?:hey,? )?dragon\b|\bshow me the\b|\bfinali[sz]e the (?:note|report)\b|\bfor a (?:second|moment|minute)\b|"
    r"\b(?:let me|let us|i will|i am going to)(?: just| go ahead and| quickly)* (?:take a (?:quick )?look|look) at\b|"
    r"\bdo you have any (?:other )?questions\b|"
    r"^any (?:other )?questions\b|\bwhat does (?:all of )?that mean\b|\b(?:let me|let us|i am (?:just )?going to|i want to)"
    r"(?: just| go ahead and| quickly)* (?:talk|go over|review|tell you) (?:a little bit )?(?:about )?(?:my|the|your)? ?"
    r"(?:assessment|plan|findings|results)\b|\bcalling out\b|\blet you know what i find\b|"
    r"\bnurse told you about\b|\btell dax\b|\bdax\b|\btake care\b|\banything else you (?:wanted|want|would like) to ask\b",
    re.I,
)

# ------------------------------------------------------------------ history categories
ALLERGY = rx(r"allergic", r"allerg(?:y|ies) to", r"(?:drug|medication|medicine|food|any|known) allerg(?:y|ies)",
             r"allergies", r"nkda", r"anaphyla\w*")
MEDICATION = rx(
    r"medications?", r"medicines?", r"meds", r"pills?", r"tablets?", r"capsules?", r"prescriptions?",
    r"inhalers?", r"insulin", r"dose", r"dosage", r"milligrams?", r"mg", r"micrograms?", r"mcg", r"units",
    r"supplements?", r"vitamins?", r"over[- ]the[- ]counter", r"puffs?", r"drops", r"cream", r"ointment",
    r"patch", r"injections?", r"taking", r"take (?:it|them|one|two)",
)
FAMILY = rx(r"family", r"mother", r"mom", r"father", r"dad", r"brothers?", r"sisters?", r"siblings?",
            r"parents?", r"grandmother", r"grandfather", r"grandma", r"grandpa", r"aunt", r"uncle",
            r"runs in", r"cousins?")
SOCIAL = rx(
    r"smok\w*", r"cigarettes?", r"tobacco", r"vap\w*", r"alcohol", r"drink(?:s|ing)? (?:alcohol|beer|wine|a lot)",
    r"beers?", r"wine", r"liquor", r"recreational", r"marijuana", r"cannabis", r"weed", r"cocaine",
    r"work(?:s|ing)? (?:as|at|for)", r"job", r"occupation", r"live (?:with|alone|at)", r"lives (?:with|alone)",
    r"married", r"divorced", r"retired", r"exercis\w*", r"sexually active", r"kids", r"children",
    r"husband", r"wife", r"partner", r"school",
)
PMH = rx(
    r"history of", r"medical history", r"past medical", r"surger(?:y|ies)", r"operations?", r"hospitali[sz]\w*",
    r"(?:were|was|been) diagnosed", r"ever (?:had|been)", r"in the past", r"previously", r"chronic",
    r"as a (?:kid|child)", r"years ago", r"childhood", r"(?:medical|health) (?:conditions?|problems?|issues?)",
    r"other conditions",
)
ROS_SYMPTOM = rx(
    r"fevers?", r"chills", r"nausea", r"vomit\w*", r"diarrh\w*", r"constipat\w*", r"chest pains?",
    r"shortness of breath", r"short of breath", r"cough\w*", r"headaches?", r"dizz\w*", r"lightheaded\w*",
    r"rash(?:es)?", r"weight (?:loss|gain)", r"night sweats", r"fatigue\w*", r"tired", r"numbness", r"tingling",
    r"palpitations", r"abdominal pain", r"belly pain", r"stomach (?:pain|ache)", r"blood in", r"urinary",
    r"burning", r"swelling", r"weakness", r"vision", r"sore throat", r"congestion", r"runny nose",
    r"sweats", r"appetite", r"wheez\w*", r"bleeding", r"bruising", r"joint pain", r"back pain",
    r"depress\w*", r"anxi\w*", r"sleep\w*", r"fainting", r"passing out", r"leg swelling", r"muscle aches",
    r"body aches", r"sinus", r"ear pain", r"trouble (?:breathing|swallowing|sleeping)", r"self-harm",
    r"harm(?:ing)? (?:yourself|others)", r"suicid\w*", r"low mood", r"mood", r"hallucinat\w*", r"hearing voices",
    r"panic\w*", r"worr\w*", r"nightmares?", r"flashbacks?", r"energy", r"concentrat\w*", r"locking", r"giving way",
    r"instability", r"stiffness", r"clicking", r"numb", r"cramp\w*", r"discharge", r"itch\w*", r"bowel\w*",
    r"urin\w*", r"periods?", r"pregnan\w*", r"falls?", r"memory", r"confus\w*", r"seizures?", r"fits?",
)
VITALS = rx(
    r"blood pressure", r"bp", r"heart rate", r"pulse", r"temperature", r"temp", r"fever of", r"oxygen",
    r"o2 sat\w*", r"saturation", r"sats?", r"pulse ox\w*", r"respiratory rate", r"respirations", r"weight",
    r"weigh", r"bmi", r"height", r"vitals?", r"vital signs", r"beats per minute",
)
EXAM_TERM = rx(
    r"tender\w*", r"swelling", r"swollen", r"murmurs?", r"rub", r"gallop", r"clear", r"normal", r"palpat\w*",
    r"range of motion", r"reflexes", r"rash", r"edema", r"erythema\w*", r"bilateral\w*", r"lungs?", r"heart",
    r"abdomen", r"soft", r"regular rate", r"rhythm", r"auscultat\w*", r"crackles", r"rales", r"rhonchi",
    r"wheez\w*", r"exam\w*", r"strength", r"sensation", r"pulses", r"lymphadenopathy", r"lymph nodes",
    r"effusion", r"ecchymosis", r"bruis\w*", r"laceration", r"wound", r"lesions?", r"mass", r"pupils",
    r"neck", r"throat", r"tonsils?", r"ears?", r"eyes?", r"skin", r"extremit\w*", r"pain (?:to|with|on)",
    r"positive", r"negative", r"intact", r"appreciate",
)
CC_OPENER = rx(
    r"what brings you(?: in)?", r"what(?:'s| is| has been) going on", r"how can i help", r"what can i do for you",
    r"what seems to be", r"what'?s the (?:problem|matter|issue)", r"what are you here for", r"reason for (?:your|the|today)",
    r"what (?:are|were) you (?:coming|seen) in for", r"what can we do", r"what'?s bothering you",
    r"i (?:heard|hear|understand|see|saw) (?:that )?you", r"tell me (?:what|about) (?:brings|why)",
)
PRESENTS = rx(r"presents? (?:today |in |to clinic )?(?:for|with)", r"(?:is |are |here |coming |came )in (?:today )?for",
              r"here (?:today )?(?:for|with|because)", r"(?:referred|seen) (?:today )?for")
HPI_CUE = rx(r"pain", r"hurt\w*", r"ache\w*", r"sore", r"started", r"began", r"since", r"how long",
             r"when did", r"worse", r"better", r"symptoms?", r"injur\w*", r"fell", r"episodes?",
             r"days?", r"weeks?", r"months?", r"noticed", r"feel\w*", r"doing with", r"diet")
NUMBER_UNIT = re.compile(
    r"\b(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty|hundred|thousand)"
    r"\s*(?:mg|milligrams?|mcg|micrograms?|units?|ml|percent|%|days?|weeks?|months?|years?|times?|pounds?|kg)\b",
    re.I,
)

# ------------------------------------------------------------------ answers, fillers
AFFIRM = re.compile(r"^(?:(?:well|oh|so|um|uh|hmm),?\s+)?(?:yes|yeah|yep|yup|uh-huh|mm-hmm|mhm|correct|that's right|right|sure|definitely|absolutely|"
                    r"(?:i do|i am|i have|i did|i was)(?=\s*(?:[,.!]|$))|i think so|uh,? yes|um,? yes|um,? yeah)\b[,.!]?",
                    re.I)
NEGATE = re.compile(r"^(?:(?:well|oh|so|um|uh|hmm),?\s+)?(?:no|nope|nah|not really|never|none|not that i(?: have)? (?:noticed|know)|nothing|"
                    r"i do not(?: think so)?|i have not|i did not|not at all|"
                    r"uh,? no|um,? no)(?=$|[,.!?]| i | it | not | nothing| that| none| never| no\b| ma'am| sir)", re.I)
ACK = re.compile(
    r"^(?:(?:okay|ok|alright|all right|yes|yeah|yep|sure|right|great|good|perfect|fine|thanks|thank you|"
    r"sounds good|that sounds good|that sounds great|got it|i understand|understood|mm-hmm|uh-huh|mhm|nice|"
    r"wow|cool|bye|goodbye|hi|hello|hey|awesome|excellent|wonderful|of course|no problem|will do|me too|"
    r"you too|good to see you|good seeing you|nice to see you|i see|oh|um|uh|so|and|well|that's great|"
    r"that's good|that's fine|absolutely|definitely|exactly|correct|that's right|no questions|nope|no)[\s,.!?-]*)+$",
    re.I,
)
QUESTION_START = re.compile(
    r"^(?:(?:and|so far|so|okay|ok|now|alright|all right|um|uh|well|but|then|also)[, ]+)*"
    r"(?:do|does|did|are|is|was|were|have|has|had|can|could|would|will|any|anything|how|what|when|where|"
    r"which|who|why|tell me|describe)\b", re.I)
NEG_WORD = re.compile(r"\b(?:no|not|never|without|nothing|none|denies|deny|cannot)\b", re.I)
DISMISS = re.compile(r"^(?:not that i(?: have)? noticed|nothing like that|not really|nothing|none|not at all|"
                     r"i do not think so|not that i know of|nothing else|not anything|no|"
                     r"(?:i|it|she|he|they|that) (?:have|has|do|does|did|am|is|are|was|were)(?: not)?"
                     r"(?:,? (?:actually|really|yes|indeed|i think|i guess))?|"
                     r"that(?:'s| is) (?:it|all|everything)|(?:i think )?that(?:'s| is) (?:about )?it)\W*$", re.I)
FILLER = re.compile(r"\b(?:um+|uh+|er|hmm+|you know|i mean|kind of like)\b,?\s*|\blike,\s+", re.I)
# a yes/no said before the answer proper; "no" only when a clause follows ("no, i ..."), never "no vomiting"
INTERJECTION = re.compile(r"^(?:(?:(?:yes|yeah|yep|yup|uh-huh|mm-hmm|mhm|sure|correct|right|okay|ok|oh|well)\b[,.!]?"
                          r"|(?:no|nope|nah)(?:[,.!]|(?= (?:i|it|she|he|we|they|that|not|nothing|never|but)\b)))\s+)+"
                          r"(?=\w)", re.I)
DISCOURSE = re.compile(r"(?<=[a-z,])(?<!\bwe)(?<!\bi)(?<!\bthey)(?<!\bto)(?<!\bthat)(?<!\bwhat)(?<!\bhow) "
                       r"(?=(?:okay|alright|all right|now|so) (?!much|many|far|long|that\b)"
                       r"|on (?:your|the|her|his) (?:\w+ )?exam|for your (?:first|second|third|next|last|other) problem"
                       r"|(?:are|do|did|have|were|can|could|is|does) you\b|(?:what|any) (?:kind of |other )?questions"
                       r"|and (?:i|we) (?:am|are|will|want|would|do|also)\b|and if\b)", re.I)

LATERALITY = frozenset({"left", "right", "bilateral", "bilaterally", "both"})


@lru_cache(maxsize=1)
def vocab_sets() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(drugs, conditions, anatomy) term sets; empty when ``evalkit.text.vocab`` or its lists are missing."""
    try:
        from ..text import vocab

        return vocab.drugs(), vocab.conditions(), frozenset(vocab.anatomy() - LATERALITY - {"back", "side", "front"})
    except Exception:  # vocab module is optional for this writer
        return frozenset(), frozenset(), frozenset()


@lru_cache(maxsize=1)
def _multiword_heads() -> frozenset[str]:
    return frozenset(t.split(" ", 1)[0] for s in vocab_sets() for t in s if " " in t)


_TOKEN = re.compile(r"[a-z0-9][a-z0-9'-]*")


@lru_cache(maxsize=8192)
def term_hits(low: str) -> tuple[bool, bool, bool]:
    """Whether lower-case text names a drug, a condition, an anatomy term (n-grams up to 4 words).

    Args:
        low: lower-case text.
    """
    drugs, conds, anat = vocab_sets()
    heads = _multiword_heads()
    toks = _TOKEN.findall(low)
    d = c = a = False
    n = len(toks)
    for i in range(n):
        top = 5 if toks[i] in heads else 2
        for k in range(1, top):
            if i + k > n:
                break
            g = toks[i] if k == 1 else " ".join(toks[i:i + k])
            if not d and g in drugs:
                d = True
            if not c and g in conds:
                c = True
            if not a and g in anat:
                a = True
        if d and c and a:
            break
    return d, c, a


_META_HINT = ("dragon", "show me", "finali", "question", "mean", "talk", "go over", "review", "tell you", "calling",
              "let you know", "nurse", "dax", "take care", "to ask", "for a ", "look at")


def is_meta(low: str) -> bool:
    """Whether a clinician utterance is talk about the visit itself (dictation commands, 'any questions?')."""
    return any(h in low for h in _META_HINT) and bool(META.search(low))
