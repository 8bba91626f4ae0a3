"""evalkit: clinician-in-the-loop evaluation for AI medical scribes.

The public API is re-exported here lazily, so ``import evalkit`` stays fast and
optional extras load only when used::

    from evalkit import Store, run_suite, load_suite, wer_details, judge_note, compare_runs
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from . import native as _native  # noqa: E402,F401 - before any compiled module can be imported: picks compiled or pure

_EXPORTS: dict[str, str] = {
    # store, suites, runs
    "Store": "evalkit.store", "load_suite": "evalkit.run.suite", "run_suite": "evalkit.run.runner",
    "get_scribe": "evalkit.scribes.base",
    # synthesis and data
    "load_cards": "evalkit.synth.cards", "generate": "evalkit.synth.generate",
    "generate_consultation": "evalkit.synth.generate", "synthesize": "evalkit.synth.tts",
    "read_wav": "evalkit.synth.tts", "spoken_form": "evalkit.synth.spoken",
    "load_aci_bench": "evalkit.importers.aci_bench", "load_primock57": "evalkit.importers.primock57",
    "load_hf": "evalkit.importers.hf", "export_run": "evalkit.run.export",
    # metrics and judges
    "NORMALIZATION": "evalkit.text.normalize",  # the function: from evalkit.text.normalize import normalize
    "wer_details": "evalkit.metrics.wer", "wer_scores": "evalkit.metrics.wer",
    "get_normalizer": "evalkit.text.normalizers", "speaker_wer": "evalkit.metrics.speaker_wer",
    "speaker_wer_scores": "evalkit.metrics.speaker_wer",
    # streaming
    "TranscriptEvent": "evalkit.streaming.protocol", "run_stream": "evalkit.streaming.protocol",
    "stream_figures": "evalkit.streaming.metrics", "stream_scores": "evalkit.streaming.metrics",
    "adherence": "evalkit.metrics.adherence", "adherence_scores": "evalkit.metrics.adherence",
    "judge_note": "evalkit.metrics.hallucination", "GroundingJudge": "evalkit.metrics.hallucination",
    "hallucination_scores": "evalkit.metrics.hallucination", "LLMJudge": "evalkit.llm.judge",
    "plant_error": "evalkit.calibrate.plant", "measure": "evalkit.calibrate.measure",
    # comparison and gate
    "compare_runs": "evalkit.compare.runs", "run_gate": "evalkit.compare.gate", "load_gate_config": "evalkit.compare.gate",
    "paired_bootstrap": "evalkit.compare.stats", "mcnemar": "evalkit.compare.stats",
    # review
    "Auth": "evalkit.review.auth", "review_queue": "evalkit.review.queue", "load_session": "evalkit.review.session_view",
    "cohen_kappa": "evalkit.review.agreement", "fleiss_kappa": "evalkit.review.agreement",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
