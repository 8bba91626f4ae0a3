"""The term lists load, are well-formed and cover UK/US/AU names."""

import re

import pytest

from evalkit.text import vocab
from evalkit.errors import InputError


def test_lists_are_large_and_lower_case():
    assert len(vocab.drugs()) >= 300
    assert len(vocab.conditions()) >= 200
    assert len(vocab.anatomy()) >= 100
    for name in vocab.LISTS:
        for term in vocab.load_list(name):
            assert term == term.lower().strip(), (name, term)
            assert not re.search(r"\s{2,}", term), (name, term)


@pytest.mark.parametrize("term", ["paracetamol", "acetaminophen", "salbutamol", "albuterol", "ventolin",
                                  "panadol", "frusemide", "furosemide", "lisinopril", "metformin",
                                  "insulin glargine"])
def test_drug_names_across_regions(term):
    assert term in vocab.drugs()


def test_laterality_and_union():
    assert {"left", "right", "bilateral"} <= vocab.anatomy()
    assert "mg" in vocab.units() and "milligrams" in vocab.units()
    assert "atrial fibrillation" in vocab.conditions()
    assert vocab.medical_terms() == vocab.drugs() | vocab.conditions() | vocab.anatomy() | vocab.units()
    assert "table" not in vocab.medical_terms()


def test_term_category_and_unknown_list():
    assert vocab.term_category("Atrial  Fibrillation") == "conditions"
    assert vocab.term_category("ibuprofen") == "drugs"
    assert vocab.term_category("weather") is None
    with pytest.raises(InputError, match="unknown vocabulary list"):
        vocab.load_list("nope")


def test_comments_and_blank_lines_ignored(tmp_path):
    (tmp_path / "drugs.txt").write_text("# header\n\nAspirin  # brand too\n  Co-Codamol \n")
    assert vocab.load_list("drugs", tmp_path) == frozenset({"aspirin", "co-codamol"})


def test_missing_list_names_file(tmp_path):
    with pytest.raises(InputError, match="units.txt"):
        vocab.load_list("units", tmp_path)
