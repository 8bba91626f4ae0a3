"""Untrusted input and output: size limits, bounded JSON/YAML and audio readers, escaping, error text without patient text."""

from . import limits, safe_json, safe_yaml
from .audio_check import checked_info
from .escape import md_code, md_text, rich_text, xml_text
from .redact import digest, error_text, http_status, sized

__all__ = ["checked_info", "digest", "error_text", "http_status", "limits", "md_code", "md_text", "rich_text",
           "safe_json", "safe_yaml", "sized", "xml_text"]
