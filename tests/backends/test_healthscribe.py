"""AWS HealthScribe scribe, offline: botocore Stubber for Transcribe, moto for S3, fixture JSON
in the documented output shapes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")
from botocore.stub import ANY, Stubber  # noqa: E402

from evalkit.errors import InputError  # noqa: E402
from evalkit.schema import SpeakerRole  # noqa: E402
from evalkit.scribes import ScribeInput, get_scribe  # noqa: E402
from evalkit.scribes._json_output import ScribeError  # noqa: E402
from evalkit.scribes.healthscribe import HealthScribe, map_clinical_document, map_transcript, parse_s3_uri  # noqa: E402
from tests.conftest import make_consultation  # noqa: E402

FIX = Path(__file__).parent / "fixtures"
ROLE = "arn:aws:iam::123456789012:role/HealthScribeAccess"


@pytest.fixture
def aws(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="in-bucket")
        s3.create_bucket(Bucket="out-bucket")
        tc = boto3.client("transcribe", region_name="us-east-1")
        yield tc, s3


@pytest.fixture
def wav(tmp_path):
    p = tmp_path / "case.wav"
    sf.write(str(p), (0.1 * np.sin(np.arange(16000 * 3) / 10)).astype("float32"), 16000)  # 3 s
    return p


def _item(wav, template="HISTORY_AND_PHYSICAL"):
    return ScribeInput(consultation=make_consultation("hs1"), template=template, audio_path=wav)


def _job(name, status, **extra):
    return {"MedicalScribeJob": {"MedicalScribeJobName": name, "MedicalScribeJobStatus": status, **extra}}


def _outputs(s3, name, uri_style="s3"):
    tkey, ckey = f"{name}/transcript.json", f"{name}/summary.json"
    s3.put_object(Bucket="out-bucket", Key=tkey, Body=(FIX / "healthscribe_transcript.json").read_bytes())
    s3.put_object(Bucket="out-bucket", Key=ckey, Body=(FIX / "healthscribe_clinical.json").read_bytes())
    if uri_style == "s3":
        return {"TranscriptFileUri": f"s3://out-bucket/{tkey}", "ClinicalDocumentUri": f"s3://out-bucket/{ckey}"}
    return {"TranscriptFileUri": f"https://s3.us-east-1.amazonaws.com/out-bucket/{tkey}",
            "ClinicalDocumentUri": f"https://out-bucket.s3.us-east-1.amazonaws.com/{ckey}"}


def test_full_job_lifecycle_and_mapping(aws, wav):
    tc, s3 = aws
    sleeps: list[float] = []
    hs = HealthScribe(bucket="in-bucket", role_arn=ROLE, output_bucket="out-bucket", transcribe_client=tc,
                      s3_client=s3, sleep=sleeps.append, poll_initial_s=1, poll_max_s=3)
    name = hs.job_name(wav.read_bytes(), "HISTORY_AND_PHYSICAL")
    outputs = _outputs(s3, name, uri_style="https")
    with Stubber(tc) as st:
        st.add_client_error("get_medical_scribe_job", service_error_code="BadRequestException",
                            http_status_code=400, expected_params={"MedicalScribeJobName": name})
        st.add_response("start_medical_scribe_job", _job(name, "QUEUED"), expected_params={
            "MedicalScribeJobName": name,
            "Media": {"MediaFileUri": f"s3://in-bucket/evalkit/input/{name}.wav"},
            "OutputBucketName": "out-bucket", "DataAccessRoleArn": ROLE,
            "Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 2,
                         "ClinicalNoteGenerationSettings": {"NoteTemplate": "HISTORY_AND_PHYSICAL"}}})
        for status in ("QUEUED", "IN_PROGRESS", "IN_PROGRESS"):
            st.add_response("get_medical_scribe_job", _job(name, status), {"MedicalScribeJobName": name})
        st.add_response("get_medical_scribe_job", _job(name, "COMPLETED", MedicalScribeOutput=outputs),
                        {"MedicalScribeJobName": name})
        out = hs.run(_item(wav))
        st.assert_no_pending_responses()
    assert sleeps == [1, 2, 3, 3]  # exponential backoff, capped
    # the audio was uploaded under the content-hash key
    assert s3.get_object(Bucket="in-bucket", Key=f"evalkit/input/{name}.wav")["Body"].read() == wav.read_bytes()
    # transcript: empty segment dropped, roles and times mapped
    assert [(t.speaker, t.start) for t in out.transcript] == [
        (SpeakerRole.CLINICIAN, 0.16), (SpeakerRole.PATIENT, 2.2), (SpeakerRole.CLINICIAN, 5.2)]
    # note: sections keyed by the template, sentences split, evidence links → turn ids
    keys = [s.key for s in out.note.sections]
    assert keys == ["chief_complaint", "hpi", "assessment_plan", "assessment_plan_2"]
    hpi = out.note.sections[1]
    assert [s.text for s in hpi.sentences] == ["The patient reports a cough for two weeks.", "It is worse at night."]
    assert hpi.sentences[1].evidence == [0, 1]
    assert out.note.sections[3].sentences[0].evidence == [2]  # unknown segment id ignored
    # entities from ClinicalInsights
    med = next(e for e in out.entities if e["category"] == "MEDICATION")
    assert med["text"] == "beclometasone" and med["turns"] == [2] and med["attributes"][0]["type"] == "DOSAGE"
    assert out.cost_usd == pytest.approx(0.005) and out.metadata["job_reused"] is False
    assert out.backend == "healthscribe" and out.note.template == "HISTORY_AND_PHYSICAL"


def test_retry_reuses_the_existing_job(aws, wav):
    tc, s3 = aws
    hs = HealthScribe(bucket="in-bucket", role_arn=ROLE, output_bucket="out-bucket", transcribe_client=tc,
                      s3_client=s3, sleep=lambda s: None)
    name = hs.job_name(wav.read_bytes(), "HISTORY_AND_PHYSICAL")
    outputs = _outputs(s3, name)
    with Stubber(tc) as st:  # no start_medical_scribe_job expected: a call would fail the stubber
        st.add_response("get_medical_scribe_job", _job(name, "COMPLETED", MedicalScribeOutput=outputs),
                        {"MedicalScribeJobName": name})
        out = hs.run(_item(wav))
        st.assert_no_pending_responses()
    assert out.metadata["job_reused"] is True and out.note.sections


def test_failed_job_records_the_reason_digest_not_its_words(aws, wav):
    import hashlib

    tc, s3 = aws
    hs = HealthScribe(bucket="in-bucket", role_arn=ROLE, transcribe_client=tc, s3_client=s3, sleep=lambda s: None)
    name = hs.job_name(wav.read_bytes(), "HISTORY_AND_PHYSICAL")
    with Stubber(tc) as st:
        st.add_response("get_medical_scribe_job", _job(name, "IN_PROGRESS"), {"MedicalScribeJobName": name})
        st.add_response("get_medical_scribe_job", _job(name, "FAILED", FailureReason="The media file is too short."),
                        {"MedicalScribeJobName": name})
        with pytest.raises(ScribeError, match=r"FAILED \(FailureReason 28 bytes, sha256 ") as e:
            hs.run(_item(wav))
    # AWS's words may quote the case: only their size and digest, and how to read them
    assert "too short" not in str(e.value) and "get-medical-scribe-job" in str(e.value)
    assert hashlib.sha256(b"The media file is too short.").hexdigest()[:12] in str(e.value)


def test_channel_identification_settings_and_template_choice(aws, wav):
    tc, s3 = aws
    hs = HealthScribe(bucket="in-bucket", role_arn=ROLE, channel_identification=True, transcribe_client=tc,
                      s3_client=s3, sleep=lambda s: None)
    assert hs.template_for(_item(wav, "SOAP")) == "PHYSICAL_SOAP"
    assert hs.template_for(_item(wav, "DAP")) == "DAP"
    name = hs.job_name(wav.read_bytes(), "GIRPP")
    assert name != hs.job_name(wav.read_bytes(), "DAP")  # settings are part of the job identity
    req = hs.start_request(name, "k.wav", "GIRPP")
    assert req["Settings"] == {"ChannelIdentification": True,
                               "ClinicalNoteGenerationSettings": {"NoteTemplate": "GIRPP"}}
    assert req["ChannelDefinitions"][0] == {"ChannelId": 0, "ParticipantRole": "CLINICIAN"}
    with Stubber(tc) as st:  # the request is valid against the real service model
        st.add_client_error("get_medical_scribe_job", service_error_code="BadRequestException", http_status_code=400)
        st.add_response("start_medical_scribe_job", _job(name, "QUEUED"), {**req, "Media": ANY})
        st.add_response("get_medical_scribe_job", _job(name, "FAILED", FailureReason="x"))
        with pytest.raises(ScribeError):
            hs.run(_item(wav, "GIRPP"))


def test_garbage_output_and_bad_options(aws, wav):
    with pytest.raises(ScribeError, match="no Conversation.TranscriptSegments"):
        map_transcript({"nope": 1})
    with pytest.raises(ScribeError, match="no ClinicalDocumentation.Sections"):
        map_clinical_document({"ClinicalDocumentation": {}}, {}, "HISTORY_AND_PHYSICAL")
    with pytest.raises(InputError, match="role_arn: is required"):
        get_scribe("healthscribe", {"healthscribe": {"bucket": "b"}})
    with pytest.raises(InputError, match="unknown template"):
        get_scribe("healthscribe", {"healthscribe": {"bucket": "b", "role_arn": ROLE, "note_template": "SOAP"}})
    s = get_scribe("healthscribe", {"healthscribe": {"bucket": "b", "role_arn": ROLE}})
    assert s.needs_audio
    with pytest.raises(InputError, match="needs audio"):
        s.run(ScribeInput(consultation=make_consultation("x"), template="SOAP"))


def test_parse_s3_uri_styles():
    assert parse_s3_uri("s3://b/k/x.json") == ("b", "k/x.json")
    assert parse_s3_uri("https://s3.us-east-1.amazonaws.com/b/k/x.json") == ("b", "k/x.json")
    assert parse_s3_uri("https://b.s3.us-east-1.amazonaws.com/k/x.json") == ("b", "k/x.json")
    with pytest.raises(ScribeError):
        parse_s3_uri("https://example.com/x.json")


def test_fixture_shapes_match_documented_fields():
    t = json.loads((FIX / "healthscribe_transcript.json").read_text())
    seg = t["Conversation"]["TranscriptSegments"][0]
    assert {"BeginAudioTime", "EndAudioTime", "Content", "ParticipantDetails", "SegmentId"} <= set(seg)
    c = json.loads((FIX / "healthscribe_clinical.json").read_text())
    assert {"SectionName", "Summary"} <= set(c["ClinicalDocumentation"]["Sections"][0])
