"""Fixtures for the grounding judge tests: a few real ACI-Bench consultations."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def aci_valid():
    from evalkit.importers.aci_bench import load_aci_bench
    from tests.conftest import ACI

    return load_aci_bench(ACI / "valid.csv", ACI / "valid_metadata.csv")


@pytest.fixture(scope="session")
def cons():
    """Every vendored ACI-Bench consultation (train, valid, test1) by encounter id."""
    from evalkit.importers.aci_bench import load_aci_bench
    from tests.conftest import ACI

    out = {}
    for path, meta in ((ACI / "train.csv", ACI / "train_metadata.csv"), (ACI / "valid.csv", ACI / "valid_metadata.csv"),
                       (ACI / "test1" / "test1.csv", ACI / "test1" / "test1_metadata.csv")):
        out.update({c.case.id: c for c in load_aci_bench(path, meta)})
    return out
