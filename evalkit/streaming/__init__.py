"""Streaming scribes: audio in chunks, partial and final transcript events, and their figures.

- :mod:`.protocol` — :class:`TranscriptEvent`, the :class:`StreamingScribe` / :class:`StreamSession`
  protocol, the clocks and :func:`run_stream`;
- :mod:`.metrics` — time to first partial, final latency per utterance, revision rate, RTF;
- :mod:`.whisper_stream` — ``whisper-stream``, the offline reference (faster-whisper, sliding window);
- :mod:`.websocket` — ``websocket-stream``, any service that streams JSON events over a WebSocket;
- :mod:`.transcriber` — a streaming scribe as a transcriber in a suite (``whisper-stream+rules``);
- :mod:`.report` — per-run and per-session tables for the CLI, the app and the sweep.

See docs/streaming.md.
"""

from .metrics import StreamFigures, stream_figures, stream_scores
from .protocol import (RealClock, SimulatedClock, StreamingScribe, StreamResult, StreamSession, TranscriptEvent,
                       run_stream)

__all__ = ["RealClock", "SimulatedClock", "StreamFigures", "StreamResult", "StreamSession", "StreamingScribe",
           "TranscriptEvent", "run_stream", "stream_figures", "stream_scores"]
