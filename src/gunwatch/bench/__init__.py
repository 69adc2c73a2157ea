"""Benchmarks that print tables, with a reference timed in the same run."""
