"""Fixtures for the grounding judge tests: a few real ACI-Bench consultations."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def aci_valid():
    from evalkit.importers.aci_bench import load_aci_bench
    from tests.conftest import ACI

    return load_aci_bench(ACI / "valid.csv", ACI / "valid_metadata.csv")
