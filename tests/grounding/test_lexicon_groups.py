"""The grounding lexicon's synonym groups: a term in two groups reaches only the first, so the
second group's lay words stop grounding it ("heart disease" sat in the coronary-artery-disease
group, and "heart problems kinda run in the family" no longer grounded "family history of heart
disease")."""

from __future__ import annotations

from collections import defaultdict

from evalkit.grounding.lexicon import grounding_dir, lexicon

# lay words that really are ambiguous: the first group takes them, knowingly
AMBIGUOUS = {("procedure", "scope"), ("procedure", "shot")}


def test_no_term_is_in_two_synonym_groups():
    where: dict[tuple[str, str], list[int]] = defaultdict(list)
    for n, line in enumerate((grounding_dir() / "synonyms.txt").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cat, _, rest = line.partition(":")
        for term in rest.split("|"):
            if term.strip():
                where[(cat.strip(), term.strip())].append(n)
    twice = {k: v for k, v in where.items() if len(v) > 1 and k not in AMBIGUOUS}
    assert not twice, f"terms in two synonym groups (line numbers): {twice}"


def test_heart_disease_is_grounded_by_its_lay_words_not_by_coronary_disease():
    lx = lexicon()
    hd, lay, cad = lx.find("heart disease"), lx.find("heart problems"), lx.find("coronary artery disease")
    assert hd is not None and lay is not None and cad is not None
    assert hd.canonical == lay.canonical != cad.canonical
