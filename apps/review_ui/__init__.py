"""Pages and helpers of the evalkit review app (imported by apps/app.py)."""
