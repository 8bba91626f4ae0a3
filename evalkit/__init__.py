"""evalkit: clinician-in-the-loop evaluation for AI medical scribes."""

__version__ = "0.1.0"
