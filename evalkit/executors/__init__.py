"""Executors beyond the runner's local thread pool. See :mod:`evalkit.executors.ray_executor`."""
