"""Importers: one module per outside data format, each returning Consultations.

- :func:`load_aci_bench` — ACI-Bench CSVs (+ metadata CSV).
- :func:`load_primock57` — PriMock57 folders (TextGrid transcripts, JSON notes, WAV audio).
- :func:`load_hf` — any Hugging Face ``datasets`` source with a column mapping.
"""

from .aci_bench import find_metadata, load_aci_bench, load_aci_bench_sample, sample_path
from .hf import load_hf, parse_mapping
from .primock57 import load_primock57

__all__ = ["find_metadata", "load_aci_bench", "load_aci_bench_sample", "load_hf", "load_primock57",
           "parse_mapping", "sample_path"]
