"""Benchmarks: `python -m benchmarks [NAME ...]` prints their figures as JSON."""
