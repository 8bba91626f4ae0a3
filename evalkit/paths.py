"""Where shipped data lives: the data folders at the repository root (or installed copies)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Path:
    """Return the shipped data folder ``synthetic``, ``rubrics`` or ``datasets``.

    ``EVALKIT_DATA_ROOT`` overrides the root (for installs outside a checkout).
    """
    root = Path(os.environ.get("EVALKIT_DATA_ROOT", ROOT))
    return root / name


def rubrics_dir() -> Path:
    return data_dir("rubrics")


def synthetic_dir() -> Path:
    return data_dir("synthetic")


def datasets_dir() -> Path:
    return data_dir("datasets")
