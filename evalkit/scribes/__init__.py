"""Scribe backends behind one protocol. See :mod:`evalkit.scribes.base`."""

from .base import NoteWriter, Pipeline, Scribe, ScribeInput, Transcriber, WriterScribe, available, get_scribe, register

__all__ = ["NoteWriter", "Pipeline", "Scribe", "ScribeInput", "Transcriber", "WriterScribe", "available",
           "get_scribe", "register"]
