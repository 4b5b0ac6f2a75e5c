"""Benchmarks of the crawler and the archive against their references (``python -m benchmarks.run``)."""
