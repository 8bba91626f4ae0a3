"""The app's sweep page (apps/review_ui/sweep_page.py) through streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from evalkit.store import Store
from evalkit.sweep.run import SweepConfig, run_sweep

APPS = Path(__file__).resolve().parents[2] / "apps"

_SCRIPT = """
import sys
sys.path.insert(0, {apps!r})
from review_ui import common, sweep_page
from evalkit.store import Store
common.guard = lambda permission: None
common.store = lambda: Store({db!r})
sweep_page.render()
"""


def _page(db: Path) -> AppTest:
    return AppTest.from_string(_SCRIPT.format(apps=str(APPS), db=str(db)), default_timeout=120).run()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    from evalkit.synth.cards import default_cards_dir

    d = tmp_path_factory.mktemp("sweep-page")
    cards = d / "cards"
    cards.mkdir()
    src = default_cards_dir() / "gp-tonsillitis-uk-01.yaml"
    (cards / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    store = Store(d / "s.duckdb")
    cfg = SweepConfig(cards=str(cards), n=1, seed=1, scribe="reference", snrs=[20.0, 5.0], channels=["clean", "room"],
                      metrics=["wer", "adherence"])
    res = run_sweep(cfg, store, progress=False)
    return d / "s.duckdb", res


def test_sweep_page_shows_curves_break_points_and_conditions(swept):
    db, res = swept
    at = _page(db)
    assert not at.exception
    assert [t.value for t in at.title] == ["Robustness sweep"]
    assert len(at.get("plotly_chart")) == 1
    tables = at.dataframe
    conditions = next(t.value for t in tables if "condition" in t.value.columns)
    assert sorted(conditions["condition"]) == sorted(res.runs)
    assert set(conditions["run"]) == set(res.runs.values())
    breaks = next(t.value for t in tables if "breaks at" in t.value.columns)
    assert set(breaks["breaks at"]) == {"does not break"}  # the reference scribe hears every word


def test_sweep_page_without_sweeps_says_how_to_make_one(tmp_path):
    Store(tmp_path / "e.duckdb").list_runs()
    at = _page(tmp_path / "e.duckdb")
    assert not at.exception and any("evalkit sweep" in i.value for i in at.info)
