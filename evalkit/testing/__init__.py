"""Helpers for testing evalkit and code built on it (no network, no models)."""
