"""Fixtures for the grounding judge tests: a few real ACI-Bench consultations."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def aci_valid():
    from tests.conftest import ACI

    if not (ACI / "valid.csv").exists():
        pytest.skip("ACI-Bench data not found beside the repo (../shared/data/aci-bench)")
    from evalkit.importers.aci_bench import load_aci_bench

    return load_aci_bench(ACI / "valid.csv", ACI / "valid_metadata.csv")
