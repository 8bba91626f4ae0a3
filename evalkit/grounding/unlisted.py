"""Clinical words the lexicon does not list, asserted in a note but never said in the visit.

Machine-written notes invent findings in words no list can hold ("Mitochondritis dissecans is
present", "Right ventricular hypertrophy is present", "Prolipidemia: elevation"). A word with a
clinical ending (-itis, -osis, -emia, -opathy, -megaly...) that no lexicon term covers is
grounded when the dialogue says it, a close spelling of it (a misheard word), or a word that starts
like its root ("thyromegaly" by "thyroid", "appendectomy" by "appendix"). It is flagged only when
the note asserts it: not denied ("no thyromegaly"), not a risk, a possibility or something to rule
out ("counselled on the risk of hematoma"), not a relative's.
"""

from __future__ import annotations

import re
from typing import Final

from rapidfuzz import fuzz, process

from .checks import UNSUPPORTED, Check
from .entities import Unit
from .index import TranscriptIndex
from .negation import AFF

#: endings of diseases and findings; not of operations (-ectomy, -plasty...), which patients name in other
#: words ("had my gallbladder out" for a cholecystectomy) that no root matches
_ENDING: Final = re.compile(r"(?:itis|osis|emia|aemia|opathy|opathic|trophy|trophic|algia|megaly|penia|cytosis|uria|"
                            r"ectasis|ectasia|lithiasis|omas?|plegia|paresis|rrhoea|rrhea|rrhage|plasia|pnea|opia|"
                            r"phasia|phagia|taxia|tonia|dynia)$")
#: ordinary words with those endings
_NOT_CLINICAL: Final = frozenset("diagnosis prognosis diagnoses prognoses diploma aroma purposes symposia".split())
#: a denial, a possibility or a plan to look for it, earlier in the clause or just after
_NOT_ASSERTED: Final = re.compile(
    r"\b(?:no|not|denie[sd]|deny|denying|without|negative|absence|absent|free of|neither|nor|never|rule[sd]? out|"
    r"r/o|possible|possibly|possibility|risks?|concern|concerned|evaluate|evaluation|assess|assessing|monitor|"
    r"watch|screen|screening|prevent|prevention|if|whether|likely|unlikely|may|might|could|suspect|suspected|"
    r"consider|considering|differential|versus|vs|family|mother|father|sister|brother|history of)\b")
_AFTER: Final = re.compile(r"^[^.;]{0,40}\b(?:ruled out|(?:is|was|were) negative|not present|absent|not seen|not noted|"
                           r"unlikely)\b")
_CLAUSE_START: Final = re.compile(r"[.;:!?]\s")
#: prefixes that say how, not what ("hyper-trophy")
_PREFIXES: Final = ("hyper", "hypo", "dys", "poly", "peri", "para", "pseudo", "micro", "macro", "intra", "sub", "anti")
_MIN_LEN: Final = 7
_ROOT: Final = 6


def _grounded(word: str, idx: TranscriptIndex) -> bool:
    if word in idx.tokens:
        return True
    m = _ENDING.search(word)
    root = word[:m.start()] if m else word
    bare = next((root[len(p):] for p in _PREFIXES if root.startswith(p)), root)
    if len(bare) < 3:
        root = word  # "hypertrophy": "hyper" says nothing of what is enlarged; only the word itself grounds it
    root = root[:_ROOT] if len(root) >= 4 else word[:_ROOT]
    memo = idx.memo.setdefault("unlisted-words", {})  # by word: the close spelling is the word's, not the root's
    hit = memo.get(word)
    if hit is None:
        hit = memo[word] = any(t.startswith(root) for t in idx.tokens) or bool(
            process.extractOne(word, idx.long_tokens(), scorer=fuzz.ratio, score_cutoff=80))
    return hit


def check_unlisted(u: Unit, idx: TranscriptIndex) -> list[Check]:
    """Asserted clinical words (by their ending) that no lexicon term covers and the dialogue never says."""
    toks = u.toks
    cands = [k for k, t in enumerate(toks) if len(t) >= _MIN_LEN and t.isalpha() and _ENDING.search(t)
             and t not in _NOT_CLINICAL]
    if not cands:
        return []
    covered = {k for s, e, _ in u.matches for k in range(s, e)}
    out: list[Check] = []
    offs = u.offsets()
    norm = u.norm
    for k in cands:
        w = toks[k]
        if k in covered or u.polarity(k) != AFF or _grounded(w, idx):
            continue
        start = max((m.end() for m in _CLAUSE_START.finditer(norm, 0, offs[k])), default=0)
        if _NOT_ASSERTED.search(norm, start, offs[k]) or _AFTER.search(norm[offs[k] + len(w):]):
            continue
        out.append(Check("condition", UNSUPPORTED, "fabrication", True, [],
                         f"'{w}' is never said in the visit, nor anything like it", rule="term.absent", concept=w))
    return out
