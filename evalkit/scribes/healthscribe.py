"""``healthscribe``: AWS HealthScribe (Amazon Transcribe ``StartMedicalScribeJob``).

Needs the ``[aws]`` extra (boto3) and an AWS account; see docs/backends.md for the setup and a
least-privilege IAM policy. For each case the WAV is uploaded to S3, a job is started, polled
with backoff through QUEUED / IN_PROGRESS to COMPLETED or FAILED, and the two output files are
read back from S3 and mapped:

- ``Conversation.TranscriptSegments`` (``ParticipantRole`` CLINICIAN_n / PATIENT_n, times) → turns
- ``Conversation.ClinicalInsights`` → entities
- ``ClinicalDocumentation.Sections[].Summary[]`` (``EvidenceLinks[].SegmentId``) → note sentences
  with evidence links to the turns

The job name is a hash of the audio and the settings, so a retried or resumed run finds the job
it already started instead of starting (and paying for) a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from typing import Any, Callable

from ..security import safe_json
from ..errors import InputError
from ..security.limits import MAX_REPLY_BYTES, mb
from ..security.redact import sized
from ..schema import Note, NoteSection, NoteSentence, ScribeOutput, Turn
from ..text.parse import slug, speaker_role, split_sentences
from ._json_output import ScribeError
from .base import ScribeInput, register

NOTE_TEMPLATES = ("HISTORY_AND_PHYSICAL", "GIRPP", "BIRP", "SIRP", "DAP", "BEHAVIORAL_SOAP", "PHYSICAL_SOAP")
#: evalkit templates that have no HealthScribe twin → the closest HealthScribe template
TEMPLATE_ALIASES = {"SOAP": "PHYSICAL_SOAP", "BH_SOAP": "BEHAVIORAL_SOAP", "PH_SOAP": "PHYSICAL_SOAP"}
PRICE_PER_MINUTE_USD = 0.10  # list price at launch; override with price_per_minute


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) from ``s3://b/k``, ``https://s3.<region>.amazonaws.com/b/k`` or ``https://b.s3...../k``."""
    p = urllib.parse.urlsplit(uri)
    if p.scheme == "s3":
        return p.netloc, p.path.lstrip("/")
    host, path = p.netloc, urllib.parse.unquote(p.path.lstrip("/"))
    if host.startswith("s3.") or host.startswith("s3-") or host == "s3.amazonaws.com":
        bucket, _, key = path.partition("/")
        return bucket, key
    if ".s3." in host or ".s3-" in host:
        return host.split(".s3", 1)[0], path
    raise ScribeError(f"healthscribe: output location is not an S3 URI ({p.scheme}://{host}/...)")


def map_transcript(doc: dict) -> tuple[list[Turn], dict[str, int], list[dict]]:
    """Turns, segment id → turn id, and entities from a HealthScribe transcript file.

    Args:
        doc: the parsed transcript JSON (``{"Conversation": {...}}``).
    """
    conv = doc.get("Conversation") if isinstance(doc, dict) else None
    if not isinstance(conv, dict) or not isinstance(conv.get("TranscriptSegments"), list):
        raise ScribeError("healthscribe: transcript file has no Conversation.TranscriptSegments")
    turns: list[Turn] = []
    seg_to_turn: dict[str, int] = {}
    for seg in conv["TranscriptSegments"]:
        text = str(seg.get("Content") or "").strip()
        if not text:
            continue
        role = str((seg.get("ParticipantDetails") or {}).get("ParticipantRole") or "OTHER")
        tid = len(turns)
        if seg.get("SegmentId"):
            seg_to_turn[str(seg["SegmentId"])] = tid
        turns.append(Turn(id=tid, speaker=speaker_role(role), text=text,
                          start=seg.get("BeginAudioTime"), end=seg.get("EndAudioTime")))
    entities = []
    for ins in conv.get("ClinicalInsights") or []:
        spans = ins.get("Spans") or []
        entities.append({
            "id": ins.get("InsightId"), "category": ins.get("Category"), "type": ins.get("Type"),
            "text": " ".join(str(s.get("Content", "")) for s in spans).strip(),
            "turns": sorted({seg_to_turn[s["SegmentId"]] for s in spans if s.get("SegmentId") in seg_to_turn}),
            "attributes": [{"type": a.get("Type"), "text": " ".join(str(s.get("Content", "")) for s in a.get("Spans") or [])}
                           for a in ins.get("Attributes") or []],
        })
    return turns, seg_to_turn, entities


def map_clinical_document(doc: dict, seg_to_turn: dict[str, int], template: str) -> Note:
    """Note (sections of sentences with evidence turn ids) from a clinical documentation file.

    Args:
        doc: the parsed clinical document JSON (``{"ClinicalDocumentation": {"Sections": [...]}}``).
        seg_to_turn: segment id → turn id, from :func:`map_transcript`.
        template: the evalkit template used to map section names to keys.
    """
    from ..text.templates import load_template

    cd = doc.get("ClinicalDocumentation") if isinstance(doc, dict) else None
    if not isinstance(cd, dict) or not isinstance(cd.get("Sections"), list):
        raise ScribeError("healthscribe: clinical document has no ClinicalDocumentation.Sections")
    try:
        tpl = load_template(template)
    except InputError:
        tpl = None
    sections: list[NoteSection] = []
    used: dict[str, int] = {}
    for sec in cd["Sections"]:
        title = str(sec.get("SectionName") or "SECTION").replace("_", " ").strip().upper()
        ts = tpl.match_heading(title) if tpl else None
        key = ts.key if ts else slug(title)
        n = used.get(key, 0)
        used[key] = n + 1
        key = key if n == 0 else f"{key}_{n + 1}"
        sents: list[NoteSentence] = []
        for summ in sec.get("Summary") or []:
            ev = sorted({seg_to_turn[link["SegmentId"]] for link in summ.get("EvidenceLinks") or []
                         if link.get("SegmentId") in seg_to_turn})
            for s in split_sentences(str(summ.get("SummarizedSegment") or "")):
                sents.append(NoteSentence(id=f"{key}.{len(sents)}", text=s, evidence=ev))
        sections.append(NoteSection(key=key, title=title, sentences=sents))
    return Note(template=template, sections=sections)


def _audio_minutes(item: ScribeInput) -> float | None:
    if item.audio is not None and item.audio.duration:
        return item.audio.duration / 60.0
    try:
        import soundfile as sf

        return float(sf.info(str(item.audio_path)).duration) / 60.0
    except Exception:  # unreadable header: no estimate rather than a failed case
        return None


class HealthScribe:
    """AWS HealthScribe as an evalkit scribe.

    Args:
        bucket: S3 bucket for the uploaded audio (and the output, unless ``output_bucket``).
        role_arn: IAM role HealthScribe assumes to read the audio and write the output.
        region: AWS region (HealthScribe runs in us-east-1 and a few others).
        output_bucket: S3 bucket for job output (default ``bucket``).
        input_prefix: S3 key prefix for uploaded audio.
        note_template: HealthScribe template; default: the suite's template when HealthScribe has it.
        channel_identification: the WAV has clinician and patient on separate channels.
        channel_definitions: with channel identification, ``[{ChannelId, ParticipantRole}]``
            (default channel 0 clinician, 1 patient).
        max_speakers: with speaker labels (no channel identification), 2–30.
        language_code: only ``en-US`` is offered by the service today.
        poll_initial_s: first wait between status checks; doubles up to ``poll_max_s``.
        poll_max_s: longest wait between checks.
        timeout_s: give up waiting after this long (the job keeps running; a resumed run finds it).
        price_per_minute: USD per audio minute for the cost estimate.
        transcribe_client: a boto3 ``transcribe`` client (tests pass a stubbed one).
        s3_client: a boto3 ``s3`` client.
        sleep: the wait function (tests pass a no-op).
    """

    name = "healthscribe"
    version = "1"
    needs_audio = True

    def __init__(self, bucket: str, role_arn: str, region: str = "us-east-1", output_bucket: str | None = None,
                 input_prefix: str = "evalkit/input/", note_template: str | None = None,
                 channel_identification: bool = False, channel_definitions: list[dict] | None = None,
                 max_speakers: int = 2, language_code: str = "en-US", poll_initial_s: float = 5.0,
                 poll_max_s: float = 60.0, timeout_s: float = 3600.0,
                 price_per_minute: float = PRICE_PER_MINUTE_USD, transcribe_client: Any = None,
                 s3_client: Any = None, sleep: Callable[[float], None] = time.sleep):
        if note_template is not None and note_template not in NOTE_TEMPLATES:
            raise InputError("healthscribe", "note_template", f"unknown template {note_template!r}",
                             f"use one of: {', '.join(NOTE_TEMPLATES)}")
        if not 2 <= int(max_speakers) <= 30:
            raise InputError("healthscribe", "max_speakers", "must be between 2 and 30", "use 2 for one clinician "
                             "and one patient")
        self.bucket, self.role_arn, self.region = bucket, role_arn, region
        self.output_bucket = output_bucket or bucket
        self.input_prefix = input_prefix
        self.note_template = note_template
        self.channel_identification = bool(channel_identification)
        self.channel_definitions = channel_definitions or [{"ChannelId": 0, "ParticipantRole": "CLINICIAN"},
                                                           {"ChannelId": 1, "ParticipantRole": "PATIENT"}]
        self.max_speakers = int(max_speakers)
        self.language_code = language_code
        self.poll_initial_s, self.poll_max_s, self.timeout_s = poll_initial_s, poll_max_s, timeout_s
        self.price_per_minute = price_per_minute
        self._transcribe, self._s3, self._sleep = transcribe_client, s3_client, sleep

    # -------------------------------------------------------------- clients

    def _clients(self) -> tuple[Any, Any]:
        if self._transcribe is None or self._s3 is None:
            try:
                import boto3
            except ImportError:
                raise InputError("healthscribe", None, "boto3 is not installed",
                                 "pip install 'evalkit[aws]'") from None
            self._transcribe = self._transcribe or boto3.client("transcribe", region_name=self.region)
            self._s3 = self._s3 or boto3.client("s3", region_name=self.region)
        return self._transcribe, self._s3

    # -------------------------------------------------------------- request

    def template_for(self, item: ScribeInput) -> str:
        """The HealthScribe note template for a case."""
        if self.note_template:
            return self.note_template
        t = (item.template or "").upper()
        return t if t in NOTE_TEMPLATES else TEMPLATE_ALIASES.get(t, "HISTORY_AND_PHYSICAL")

    def settings(self, template: str) -> dict:
        s: dict[str, Any] = {"ClinicalNoteGenerationSettings": {"NoteTemplate": template}}
        if self.channel_identification:
            s["ChannelIdentification"] = True
        else:
            s.update(ShowSpeakerLabels=True, MaxSpeakerLabels=self.max_speakers)
        return s

    def job_name(self, audio: bytes, template: str) -> str:
        """Content-hash job name: same audio and settings → same job, never a duplicate."""
        h = hashlib.sha256(audio)
        h.update(json.dumps({"s": self.settings(template), "c": self.channel_definitions if
                             self.channel_identification else None, "l": self.language_code},
                            sort_keys=True).encode())
        return f"evalkit-{h.hexdigest()[:32]}"

    def start_request(self, name: str, key: str, template: str) -> dict:
        req: dict[str, Any] = {
            "MedicalScribeJobName": name,
            "Media": {"MediaFileUri": f"s3://{self.bucket}/{key}"},
            "OutputBucketName": self.output_bucket,
            "DataAccessRoleArn": self.role_arn,
            "Settings": self.settings(template),
        }
        if self.channel_identification:
            req["ChannelDefinitions"] = self.channel_definitions
        return req

    # -------------------------------------------------------------- job

    def _get_job(self, tc: Any, name: str) -> dict | None:
        try:
            return tc.get_medical_scribe_job(MedicalScribeJobName=name)["MedicalScribeJob"]
        except Exception as e:  # botocore ClientError: the job does not exist yet
            code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
            if code in ("BadRequestException", "NotFoundException", "ResourceNotFoundException"):
                return None
            raise

    def _wait(self, tc: Any, name: str, job: dict) -> dict:
        delay, deadline = self.poll_initial_s, time.monotonic() + self.timeout_s
        while job.get("MedicalScribeJobStatus") in ("QUEUED", "IN_PROGRESS"):
            if time.monotonic() > deadline:
                raise ScribeError(f"healthscribe: job {name} still {job['MedicalScribeJobStatus']} after "
                                  f"{self.timeout_s:g}s — fix: run again later (the job is reused) or raise timeout_s")
            self._sleep(delay)
            delay = min(delay * 2, self.poll_max_s)
            job = tc.get_medical_scribe_job(MedicalScribeJobName=name)["MedicalScribeJob"]
        status = job.get("MedicalScribeJobStatus")
        if status == "FAILED":
            reason = job.get("FailureReason")  # AWS's words about the job; not stored, in case they quote it
            raise ScribeError(f"healthscribe: job {name} FAILED ({sized('FailureReason', str(reason or ''))}) — fix: "
                              f"read the reason with `aws transcribe get-medical-scribe-job --medical-scribe-job-name "
                              f"{name}`; delete the job to retry it")
        if status != "COMPLETED":
            raise ScribeError(f"healthscribe: job {name} ended with unexpected status {status!r}")
        return job

    def _read_json(self, s3: Any, uri: str, what: str) -> dict:
        bucket, key = parse_s3_uri(uri)
        obj = s3.get_object(Bucket=bucket, Key=key)
        size = obj.get("ContentLength")
        body = obj["Body"].read(MAX_REPLY_BYTES + 1) if size is None or size <= MAX_REPLY_BYTES else b""
        if (size is not None and size > MAX_REPLY_BYTES) or len(body) > MAX_REPLY_BYTES:
            raise ScribeError(f"healthscribe: {what} at s3://{bucket}/{key} is larger than {mb(MAX_REPLY_BYTES)} "
                              "— fix: check the job's output; evalkit reads at most that much")
        try:
            doc, _ = safe_json.loads(body.decode("utf-8"), f"healthscribe: {what}")
        except (json.JSONDecodeError, UnicodeDecodeError, InputError):
            raise ScribeError(f"healthscribe: {what} at s3://{bucket}/{key} is not JSON evalkit can read") from None
        return doc

    def run(self, item: ScribeInput) -> ScribeOutput:
        t0 = time.perf_counter()
        if item.audio_path is None or not item.audio_path.exists():
            raise InputError(item.consultation.id, "audio", "HealthScribe needs audio and the case has none",
                             "generate audio first (evalkit generate --audio)")
        tc, s3 = self._clients()
        audio = item.audio_path.read_bytes()
        template = self.template_for(item)
        name = self.job_name(audio, template)
        job = self._get_job(tc, name)
        reused = job is not None
        if job is None:
            key = f"{self.input_prefix}{name}.wav"
            s3.put_object(Bucket=self.bucket, Key=key, Body=audio, ContentType="audio/wav")
            try:
                job = tc.start_medical_scribe_job(**self.start_request(name, key, template))["MedicalScribeJob"]
            except Exception as e:
                code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
                if code != "ConflictException":  # another worker started it first: use that one
                    raise
                job = tc.get_medical_scribe_job(MedicalScribeJobName=name)["MedicalScribeJob"]
        job = self._wait(tc, name, job)
        out = job.get("MedicalScribeOutput") or {}
        if not out.get("TranscriptFileUri") or not out.get("ClinicalDocumentUri"):
            raise ScribeError(f"healthscribe: job {name} COMPLETED without output URIs")
        turns, seg_to_turn, entities = map_transcript(self._read_json(s3, out["TranscriptFileUri"], "transcript"))
        note = map_clinical_document(self._read_json(s3, out["ClinicalDocumentUri"], "clinical document"),
                                     seg_to_turn, template)
        minutes = _audio_minutes(item)
        return ScribeOutput(consultation_id=item.consultation.id, transcript=turns, note=note, backend=self.name,
                            backend_version=f"{self.version}:{template}", latency_s=time.perf_counter() - t0,
                            cost_usd=round(minutes * self.price_per_minute, 4) if minutes is not None else None,
                            entities=entities,
                            metadata={"job_name": name, "job_reused": reused, "note_template": template})


@register("healthscribe")
def make_healthscribe(**options: Any) -> HealthScribe:
    """Factory for ``get_scribe("healthscribe", {"healthscribe": {"bucket": ..., "role_arn": ...}})``."""
    for req in ("bucket", "role_arn"):
        if not options.get(req):
            raise InputError("healthscribe", req, "is required",
                             "set scribe_options: {healthscribe: {bucket: ..., role_arn: ...}} (see docs/backends.md)")
    return HealthScribe(**options)
