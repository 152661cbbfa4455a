"""Benchmarks: each prints a table of our figure beside a baseline measured in the same run."""
