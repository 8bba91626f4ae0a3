"""Text handling: transcripts and notes parsed, normalised for WER, scanned for words, numbers spoken as digits, note templates and term lists."""

from .normalize import NORMALIZATION, NORMALIZE, normalize, normalize_words
from .normalizers import DEFAULT_NORMALIZER, NORMALIZERS, Normalizer, get_normalizer, run_normalizer
from .parse import has_speaker_tags, parse_note, parse_transcript, speaker_role, split_sentences, turns_text
from .spoken_numbers import number_words, words_to_digits
from .templates import Template, list_templates, load_template, normalize_heading
from .vocab import anatomy, conditions, drugs, medical_terms, term_category, units
from .wordscan import indices_of, positions

__all__ = [
    "DEFAULT_NORMALIZER", "NORMALIZATION", "NORMALIZE", "NORMALIZERS", "Normalizer", "Template", "anatomy",
    "conditions", "drugs", "get_normalizer", "has_speaker_tags", "indices_of", "list_templates", "load_template",
    "medical_terms", "normalize", "normalize_heading", "normalize_words", "number_words", "parse_note",
    "parse_transcript", "positions", "run_normalizer", "speaker_role", "split_sentences", "term_category",
    "turns_text", "units", "words_to_digits",
]
