"""Benchmarks: `python -m bench [--only PREFIX]`; see ../shared/BENCH.md for the output."""
