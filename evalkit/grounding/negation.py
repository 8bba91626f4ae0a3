"""Negation, uncertainty, history and family context, compiled to regular expressions.

The trigger rules are medspaCy's ConText rules (``rubrics/grounding/context_rules.json``,
MIT licence, copied from medspacy 1.3.1) plus conversational triggers for spoken
dialogue (``context_rules_spoken.json``). Instead of running a spaCy pipeline per
sentence, every rule is compiled once into one regular expression per direction, and a
modifier's scope is a token window that stops at clause punctuation or a terminating
trigger, as in ConText. Question/answer pairs in dialogue ("any chest pain?" / "no")
are resolved by :func:`answer_polarity`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from typing import Final, NamedTuple

from .lexicon import TOKEN_RE, expand_not, grounding_dir

NEG, AFF, POSS, HYPO, HIST, FAM = "negated", "affirmed", "possible", "hypothetical", "historical", "family"
_CATEGORY: Final = {"NEGATED_EXISTENCE": NEG, "POSSIBLE_EXISTENCE": POSS, "HYPOTHETICAL": HYPO,
             "HISTORICAL": HIST, "FAMILY": FAM}


#: ConText literals that mean "was there, is gone": historical, not absent
_RESOLVED: Final = frozenset({"resolved", "now resolved", "no longer present", "free", "prophylaxis"})
#: how many non-list words may stand between a trigger and its first finding
_FREE_WORDS: Final = {"not": 1, "n't": 1, "non": 0}  # "non-tender": "non" negates the word it prefixes only
_FREE_WORDS_VERB: Final = 2


def _alternatives(tok: dict) -> list[tuple[str, ...]]:
    spec = tok.get("LOWER", tok.get("TEXT", tok.get("ORTH")))
    vals = spec["IN"] if isinstance(spec, dict) and "IN" in spec else [spec]
    out: list[tuple[str, ...]] = []
    for v in vals:
        if not isinstance(v, str):
            continue
        words = tuple(TOKEN_RE.findall(normalize(v)))
        if words:
            out.append(words)
    if tok.get("OP") in ("?", "*"):
        out.append(())
    return out


def _expand(rule: dict) -> list[tuple[str, ...]]:
    """Every token sequence a rule matches (optional tokens and word lists expanded)."""
    pat = rule.get("pattern")
    if not pat:
        words = tuple(TOKEN_RE.findall(normalize(rule["literal"])))
        return [words] if words else []
    seqs: list[tuple[str, ...]] = [()]
    for tok in pat:
        alts = _alternatives(tok)
        if not alts:
            continue
        seqs = [s + a for s in seqs for a in alts]
        if len(seqs) > 5000:
            break
    return [s for s in seqs if s]


class Trigger(NamedTuple):  # a tuple: built for every trigger of every turn, so cheap to make
    start: int  # token indexes [start, end)
    end: int
    category: str
    direction: str  # forward | backward | terminate | pseudo (a self-correction: marks nothing)
    max_free: int


@dataclass(frozen=True)
class Rules:
    first: dict[str, list[tuple[tuple[str, ...], str, str, int]]]  # first word -> (words, category, direction, free)
    first_words: frozenset[str]  # words a non-terminating trigger can start with


def _load_rules(name: str) -> list[dict]:
    path = grounding_dir() / name
    return json.loads(path.read_text(encoding="utf-8"))["context_rules"]


@lru_cache(maxsize=1)
def rules() -> Rules:
    """All ConText triggers as token sequences, indexed by first word (built once)."""
    first: dict[str, dict[tuple[str, ...], tuple[str, str, int]]] = {}
    for rule in _load_rules("context_rules.json") + _load_rules("context_rules_spoken.json"):
        cat = _CATEGORY.get(rule["category"], rule["category"].lower())
        if rule["literal"] in _RESOLVED:
            cat = HIST
        d = rule["direction"]
        lit = rule["literal"].lower().split()
        free = _FREE_WORDS.get(lit[0], 3) if lit else 3
        infos = []
        if d == "TERMINATE" or rule["category"] == "TERMINATE":
            infos.append(("terminate", "terminate", 0))
        elif d == "PSEUDO" or rule["category"] == "PSEUDO":
            # a self-correction ("four — no, sorry, five"; "no wait", "no, I mean"): it holds the
            # "no" so that it negates nothing, and reaches nothing itself
            infos.append(("pseudo", "pseudo", 0))
        else:
            if d in ("FORWARD", "BIDIRECTIONAL"):
                infos.append((cat, "forward", free))
            if d in ("BACKWARD", "BIDIRECTIONAL"):
                infos.append((cat, "backward", 3))
        for seq in _expand(rule):
            for info in infos:
                if len(seq) > 1 and seq[0] in ("not", "n't") and info[1] == "forward":
                    # "not" alone reaches the next word or so ("not sure about the pain"); "not appreciate"
                    # / "not see" is an exam denial and reaches as far as "no" ("i do n't appreciate any
                    # jugular venous distension")
                    info = (info[0], info[1], _FREE_WORDS_VERB)
                first.setdefault(seq[0], {}).setdefault(seq, info)
    idx = {w: sorted(((seq, *info) for seq, info in d.items()), key=lambda x: -len(x[0]))
           for w, d in first.items()}
    fw = frozenset(w for w, lst in idx.items() if any(x[2] != "terminate" for x in lst))
    return Rules(idx, fw)  # type: ignore[arg-type]


CLAUSE_PUNCT: Final = re.compile(r"[.;:!?()]")


def normalize(text: str) -> str:
    """Lower-case and expand "n't" to " not" (and "cannot" to "ca not", as "can't" becomes) so triggers
    and lexicon terms match written and spoken forms (:func:`evalkit.grounding.lexicon.expand_not`)."""
    return expand_not(text.lower())


def may_have_triggers(words) -> bool:
    """Cheap pre-check: whether any non-terminating trigger can start among these words."""
    return not rules().first_words.isdisjoint(words)


def _by_second_word(first: dict[str, list[tuple]]) -> dict[str, tuple[tuple | None, dict[str, list[tuple]]]]:
    """first word -> (one-word trigger or None, second word -> longer triggers, longest first)."""
    out: dict[str, tuple[tuple | None, dict[str, list[tuple]]]] = {}
    for w, lst in first.items():
        single = next((x for x in lst if len(x[0]) == 1), None)
        nxt: dict[str, list[tuple]] = {}
        for x in lst:
            if len(x[0]) > 1:
                nxt.setdefault(x[0][1], []).append(x)
        out[w] = (single, nxt)
    return out


@lru_cache(maxsize=1)
def _trie() -> dict[str, tuple[tuple | None, dict[str, list[tuple]]]]:
    return _by_second_word(rules().first)


def triggers(toks: list[str]) -> list[Trigger]:
    """Every ConText trigger in a token list (tokens of :func:`normalize`-d text), in order."""
    trie = _trie()
    out: list[Trigger] = []
    n = len(toks)
    nxt = 0
    for i in compress(range(n), map(trie.__contains__, toks)):
        if i < nxt:
            continue
        single, longer = trie[toks[i]]
        hit = None
        if i + 1 < n:
            for x in longer.get(toks[i + 1], ()):
                k = len(x[0])
                if i + k <= n and (k == 2 or tuple(toks[i:i + k]) == x[0]):
                    hit = x
                    break
        if hit is None:
            hit = single
        if hit is not None:
            seq, cat, d, free = hit
            out.append(Trigger(i, i + len(seq), cat, d, free))
            nxt = i + len(seq)
    return out


_FILLER: Final = r"(?:(?:um+|uh+|hmm+|mm|well|oh|okay|ok|so|actually|honestly|i mean|you know|and|sorry)[\s,.\-]+)*"
_NEG_ANSWER: Final = re.compile(_FILLER + r"(?:no\b|nope\b|nah\b|not\b|never\b|none\b|nothing\b|negative\b|"
                         r"i (?:do|did|have|had|has|am|was|would|could|ca|wo) not\b|i have never\b|"
                         r"i have not\b|i've not\b|i haven't|i don't|i didn't|i'm not|it's not|not really|"
                         r"not that i|i wouldn't|i can't say)")
_POS_ANSWER: Final = re.compile(_FILLER + r"(?:yes\b|yeah\b|yep\b|yup\b|yes,|uh-huh|uh huh|mm-hmm|mhm|mm hmm|"
                         r"i do\b|i did\b|i have\b|i am\b|i've been\b|i had\b|sometimes\b|occasionally\b|"
                         r"a little\b|a bit\b|a lot\b|correct\b|definitely\b|absolutely\b|sure\b|it does\b|"
                         r"it did\b|it is\b|it has\b|it was\b|i think so\b|kind of\b|sort of\b|of course\b|certainly\b|"
                         r"(?:just |only )?sometimes\b|every now and then\b|once in a while\b|here and there\b|"
                         r"on and off\b|off and on\b|i guess\b|i believe so\b|all the time\b|"
                         r"constantly\b|a few times\b|that's right\b|exactly\b)")
#: a short answer that says yes at its end ("well since the accident yes", "a little bit, yeah")
_YES_LATE: Final = re.compile(r"\b(?:yes|yeah|yep|yup|of course|definitely|absolutely)\b")
_NO_ANY: Final = re.compile(r"\b(?:no|not|never|nope|nothing|none|n't)\b")
_SHORT_ANSWER: Final = 10  # words


def answer_polarity(answer: str) -> str | None:
    """Polarity of a patient's answer to a yes/no question: ``negated``, ``affirmed`` or None.

    Args:
        answer: the answering turn's text.
    """
    a = normalize(answer).lstrip(" ,.")
    if _NEG_ANSWER.match(a):
        return NEG
    if _POS_ANSWER.match(a):
        return AFF
    if len(a.split()) <= _SHORT_ANSWER and _YES_LATE.search(a) and not _NO_ANY.search(a):
        return AFF
    return None


_QUESTION_LEAD: Final = re.compile(
    r"(?:\bany\b|\banything\b|\bever\b|\bdo you\b|\bdid you\b|\bhave you\b|\bhas there\b|\bare you\b|"
    r"\bis there\b|\bare there\b|\bdoes it\b|\bdid it\b|\bdoes that\b|\byou having\b|\byou have any\b|"
    r"\bhow about\b|\bwhat about\b|\byou been\b|\byou noticed?\b|\bexperiencing\b|\bor not\b|\bno\s*\?)")


_TAG_QUESTION: Final = re.compile(r"(?:okay|ok|right|alright|all right|sound|sounds good|make sense|makes sense|yeah|"
                           r"correct|fair|you know|understand)\s*\?")


def is_question_about(turn_text: str, pos: int) -> bool:
    """Whether the words at ``pos`` in a (normalised) clinician turn sit in a yes/no question."""
    # the clause holding pos
    start = max(turn_text.rfind(".", 0, pos), turn_text.rfind("!", 0, pos), turn_text.rfind("?", 0, pos)) + 1
    q = turn_text.find("?", pos)
    nxt = [p for p in (turn_text.find(".", pos), turn_text.find("!", pos)) if p >= 0]
    if q >= 0 and (not nxt or q < min(nxt)):
        tag = _TAG_QUESTION.search(turn_text, max(pos, q - 30), q + 1)
        if tag is None or tag.start() - pos < 15 or _question_lead(turn_text, max(start, pos - 80), pos):
            return True  # a real question, not a statement ending "..., okay?"
    return _question_lead(turn_text, max(start, pos - 80), pos)


_NEGATED_ANY: Final = re.compile(r"\b(?:not|never|without)\b[^.?!]*$")


def _question_lead(text: str, lo: int, hi: int) -> bool:
    """Whether a question's lead words are in ``text[lo:hi]``; "any" a few words after a negation is a
    statement ("did not want any steroid", "i do not appreciate any masses or any rebound"), not a
    question, unless the clause ends asking ("you have n't had any trauma ... have you")."""
    for m in _QUESTION_LEAD.finditer(text, lo, hi):
        if m.group() in ("any", "anything") and _NEGATED_ANY.search(text, max(0, m.start() - 45), m.start()):
            end = text.find(".", hi)
            if not _ASKED_AFTER.search(text, hi, end if end >= 0 else len(text)):
                continue  # not "you have n't had any trauma ... or anything like that have you"
        return True
    return False


_ASKED_AFTER: Final = re.compile(r"\?|\b(?:have you|did you|do you|are you|or anything|right|correct)\s*$")


_LATER_Q: Final = re.compile(r"\b(?:are you|do you|did you|have you|is it|is that|does it|does that|how|what|when|where|"
                      r"which|can you|could you|would you|anything else|any other)\b")


def later_question(turn_text: str, pos: int, gap: int = 40) -> bool:
    """Whether another question starts well after ``pos`` (the answer then belongs to it)."""
    return bool(_LATER_Q.search(turn_text, pos + gap))
